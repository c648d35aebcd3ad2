"""aws:executeAwsApi and the property actions: service, Api, inputs and selectors as boto3 knows them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from releaseflow.documents import Document, JsonPath
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label, steps_of
from releaseflow.rules._aws_models import (
    api_names,
    closest,
    members,
    operation_model,
    service_model,
    service_names,
)
from releaseflow.rules._common import describe, finding

CODE = "E213"
SUMMARY = "aws:executeAwsApi / waitFor / assert call a real API with inputs and selectors it has"
WHY = (
    "The user guide (automation-action-executeAwsApi): Service is the boto3 client namespace (ssm, "
    "ec2), Api the operation or method name, the other inputs the operation's parameters, and outputs "
    "select from the response with JSONPath; the action runs boto3, which refuses an unknown or "
    "mistyped parameter. Checked against botocore's service models, the ones boto3 ships: a misspelt "
    "Api, a parameter boto3 would refuse or a selector whose first member the response never has "
    "fails only when the step runs."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html"

ACTIONS = ("aws:executeAwsApi", "aws:waitForAwsResourceProperty", "aws:assertAwsResourceProperty")
# Inputs the action itself reads; every other input goes to the API call.
ACTION_INPUTS = frozenset({"Service", "Api", "PropertySelector", "DesiredValues"})
# Every boto3 response has it, whatever the operation's output shape says.
RESPONSE_METADATA = "ResponseMetadata"
# `$.Name...` or `$['Name']...`: the first member a selector reads from the response.
_FIRST_MEMBER = re.compile(r"^\$(?:\.([A-Za-z0-9_]+)|\[['\"]([^'\"]+)['\"]\])")

# botocore shape types -> the Python types boto3's parameter validation accepts for them.
_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (str, int, float),
    "blob": (str, bytes),
}


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, *ACTIONS):
        label = step_label(step, path)
        for key, message in _problems(step, inputs):
            yield finding(document, CODE, (*path, *key), f"step {label}: {message}")


def _problems(step: dict, inputs: dict) -> Iterator[tuple[JsonPath, str]]:
    service_name, api = inputs.get("Service"), inputs.get("Api")
    if not isinstance(service_name, str) or has_placeholder(service_name):
        return  # E205 reports a missing Service; a {{ }} one is known only at run time
    service = service_model(service_name)
    if service is None:
        hint = closest(service_name, service_names())
        yield ("inputs", "Service"), f"Service {service_name!r} is no boto3 service{hint}"
        return
    if not isinstance(api, str) or has_placeholder(api):
        return
    operation = operation_model(service, api)
    if operation is None:
        hint = closest(api, api_names(service))
        yield ("inputs", "Api"), f"Api {api!r} is no operation of {service.service_name}{hint}"
        return
    where = f"{service.service_name}.{operation.name}"
    parameters = {name: value for name, value in inputs.items() if name not in ACTION_INPUTS}
    yield from _value_problems(parameters, operation.input_shape, ("inputs",), where, top=True)
    response = {*members(operation.output_shape), RESPONSE_METADATA}
    selectors: list[tuple[JsonPath, Any]] = [(("inputs", "PropertySelector"), inputs.get("PropertySelector"))]
    outputs = step.get("outputs") if step.get("action") == "aws:executeAwsApi" else None
    for index, output in enumerate(outputs if isinstance(outputs, list) else []):
        if isinstance(output, dict):
            selectors.append((("outputs", index, "Selector"), output.get("Selector")))
    for key, selector in selectors:
        first = _first_member(selector)
        if first is not None and first not in response:
            hint = closest(first, response)
            yield key, f"{key[-1]} {selector!r}: the {where} response has no {first!r}{hint}"


def _first_member(selector) -> str | None:
    match = _FIRST_MEMBER.match(selector) if isinstance(selector, str) else None
    return (match[1] or match[2]) if match else None


def _value_problems(
    value, shape, key: JsonPath, where: str, top: bool = False
) -> Iterator[tuple[JsonPath, str]]:
    """What boto3's parameter validation would refuse in `value` for `shape`; `{{ }}` values pass."""
    if shape is None:
        if top and value:
            yield key, f"{where} takes no parameters (found {', '.join(map(str, value))})"
        return
    if has_placeholder(value):
        return  # substituted at run time, possibly with a list or a map
    name = "the inputs" if top else f"input {_dotted(key)}"
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            yield key, f"{name} must be a map ({where}), not {describe(value)}"
            return
        known = shape.members
        for member, member_value in value.items():
            if member not in known:
                hint = closest(str(member), known)
                yield (*key, member), f"{where} has no parameter {member!r}{_inside(key, top)}{hint}"
            else:
                yield from _value_problems(member_value, known[member], (*key, member), where)
        for member in shape.required_members:
            if member not in value:
                yield key, f"{where} needs parameter {member!r}{_inside(key, top)}"
    elif kind == "list":
        if not isinstance(value, list):
            yield key, f"{name} must be a list ({where}), not {describe(value)}"
            return
        for index, item in enumerate(value):
            yield from _value_problems(item, shape.member, (*key, index), where)
    elif kind == "map":
        if not isinstance(value, dict):
            yield key, f"{name} must be a map ({where}), not {describe(value)}"
            return
        for item_key, item in value.items():
            yield from _value_problems(item, shape.value, (*key, item_key), where)
    elif kind in _SCALARS:
        accepted = _SCALARS[kind]
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            yield key, f"{name} must be {kind} ({where}), not {describe(value)}"


def _inside(key: JsonPath, top: bool) -> str:
    return "" if top else f" in {_dotted(key)}"


def _dotted(key: JsonPath) -> str:
    """An input's path as boto3's messages write it: Targets[0].Port."""
    text = ""
    for part in key[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text
