"""A request checked against botocore's service model, as AWS's front end checks it before the service
acts: required members, and every member's length, item count, value range, pattern and enumeration,
nested members too.

botocore's client checks only required members and minimums before sending; a caller that skips the
client (the AWS CLI with `--cli-input-json` of a hand-made request, a schedule's Input that Scheduler
sends, the engine's own API steps) reaches the service with anything. The endpoint answers the
operations it serves itself after this check, so a call the rehearsal accepts passes AWS's too. The
message has the shape AWS gives: "1 validation error detected: Value 'x' at 'commandId' failed to
satisfy constraint: Member must have length less than or equal to 36".
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session

from releaseflow.rehearsal.endpoint.awsjson import ApiError


@functools.cache
def _service(service: str):
    # One model per service and process: each new botocore session would parse its JSON again (the ssm
    # model takes about 0.1 s), once for every operation the endpoint checks.
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _operation(service: str, operation: str):
    return _service(service).operation_model(operation)


@functools.cache
def compiled(pattern: str) -> re.Pattern | None:
    """A model pattern as a Python regular expression, or None when Python cannot read it (the
    Unicode classes \\p{...} of Java's syntax): such a pattern is not checked (docs/conformance.md)."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def problems(service: str, operation: str, request: dict) -> list[str]:
    """What in `request` breaks the operation's input shape, one phrase each, AWS's wording."""
    shape = _operation(service, operation).input_shape
    found: list[str] = []
    if shape is not None:
        _walk(shape, request, "", found)
    return found


def check_request(service: str, operation: str, request: dict) -> None:
    """Raise ValidationException, as AWS does, when `request` breaks its operation's model."""
    found = problems(service, operation, request)
    if found:
        count = len(found)
        raise ApiError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(found),
        )


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _walk(shape, value: Any, path: str, found: list[str]) -> None:
    metadata = shape.metadata
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                where = f"{path}.{_camel(name)}" if path else _camel(name)
                found.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _walk(member, value[name], f"{path}.{_camel(name)}" if path else _camel(name), found)
        return
    if shape.type_name == "list" and isinstance(value, list):
        _bounds(len(value), metadata, value, path, "length", found)
        for index, item in enumerate(value, 1):
            _walk(shape.member, item, f"{path}.{index}.member", found)
        return
    if shape.type_name == "map" and isinstance(value, dict):
        _bounds(len(value), metadata, value, path, "length", found)
        for key, item in value.items():
            _walk(shape.key, key, f"{path}.{key}.key", found)
            _walk(shape.value, item, f"{path}.{key}.value", found)
        return
    if shape.type_name == "string" and isinstance(value, str):
        _bounds(len(value), metadata, value, path, "length", found)
        pattern = metadata.get("pattern")
        matcher = compiled(pattern) if pattern else None
        if matcher is not None and not matcher.search(value):
            found.append(_failed(value, path, f"Member must satisfy regular expression pattern: {pattern}"))
        if metadata.get("enum") and value not in metadata["enum"]:
            choices = ", ".join(metadata["enum"])
            found.append(_failed(value, path, f"Member must satisfy enum value set: [{choices}]"))
        return
    if shape.type_name in ("integer", "long") and isinstance(value, int):
        _bounds(value, metadata, value, path, "value", found)


def _bounds(measure: int, metadata: dict, value: Any, path: str, what: str, found: list[str]) -> None:
    if "min" in metadata and measure < metadata["min"]:
        constraint = f"Member must have {what} greater than or equal to {metadata['min']}"
        found.append(_failed(value, path, constraint))
    if "max" in metadata and measure > metadata["max"]:
        constraint = f"Member must have {what} less than or equal to {metadata['max']}"
        found.append(_failed(value, path, constraint))


def _failed(value: Any, path: str, constraint: str) -> str:
    shown = value if isinstance(value, str | int) else "[...]" if isinstance(value, list) else "{...}"
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"
