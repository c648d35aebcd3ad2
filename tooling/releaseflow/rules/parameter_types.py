"""E010: every parameter has a type the document type supports."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._common import describe, finding
from releaseflow.rules._parameters import parameters
from releaseflow.ssm import AUTOMATION_PARAMETER_TYPES as AUTOMATION_TYPES
from releaseflow.ssm import AWS_RESOURCE_TYPE
from releaseflow.ssm import COMMAND_PARAMETER_TYPES as COMMAND_TYPES

CODE = "E010"
SUMMARY = "parameter type missing or not supported by the document type"
WHY = (
    "Command documents support only String and StringList parameters. Automation runbooks also take "
    "Integer, Boolean, MapList, StringMap and AWS resource types such as AWS::EC2::Instance::Id and "
    "List<AWS::EC2::Instance::Id>."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"


def check(document, context) -> Iterator:
    kind = document.document_type
    if kind is None:
        return
    allowed = COMMAND_TYPES if kind == "Command" else AUTOMATION_TYPES
    for name, definition, path in parameters(document):
        if "type" not in definition:
            yield finding(document, CODE, path, f"parameter {describe(name)} has no type")
            continue
        kind_of = definition["type"]
        if kind_of in allowed or (
            kind == "Automation" and isinstance(kind_of, str) and AWS_RESOURCE_TYPE.fullmatch(kind_of)
        ):
            continue
        also = ", and AWS resource types (AWS::...::..., List<AWS::...>)" if kind == "Automation" else ""
        yield finding(
            document,
            CODE,
            (*path, "type"),
            f"parameter {describe(name)} has type {describe(kind_of)}; {kind} documents allow "
            f"{', '.join(allowed)}{also}",
        )
