"""AWS clients for the commands: the standard credential chain, standard retries."""

from __future__ import annotations

import contextlib
import os
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from releaseflow.errors import ReleaseflowError, UsageError

# Standard mode retries throttling and transient errors with backoff, so polling loops need no own retry.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})
# Errors SSM answers with when the caller's credentials themselves are refused (not a permission).
_CREDENTIALS_REFUSED = (
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
)


def client(service: str, region: str | None = None):
    """A client for `service`; AWS_ENDPOINT_URL (the local rehearsal) is honoured by boto3 itself.

    AWS_REGION counts as well as AWS_DEFAULT_REGION: the AWS CLI v2 and the SDKs of other languages
    read it, and configure-aws-credentials sets both, but botocore reads only AWS_DEFAULT_REGION.
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint is not None:
        check_endpoint(endpoint, "AWS_ENDPOINT_URL")
    region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
    try:
        return boto3.client(service, region_name=region, config=RETRIES)
    except NoRegionError as error:
        raise AwsSetupError(_NO_REGION) from error
    except ValueError as error:  # botocore's word for a malformed region or endpoint
        raise AwsSetupError(
            f"cannot make an AWS {service} client: {str(error).rstrip('.')}; check --region, "
            "`region:` in releaseflow.yaml and AWS_REGION (a region reads like eu-west-1)"
        ) from error


def check_endpoint(url: str, origin: str) -> None:
    """Refuse an endpoint URL boto3 would choke on, naming where it came from."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AwsSetupError(
            f"{origin}={url!r} is not an endpoint URL: write http(s)://HOST[:PORT], "
            "such as the URL `releaseflow local up` prints, or unset it to use AWS"
        )


_NO_REGION = (
    "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), `region:` in releaseflow.yaml, or --region"
)


class AwsError(ReleaseflowError):
    """AWS refused a call or could not be reached (credentials, endpoint, permissions)."""


class AwsSetupError(UsageError):
    """No usable credentials, region or endpoint: nothing was asked of AWS, so nothing started."""


@contextlib.contextmanager
def aws_errors():
    """Report AWS's refusals as one `Error:` line: they are the user's to fix, not bugs."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _CREDENTIALS_REFUSED:
            message = f"AWS refused the credentials: {error}; check AWS_PROFILE or the role"
            raise AwsSetupError(message) from error
        raise AwsError(str(error)) from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise AwsSetupError(
            f"no usable AWS credentials ({error}): configure them (AWS_PROFILE, environment variables, "
            "or the role in CI), or set AWS_ENDPOINT_URL to the local rehearsal"
        ) from error
    except NoRegionError as error:
        raise AwsSetupError(_NO_REGION) from error
    except ConnectionError as error:
        raise AwsSetupError(
            f"AWS is not reachable: {error}; check AWS_ENDPOINT_URL, the region and the network"
        ) from error
    except BotoCoreError as error:
        raise AwsError(f"AWS is not reachable or not configured: {error}") from error
