"""E013: a parameter's default satisfies its own type, allowedValues, allowedPattern and size limits."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.goregexp import compile_for
from releaseflow.placeholders import PLACEHOLDER
from releaseflow.rules._common import describe, finding
from releaseflow.rules._parameters import matches, parameters
from releaseflow.rules._types import default_problem

CODE = "E013"
SUMMARY = "default value the parameter's own constraints reject"
WHY = (
    "SSM checks a default like any value: it must be of the parameter's type (an Integer default is a "
    "number, a Boolean one true or false unquoted, a StringMap a map, a MapList a list of maps), be in "
    "allowedValues, match allowedPattern (unanchored, Go regexp.MatchString) and respect "
    "minChars/maxChars/minItems/maxItems, or every run that relies on it fails."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"


def check(document, context) -> Iterator:
    if document.document_type is None:
        return
    for name, definition, path in parameters(document):
        if "default" not in definition:
            continue
        default = definition["default"]
        for problem in _problems(definition, default, document.document_type):
            yield finding(
                document, CODE, (*path, "default"), f"parameter {describe(name)}: default {problem}"
            )


def _problems(definition: dict, default, document_type: str) -> Iterator[str]:
    kind = definition.get("type")
    if kind == "String" and not isinstance(default, str):
        yield f"{describe(default)} is not a string"
        return
    # A Parameter Store reference ({{ ssm:/path }}) stands for a whole StringList.
    whole_reference = isinstance(default, str) and PLACEHOLDER.fullmatch(default.strip()) is not None
    if kind == "StringList" and whole_reference:
        return
    if kind == "StringList" and not (isinstance(default, list) and all(isinstance(v, str) for v in default)):
        yield f"{describe(default)} is not a list of strings"
        return
    problem = default_problem(kind, default)
    if problem:
        yield f"{describe(default)} {problem}"
        return
    if kind == "String":
        yield from _length_problems(definition, default, "minChars", "maxChars", "characters")
    if kind == "StringList":
        yield from _length_problems(definition, default, "minItems", "maxItems", "items")
    values = default if isinstance(default, list) else [default]
    # A Parameter Store reference is only resolved at run time.
    checked = [v for v in values if isinstance(v, str) and not PLACEHOLDER.search(v)]
    allowed = definition.get("allowedValues")
    if isinstance(allowed, list):
        for value in checked:
            if value not in allowed:
                yield f"{describe(value)} is not in allowedValues {describe(allowed)}"
    source = definition.get("allowedPattern")
    pattern = compile_for(source, document_type) if isinstance(source, str) else None
    if pattern is not None:
        for value in checked:
            if not matches(pattern, value):
                yield f"{describe(value)} does not match allowedPattern {describe(source)}"


def _length_problems(definition: dict, default, low: str, high: str, unit: str) -> Iterator[str]:
    size = len(default)
    minimum, maximum = definition.get(low), definition.get(high)
    if isinstance(minimum, int) and not isinstance(minimum, bool) and size < minimum:
        yield f"{describe(default)} has {size} {unit}, fewer than {low} {minimum}"
    if isinstance(maximum, int) and not isinstance(maximum, bool) and size > maximum:
        yield f"{describe(default)} has {size} {unit}, more than {high} {maximum}"
