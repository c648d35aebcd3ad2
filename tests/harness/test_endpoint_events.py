"""Deploy notifications: the endpoint sends Automation's status-change events, and template.yaml's rule
turns those of this environment's runbooks into a message for people."""

from __future__ import annotations

import time

import pytest
import yaml

from notifications import messages, notifications_queue

RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "A runbook that only waits a moment.",
    "mainSteps": [{"name": "Nap", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
}


@pytest.fixture
def queue(endpoint_server):
    """A queue receiving what template.yaml's rule sends for the `staging-` environment."""
    sqs, events = endpoint_server.client("sqs"), endpoint_server.client("events")
    with notifications_queue(sqs, events, "staging-") as url:
        yield sqs, url


def _run(endpoint_server, name: str) -> str:
    ssm = endpoint_server.client("ssm")
    ssm.create_document(
        Name=name, Content=yaml.safe_dump(RUNBOOK), DocumentType="Automation", DocumentFormat="YAML"
    )
    execution_id = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    deadline = time.monotonic() + 20
    while ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
        "AutomationExecutionStatus"
    ] not in ("Success", "Failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return execution_id


def test_an_environments_deploy_is_announced_when_it_starts_and_ends(endpoint_server, queue):
    """An execution of staging-releaseflow-Deploy sends InProgress, then Success; the rule words each as
    "<runbook> execution <id>: <status>." with the execution's console link."""
    sqs, url = queue
    execution_id = _run(endpoint_server, "staging-releaseflow-Deploy")
    link = (
        f"https://us-east-1.console.aws.amazon.com/systems-manager/automation/execution/{execution_id}"
        "?region=us-east-1"
    )
    assert messages(sqs, url) == [
        f"staging-releaseflow-Deploy execution {execution_id}: {status}. {link}"
        for status in ("InProgress", "Success")
    ]


def test_other_runbooks_and_other_environments_are_not_announced(endpoint_server, queue):
    """Executions of production's releaseflow-Deploy or of another runbook send events the rule does not match."""
    sqs, url = queue
    _run(endpoint_server, "releaseflow-Deploy")
    _run(endpoint_server, "staging-other-Runbook")
    assert messages(sqs, url) == []
