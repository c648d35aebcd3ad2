"""The engine's AWS for the rehearsal: boto3 clients pointed back at the endpoint, as a runbook's
steps call AWS (aws:executeAwsApi, aws:runCommand, aws:executeScript's boto3)."""

from __future__ import annotations

import os
import threading

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from releaseflow.rehearsal.engine.automation import AwsCallError

# In the User-Agent of the runbooks' own calls: injected faults are for clients, not for AWS itself.
ENGINE_AGENT = "releaseflow-rehearsal-engine"
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The services the release runbooks call, whose clients the engine builds ahead of the first deploy.
WARM_SERVICES = ("ec2", "ssm", "elbv2")


class LoopbackAws:
    """The engine's `aws(service, Api, params)`: boto3 clients pointed back at this endpoint."""

    def __init__(self, region: str):
        self.region = region
        self.url: str | None = None
        self._session = boto3.session.Session(
            aws_access_key_id=_DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=_DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def connect(self, url: str) -> None:
        """Point the clients at the endpoint's URL, known once the server listens."""
        self.url = url
        # Building a client loads its service model (most of a second each): do it now, in the
        # background, rather than in the first deploy's first steps.
        threading.Thread(target=lambda: [self._client(name) for name in WARM_SERVICES], daemon=True).start()

    def environment(self) -> dict[str, str]:
        """The environment of aws:executeScript: boto3 in the script reaches this endpoint too."""
        return {
            **os.environ,
            **_DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url or "",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # The scripts' calls are the runbook's own too: marked like the engine's (app/... in the UA).
            "AWS_SDK_UA_APP_ID": ENGINE_AGENT,
        }

    def __call__(self, service: str, api: str, params: dict) -> dict:
        client = self._client(service)
        try:
            response = getattr(client, xform_name(api))(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise AwsCallError(details.get("Code", "Unknown"), details.get("Message", str(error))) from error
        except (BotoCoreError, AttributeError) as error:
            raise AwsCallError("ValidationException", f"{service}.{api}: {error}") from error
        response.pop("ResponseMetadata", None)
        return response

    def _client(self, service: str):
        # boto3 sessions are not thread-safe while they build clients; runs call from many threads.
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service,
                    endpoint_url=self.url,
                    config=Config(retries={"mode": "standard"}, user_agent_extra=ENGINE_AGENT),
                )
            return self._clients[service]
