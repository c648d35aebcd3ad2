"""botocore's service models, as the Automation service's boto3 reads them: loaded once, offline."""

from __future__ import annotations

import difflib
import functools

import botocore
from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel, Shape


@functools.cache
def _loader():
    return create_loader()


@functools.cache
def service_names() -> tuple[str, ...]:
    """The boto3 client names (`ec2`, `ssm`, `elbv2`, ...) botocore here has models for."""
    return tuple(_loader().list_available_services("service-2"))


@functools.cache
def service_model(name: str) -> ServiceModel | None:
    """The model of a service, by its client name in any case (AWS's own runbooks write `SQS`)."""
    lowered = name.lower()
    if lowered not in service_names():
        return None
    return ServiceModel(_loader().load_service_model(lowered, "service-2"), lowered)


@functools.cache
def _operations(service: ServiceModel) -> dict[str, str]:
    """Every spelling Api may take, the operation's own (DescribeInstances) and boto3's method
    name (describe_instances), mapped to the operation's name."""
    names = {}
    for operation in service.operation_names:
        names[operation] = operation
        names[botocore.xform_name(operation)] = operation
    return names


def operation_model(service: ServiceModel, api: str) -> OperationModel | None:
    """The operation an Api input names, or None when the service has no such operation."""
    operation = _operations(service).get(api)
    return service.operation_model(operation) if operation else None


def closest(name: str, candidates) -> str:
    """`; did you mean X?` for the closest candidate, or an empty string when none is close."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if not found:
        found = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
        found = [next(c for c in candidates if c.lower() == found[0])] if found else []
    return f"; did you mean {found[0]!r}?" if found else ""


def api_names(service: ServiceModel) -> list[str]:
    return list(service.operation_names)


def members(shape: Shape | None) -> dict[str, Shape]:
    """A structure's members (empty for an operation without input or output)."""
    return dict(shape.members) if shape is not None and shape.type_name == "structure" else {}
