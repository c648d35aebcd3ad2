"""Rewriting a runbook for publishing: prefixed names, runCommand steps pinned by hash, env defaults."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from itertools import takewhile
from typing import Any

from ruamel.yaml import YAML

# The characters of an SSM document name. A name met inside a longer run of them is part of another
# name (staging-releaseflow-Deploy is not releaseflow-Deploy); a final "." ends a sentence, not a name.
_NAME_CHAR = "A-Za-z0-9_.-"
_BEFORE = rf"(?<![{_NAME_CHAR}])"
_AFTER = r"(?!\.*[A-Za-z0-9_-])"


def rewrite_runbook(
    text: str,
    fmt: str,
    *,
    names: Mapping[str, str],
    hashes: Mapping[str, str],
    defaults: Mapping[str, list[str]] | None = None,
) -> str:
    """The runbook text as it is published.

    `names` maps each source document name to its published name (the prefix applied). Every string
    of the runbook that names one of them is rewritten to the published name, wherever it is: a
    DocumentName of any action (aws:executeAwsApi's StartAutomationExecution included), a name inside
    a script, a message. `hashes` maps published Command document names to the Sha256 hash of the
    version published with this runbook. aws:runCommand documents DocumentHash and DocumentHashType
    among its inputs (and not DocumentVersion), so that is the pin. References to documents outside
    the project are left as written. `defaults` (an environment's parameters) become the `default`
    of each parameter the runbook declares. YAML keeps its comments and layout.
    """
    if fmt == "JSON":
        content = json.loads(text)
        _rewrite(content, names, hashes)
        _set_defaults(content, defaults or {})
        return json.dumps(content, indent=2) + "\n"
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines: the published text should read like the source
    yaml.indent(mapping=2, sequence=4, offset=2)
    content = yaml.load(text)
    _rewrite(content, names, hashes)
    _set_defaults(content, defaults or {})
    out = io.StringIO()
    yaml.dump(content, out)
    return out.getvalue()


def _rewrite(content: Any, names: Mapping[str, str], hashes: Mapping[str, str]) -> None:
    _rename_strings(content, renamer(names))
    for step in _steps(content.get("mainSteps") if isinstance(content, dict) else None):
        inputs = step.get("inputs")
        if step.get("action") != "aws:runCommand" or not isinstance(inputs, dict):
            continue
        published = inputs.get("DocumentName")
        if isinstance(published, str) and published in hashes:
            inputs["DocumentHash"] = hashes[published]
            inputs["DocumentHashType"] = "Sha256"


def renamer(names: Mapping[str, str]) -> Callable[[str], str]:
    """A function giving a text with every whole source name in it replaced by its published name.

    Besides the names themselves, the stem they all share (`releaseflow-`), standing alone, names the
    whole set: the runbooks' locks list executions by DocumentNamePrefix and look for running commands
    by that stem. Left as written, a prefixed environment's lock would not see its own executions.
    """
    renamed = {source: published for source, published in names.items() if source != published}
    renamed.update(_stem(renamed))
    if not renamed:
        return lambda text: text
    # Longest first, so that releaseflow-RollbackFleet is never read as releaseflow-Rollback.
    alternatives = "|".join(re.escape(name) for name in sorted(renamed, key=len, reverse=True))
    pattern = re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}")
    return lambda text: pattern.sub(lambda match: renamed[match.group()], text)


def _stem(renamed: Mapping[str, str]) -> dict[str, str]:
    """{stem: published stem} when every name gets the same prefix and the names share a start up to a
    separator (`releaseflow-`); {} otherwise."""
    prefixes = {published.removesuffix(source) for source, published in renamed.items()}
    if len(prefixes) != 1 or not all(p.endswith(s) for s, p in renamed.items()):
        return {}
    # strict=False: the names differ in length, and their shared start is as long as the shortest at most.
    common = "".join(
        chars[0] for chars in takewhile(lambda chars: len(set(chars)) == 1, zip(*renamed, strict=False))
    )
    cut = max(common.rfind(separator) for separator in "-_.")
    return {common[: cut + 1]: prefixes.pop() + common[: cut + 1]} if cut >= 0 else {}


def _rename_strings(node: Any, rename: Callable[[str], str]) -> Any:
    """`node` with `rename` applied to every string value in it, changed in place where it can be."""
    if isinstance(node, dict):
        for key, value in node.items():
            if (renamed := _rename_strings(value, rename)) is not value:
                node[key] = renamed
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if (renamed := _rename_strings(value, rename)) is not value:
                node[index] = renamed
    elif isinstance(node, str):
        text = rename(node)
        if text != node:
            # ruamel's str subclasses carry the scalar's style: a script stays a literal block.
            return text if type(node) is str else type(node)(text)
    return node


def _set_defaults(content: Any, defaults: Mapping[str, list[str]]) -> None:
    """Each declared parameter's default from `defaults`, in the parameter's own type."""
    parameters = content.get("parameters") if isinstance(content, dict) else None
    if not isinstance(parameters, dict):
        return
    for name, values in defaults.items():
        spec = parameters.get(name)
        if isinstance(spec, dict) and any(values):
            spec["default"] = typed_default(spec.get("type", "String"), values)


def typed_default(kind: str, values: list[str]) -> Any:
    """SSM's list-of-strings parameter value as the `default` of a parameter of type `kind`."""
    if kind == "StringList":
        return list(values)
    if kind == "Integer":
        return int(values[0])
    if kind == "Boolean":
        return values[0] == "true"
    return values[0]


def _steps(steps: Any) -> Iterator[dict]:
    """Every step, the nested steps of aws:loop included."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        yield step
        inputs = step.get("inputs")
        if step.get("action") == "aws:loop" and isinstance(inputs, dict):
            yield from _steps(inputs.get("Steps"))
