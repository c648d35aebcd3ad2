"""Region lists read once per endpoint process, however often moto asks.

moto asks `boto3.Session().get_available_regions(...)` from a new Session at import (the EC2 models, three
times) and per backend, and each new Session parses botocore's endpoints data again: about 0.45 s of CPU
of the 1.6 s an endpoint takes to start, paid by every fleet and every harness endpoint. The lists are a
function of the installed botocore's data alone, so one Session answers them all. Importing this module
installs that (the endpoint server imports it before moto).
"""

from __future__ import annotations

import functools

import boto3.session

_read_regions = boto3.session.Session.get_available_regions


@functools.cache
def _shared_session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _regions(service_name: str, partition_name: str, allow_non_regional: bool) -> tuple[str, ...]:
    return tuple(_read_regions(_shared_session(), service_name, partition_name, allow_non_regional))


def available_regions(
    self: boto3.session.Session,
    service_name: str,
    partition_name: str = "aws",
    allow_non_regional: bool = False,
) -> list[str]:
    """boto3's Session.get_available_regions, answered from one Session's data (a new list each call, as
    boto3 returns)."""
    return list(_regions(service_name, partition_name, allow_non_regional))


boto3.session.Session.get_available_regions = available_regions
