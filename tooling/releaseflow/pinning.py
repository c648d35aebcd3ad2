"""Rewriting a runbook for publishing: prefixed names, runCommand steps pinned by hash, env defaults."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from ruamel.yaml import YAML

# Actions whose DocumentName names another document of this project.
_REFERENCING_ACTIONS = ("aws:runCommand", "aws:executeAutomation")


def rewrite_runbook(
    text: str,
    fmt: str,
    *,
    names: Mapping[str, str],
    hashes: Mapping[str, str],
    defaults: Mapping[str, list[str]] | None = None,
) -> str:
    """The runbook text as it is published.

    `names` maps each source document name to its published name (the prefix applied); `hashes`
    maps published Command document names to the Sha256 hash of the version published with this
    runbook. aws:runCommand documents DocumentHash and DocumentHashType among its inputs (and not
    DocumentVersion), so that is the pin. References to documents outside the project are left as
    written. `defaults` (an environment's parameters) become the `default` of each parameter the
    runbook declares. YAML keeps its comments and layout.
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
    for step in _steps(content.get("mainSteps") if isinstance(content, dict) else None):
        inputs = step.get("inputs")
        if step.get("action") not in _REFERENCING_ACTIONS or not isinstance(inputs, dict):
            continue
        source = inputs.get("DocumentName")
        if not isinstance(source, str) or source not in names:
            continue
        published = names[source]
        inputs["DocumentName"] = published
        if step.get("action") == "aws:runCommand" and published in hashes:
            inputs["DocumentHash"] = hashes[published]
            inputs["DocumentHashType"] = "Sha256"


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
