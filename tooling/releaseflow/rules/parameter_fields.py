"""E012: parameter definitions are maps with known fields of the right types."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.goregexp import COMMAND, compile_for
from releaseflow.rules._common import describe, finding

CODE = "E012"
SUMMARY = "parameter definition not a map, unknown field, or field of the wrong type"
WHY = (
    "Parameter fields are type, default, description, allowedValues, allowedPattern, minChars, maxChars, "
    "minItems, maxItems, displayType (textfield|textarea) and, in Command documents, interpolationType "
    "(ENV_VAR); SSM rejects others. In a Command document the agent compiles allowedPattern with Go's "
    "regexp (RE2: no lookaround, no backreferences, no `\\Z`, repeats up to 1000) before every run and "
    "fails the run when it cannot (amazon-ssm-agent, allowedregexparamvalidator.go); the Automation "
    "service reads more (AWS's own runbooks use lookaround and {1,2048}), so a runbook's pattern is an "
    "error only when no engine reads it."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"

_COMMON_FIELDS = (
    "type",
    "default",
    "description",
    "allowedValues",
    "allowedPattern",
    "minChars",
    "maxChars",
    "minItems",
    "maxItems",
    "displayType",
)
FIELDS = {"Command": (*_COMMON_FIELDS, "interpolationType"), "Automation": _COMMON_FIELDS}

_CHOICES = {"displayType": ("textfield", "textarea"), "interpolationType": ("ENV_VAR",)}
_COUNTS = ("minChars", "maxChars", "minItems", "maxItems")


def check(document, context) -> Iterator:
    declared = document.content.get("parameters") if document.document_type else None
    if not isinstance(declared, dict):
        return
    allowed = FIELDS[document.document_type]
    for name, definition in declared.items():
        path = ("parameters", name)
        if not isinstance(definition, dict):
            yield finding(
                document,
                CODE,
                path,
                f"parameter {describe(name)} must be a map, found {type(definition).__name__}",
            )
            continue
        for field, value in definition.items():
            problem = _problem(field, value, allowed, document.document_type)
            if problem:
                yield finding(document, CODE, (*path, field), f"parameter {describe(name)}: {problem}")


def _problem(field, value, allowed, document_type: str) -> str | None:
    if field not in allowed:
        return f"unknown field {describe(field)}; allowed: {', '.join(allowed)}"
    if field in ("description", "allowedPattern") and not isinstance(value, str):
        return f"{field} must be a string, found {describe(value)}"
    if field == "allowedPattern" and compile_for(value, document_type) is None:
        if document_type == COMMAND:
            return (
                f"allowedPattern {describe(value)} is not a valid Go regular expression (RE2); "
                "the agent fails every run of this document"
            )
        return f"allowedPattern {describe(value)} is not a valid regular expression"
    if field == "allowedValues" and not (isinstance(value, list) and value):
        return f"allowedValues must be a non-empty list, found {describe(value)}"
    if field in _COUNTS and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        return f"{field} must be a whole number of at least 0, found {describe(value)}"
    if field in _CHOICES and value not in _CHOICES[field]:
        return f"{field} {describe(value)} is not one of {', '.join(_CHOICES[field])}"
    return None
