"""AWS clients for the commands: the standard credential chain, standard retries."""

from __future__ import annotations

import contextlib

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from releaseflow.errors import ReleaseflowError

# Standard mode retries throttling and transient errors with backoff, so polling loops need no own retry.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, region: str | None = None):
    """A client for `service`; AWS_ENDPOINT_URL (the local rehearsal) is honoured by boto3 itself."""
    return boto3.client(service, region_name=region, config=RETRIES)


class AwsError(ReleaseflowError):
    """AWS refused a call or could not be reached (credentials, endpoint, permissions)."""


@contextlib.contextmanager
def aws_errors():
    """Report AWS's refusals as one `Error:` line: they are the user's to fix, not bugs."""
    try:
        yield
    except ClientError as error:
        raise AwsError(str(error)) from error
    except BotoCoreError as error:
        raise AwsError(f"AWS is not reachable or not configured: {error}") from error
