"""Typed values in a runbook: selector results converted to output types, and rendered as strings."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from releaseflow.rehearsal.engine.errors import StepFailed


def to_output_type(value: Any, type_name: str, name: str) -> Any:
    """Convert a selected value to an output's declared Type; StepFailed names the output when it cannot."""
    try:
        return _CONVERT[type_name](value)
    except KeyError as error:
        raise StepFailed(f"Output {name} has unknown Type {type_name!r}") from error
    except (TypeError, ValueError) as error:
        raise StepFailed(f"Output {name}: {_render(value)} is not a valid {type_name}") from error


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        raise TypeError(value)
    return json.dumps(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise TypeError(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(value)


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise TypeError(value)
    return [_string(item) for item in value]


def _string_map(value: Any) -> dict:
    if not isinstance(value, dict):
        raise TypeError(value)
    return value


def _map_list(value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError(value)
    return value


_CONVERT = {
    "String": _string,
    "Integer": _integer,
    "Boolean": _boolean,
    "StringList": _string_list,
    "StringMap": _string_map,
    "MapList": _map_list,
}


def as_strings(value: Any) -> list[str]:
    """A value as the list of strings the API reports in Outputs and Parameters."""
    if isinstance(value, list):
        return [_render(item) for item in value]
    return [_render(value)]


def as_json(value: Any) -> str:
    """A value as a JSON string, the way StepExecution.Inputs shows resolved inputs."""
    return json.dumps(value, default=_render)


def as_json_value(value: Any) -> str:
    """json.dumps' `default` for what AWS responses hold beyond JSON: timestamps become ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, default=_render)
