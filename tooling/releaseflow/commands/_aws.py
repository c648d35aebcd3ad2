"""AWS clients for the commands: the standard credential chain, standard retries."""

from __future__ import annotations

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with backoff, so polling loops need no own retry.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, region: str | None = None):
    """A client for `service`; AWS_ENDPOINT_URL (the local rehearsal) is honoured by boto3 itself."""
    return boto3.client(service, region_name=region, config=RETRIES)
