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
from releaseflow.rehearsal.endpoint.unicode_classes import translate


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
    """A model pattern as a Python regular expression, Java's Unicode classes (\\p{L}...) written out,
    or None when Python still cannot read it: such a pattern is not checked (docs/conformance.md)."""
    readable = translate(pattern) if "\\p{" in pattern else pattern
    if readable is None:
        return None
    try:
        return re.compile(readable)
    except re.error:
        return None


def problems(service: str, operation: str, request: dict) -> list[str]:
    """What in `request` breaks the operation's input shape, one phrase each, AWS's wording."""
    shape = _operation(service, operation).input_shape
    found: list[str] = []
    if shape is not None:
        _walk(shape, request, "", found)
    return found


def query_request(service: str, operation: str, form: dict[str, str]) -> dict:
    """A query-protocol form (ELBv2's `Targets.member.1.Port=80`) as the request structure the model
    describes (`{"Targets": [{"Port": 80}]}`), so that it can be checked as a JSON request is."""
    shape = _operation(service, operation).input_shape
    return (_from_form(shape, form, "") or {}) if shape is not None else {}


def _from_form(shape, form: dict[str, str], prefix: str) -> Any:
    if shape.type_name == "structure":
        found = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = _from_form(member, form, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                found[name] = value
        return found if found or not prefix else None
    if shape.type_name == "list":
        if form.get(prefix) == "":  # botocore's form of an empty list
            return []
        items, index = [], 1
        while any(_within(key, f"{prefix}.member.{index}") for key in form):
            items.append(_from_form(shape.member, form, f"{prefix}.member.{index}"))
            index += 1
        return items or None
    if prefix not in form:
        return None
    value = form[prefix]
    if shape.type_name in ("integer", "long"):
        return int(value) if value.lstrip("-").isdigit() else value
    if shape.type_name == "boolean":
        return value == "true"
    return value


def _within(key: str, prefix: str) -> bool:
    """`key` is `prefix` or one of its members (`Targets.member.1.Id`), not `Targets.member.10`."""
    return key == prefix or key.startswith(f"{prefix}.")


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
