"""StartAutomationExecution-time checks of a runbook's parameters, returning typed values."""

from __future__ import annotations

import json
import re
from typing import Any

from releaseflow.goregexp import AUTOMATION, match_string
from releaseflow.rehearsal.engine.errors import InvalidParameters
from releaseflow.ssm import PARAMETER_VALUE_CHARS, shape_of


def validate_parameters(content: dict, parameters: dict[str, list[str]]) -> dict[str, Any]:
    """Check start parameters against the runbook's declarations; typed values with defaults applied."""
    declared = content.get("parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InvalidParameters(f"Parameter {unknown[0]} is not defined in the runbook")
    typed: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        type_name = spec.get("type", "String")
        if name in parameters:
            typed[name] = _typed(name, type_name, parameters[name])
            _check(name, spec, typed[name])
        elif "default" in spec:
            typed[name] = _default(name, type_name, spec["default"])
        else:
            raise InvalidParameters(f"Parameter {name} is required and has no default value")
    return typed


def _is_list_type(type_name: str) -> bool:
    return shape_of(type_name) == "list"


def _typed(name: str, type_name: str, values: Any) -> Any:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise InvalidParameters(f"Parameter {name} must be given as a list of strings")
    for value in values:
        shortest, longest = PARAMETER_VALUE_CHARS
        if not shortest <= len(value) <= longest:
            raise InvalidParameters(
                f"Parameter {name}: each value must be {shortest} to {longest} characters long"
            )
    if type_name == "MapList":
        return [_json(name, value, dict, "MapList") for value in values]
    if _is_list_type(type_name):
        return list(values)
    if len(values) != 1:
        raise InvalidParameters(f"Parameter {name} of type {type_name} takes exactly one value")
    return _scalar(name, type_name, values[0])


def _default(name: str, type_name: str, default: Any) -> Any:
    """Defaults come from YAML already typed; only strings standing for other types are converted."""
    if _is_list_type(type_name) or not isinstance(default, str) or type_name == "String":
        return default
    return _scalar(name, type_name, default)


def _scalar(name: str, type_name: str, value: str) -> Any:
    if type_name == "Integer":
        if not re.fullmatch(r"-?\d+", value.strip()):
            raise InvalidParameters(f"Parameter {name} must be an Integer, got {value!r}")
        return int(value)
    if type_name == "Boolean":
        if value.lower() not in ("true", "false"):
            raise InvalidParameters(f"Parameter {name} must be a Boolean (true or false), got {value!r}")
        return value.lower() == "true"
    if type_name == "StringMap":
        return _json(name, value, dict, "StringMap")
    # String and the AWS resource types (AWS::EC2::Instance::Id ...) travel as strings.
    return value


def _json(name: str, value: str, expected: type, type_name: str) -> Any:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise InvalidParameters(f"Parameter {name} must be a {type_name} written as JSON") from error
    if not isinstance(parsed, expected):
        raise InvalidParameters(f"Parameter {name} must be a {type_name} written as JSON")
    return parsed


def _check(name: str, spec: dict, value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    if "minItems" in spec and len(items) < int(spec["minItems"]):
        raise InvalidParameters(f"Parameter {name} needs at least {spec['minItems']} items")
    if "maxItems" in spec and len(items) > int(spec["maxItems"]):
        raise InvalidParameters(f"Parameter {name} takes at most {spec['maxItems']} items")
    for item in items:
        if not isinstance(item, str):
            continue
        allowed = spec.get("allowedValues")
        if allowed is not None and item not in [str(choice) for choice in allowed]:
            raise InvalidParameters(
                f"Parameter {name} value {item!r} is not one of the allowed values {allowed}"
            )
        pattern = spec.get("allowedPattern")
        # Go's regexp.MatchString is unanchored: SSM accepts a match anywhere.
        if pattern is not None and not match_string(pattern, item, AUTOMATION):
            raise InvalidParameters(
                f"Parameter {name} value {item!r} does not match the allowed pattern {pattern}"
            )
        if "minChars" in spec and len(item) < int(spec["minChars"]):
            raise InvalidParameters(f"Parameter {name} value must be at least {spec['minChars']} characters")
        if "maxChars" in spec and len(item) > int(spec["maxChars"]):
            raise InvalidParameters(f"Parameter {name} value must be at most {spec['maxChars']} characters")
