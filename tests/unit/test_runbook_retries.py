"""The runbook scripts' AWS calls retry throttling with backoff: aws:executeScript does not retry for them."""

from __future__ import annotations

import ast
import json

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from releaseflow.documents import load_document
from releaseflow.runbook_scripts import shared
from test_runbooks_current import SCRIPTS

REPO = SCRIPTS.parents[2]


class Throttled:
    """A `before-send` hook: answers ThrottlingException `times` times, then an empty page."""

    def __init__(self, times):
        self.left = times
        self.sent = 0

    def __call__(self, request, **kwargs):
        self.sent += 1
        if self.left:
            self.left -= 1
            body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
            return AWSResponse(request.url, 400, {}, Raw(json.dumps(body)))
        return AWSResponse(request.url, 200, {}, Raw(json.dumps({"InstanceInformationList": []})))


class Raw:
    """The raw body AWSResponse reads its content from."""

    def __init__(self, text):
        self.data = text.encode()

    def stream(self, **kwargs):
        yield self.data


@pytest.fixture
def region(monkeypatch):
    """A region and dummy credentials, as Automation's environment gives a script."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_a_throttled_call_of_a_script_client_is_retried_after_a_backoff(monkeypatch, region):
    """A call answered ThrottlingException twice succeeds on its third try, having waited before each retry."""
    waits = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", waits.append)
    ssm = shared.client("ssm")
    throttled = Throttled(2)
    ssm.meta.events.register("before-send", throttled)
    assert shared.agents(ssm, ["i-0a"]) == []
    assert throttled.sent == 3
    assert len(waits) == 2 and all(wait > 0 for wait in waits)


def test_every_script_makes_its_clients_through_the_retrying_client(region):
    """No script module but shared imports boto3 or botocore; shared's clients retry in standard mode; every
    script in automation/ that makes a client makes it so."""
    for path in sorted(SCRIPTS.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        assert path.name == "shared.py" or not imported & {"boto3", "botocore"}, path.name
    assert shared.client("elbv2").meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
    scripts = [
        step["inputs"]["Script"]
        for path in sorted((REPO / "automation").glob("*.yaml"))
        for step in all_steps(load_document(path).content)
        if step.get("action") == "aws:executeScript"
    ]
    making = [script for script in scripts if "boto3.client(" in script]
    assert making and all(
        script.count("boto3.client(") == script.count('retries={"mode": "standard"') for script in making
    )


def all_steps(content):
    for step in content["mainSteps"]:
        yield step
        yield from step.get("inputs", {}).get("Steps", [])
