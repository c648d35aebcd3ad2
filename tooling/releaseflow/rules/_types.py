"""SSM parameter types: whether a value (a default, or one passed to another document) fits a type."""

from __future__ import annotations

from typing import Any

from releaseflow.placeholders import PLACEHOLDER
from releaseflow.ssm import shape_of


def default_problem(kind: Any, value: Any) -> str | None:
    """Why a parameter's default is not of its declared type (a document's own JSON/YAML value), or None.

    String and StringList defaults are checked by the callers along with their constraints.
    """
    if isinstance(value, str) and PLACEHOLDER.fullmatch(value.strip()):
        return None  # {{ ssm:/path }}: resolved at run time
    if kind == "Integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return "is not an integer"
    if kind == "Boolean" and not isinstance(value, bool):
        return "is not a boolean (true or false, unquoted)"
    if kind == "StringMap" and not isinstance(value, dict):
        return "is not a map"
    if kind == "MapList" and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
        return "is not a list of maps"
    return None


def passed_problem(kind: Any, value: Any, types_of: dict[str, Any]) -> str | None:
    """Why a value passed to a parameter of type `kind` cannot fit it, or None.

    Values travel as the API's lists of strings (SendCommand, StartAutomationExecution), so a literal
    is judged leniently: "5" fits an Integer, ["main"] a String. `types_of` gives the declared type of
    what a `{{ Name }}` placeholder names (the caller's parameters, its steps' outputs).
    """
    expected = shape_of(kind)
    if expected is None:
        return None
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole:
            source = types_of.get(whole.group(1))
            shape = shape_of(source)
            if shape is not None and shape != expected:
                return f"{value.strip()} is a {source}, which does not fit a {kind}"
            return None
        if PLACEHOLDER.search(value):
            return None  # text with values inside: a string, whose content is known only at run time
    return _literal_problem(kind, expected, value)


def _literal_problem(kind: str, expected: str, value: Any) -> str | None:
    items = value if isinstance(value, list) else [value]
    if expected == "scalar":
        if isinstance(value, dict) or len(items) != 1 or isinstance(items[0], dict | list):
            return f"a {kind} takes one value, not {_shape_name(value)}"
        item = items[0]
        if kind == "Integer" and not _integer(item):
            return f"{item!r} is not an Integer"
        if kind == "Boolean" and not _boolean(item):
            return f"{item!r} is not a Boolean (true or false)"
        return None
    if expected == "list" and isinstance(value, dict):
        return f"a {kind} takes a list, not a map"
    if expected == "map" and isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return f"a {kind} takes a map, not a list"
    return None


def _shape_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a map"
    return f"a list of {len(value)}" if isinstance(value, list) else "that"


def _integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and (
        PLACEHOLDER.search(value) is not None or value.strip().lstrip("-").isdigit()
    )


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, str) and (
        PLACEHOLDER.search(value) is not None or value.lower() in ("true", "false")
    )


def placeholder_types(document) -> dict[str, Any]:
    """What a `{{ Name }}` in this runbook stands for: its parameters' declared types and its steps'
    declared output types (`Step.Output`)."""
    content = document.content if isinstance(document.content, dict) else {}
    declared = content.get("parameters")
    types = {
        str(name): definition.get("type")
        for name, definition in (declared.items() if isinstance(declared, dict) else ())
        if isinstance(definition, dict)
    }
    for _, step in document.steps():
        outputs = step.get("outputs")
        if not isinstance(step.get("name"), str) or not isinstance(outputs, list):
            continue
        for output in outputs:
            if isinstance(output, dict) and isinstance(output.get("Name"), str):
                types[f"{step['name']}.{output['Name']}"] = output.get("Type")
    return types
