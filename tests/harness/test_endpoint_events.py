"""Deploy notifications: the endpoint sends Automation's status-change events, and template.yaml's rule
turns those of this environment's runbooks into a message for people."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from cfn_template import conditions, resolve, template

RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "A runbook that only waits a moment.",
    "mainSteps": [{"name": "Nap", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
}


def _notification_rule(prefix: str) -> dict:
    """DeployStatusRule's properties as CloudFormation makes them with notifications on and `prefix`."""
    parameters = {"EnableNotifications": "true", "NotificationEmail": "", "DocumentPrefix": prefix}
    loaded = template()
    # The topic's Ref is its ARN; the queue stands in for it below.
    topic = {"DeployNotificationsTopic": "arn:aws:sns:us-east-1:123456789012:deploys"}
    properties = loaded["Resources"]["DeployStatusRule"]["Properties"]
    return resolve(properties, {**parameters, **topic}, conditions(loaded, parameters))


@pytest.fixture
def queue(endpoint_server):
    """An SQS queue that receives what the template's rule sends (moto does not deliver EventBridge to SNS,
    so the queue stands in for the topic's subscriber), with the template's own pattern and transformer."""
    sqs, events = endpoint_server.client("sqs"), endpoint_server.client("events")
    url = sqs.create_queue(QueueName="deploy-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = _notification_rule("staging-")
    events.put_rule(Name="deploy-notifications", EventPattern=json.dumps(rule["EventPattern"]))
    [target] = rule["Targets"]
    events.put_targets(
        Rule="deploy-notifications",
        Targets=[{"Id": target["Id"], "Arn": arn, "InputTransformer": target["InputTransformer"]}],
    )
    yield sqs, url
    events.remove_targets(Rule="deploy-notifications", Ids=[target["Id"]])
    events.delete_rule(Name="deploy-notifications")


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


def _messages(sqs, url: str) -> list[str]:
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages"
    ):
        found += [json.loads(message["Body"]) for message in batch]
    return found


def test_an_environments_deploy_is_announced_when_it_starts_and_ends(endpoint_server, queue):
    """An execution of staging-releaseflow-Deploy sends InProgress, then Success; the rule words each as
    "<runbook> execution <id>: <status>." with the execution's console link."""
    sqs, url = queue
    execution_id = _run(endpoint_server, "staging-releaseflow-Deploy")
    link = (
        f"https://us-east-1.console.aws.amazon.com/systems-manager/automation/execution/{execution_id}"
        "?region=us-east-1"
    )
    assert _messages(sqs, url) == [
        f"staging-releaseflow-Deploy execution {execution_id}: {status}. {link}"
        for status in ("InProgress", "Success")
    ]


def test_other_runbooks_and_other_environments_are_not_announced(endpoint_server, queue):
    """Executions of production's releaseflow-Deploy or of another runbook send events the rule does not match."""
    sqs, url = queue
    _run(endpoint_server, "releaseflow-Deploy")
    _run(endpoint_server, "staging-other-Runbook")
    assert _messages(sqs, url) == []
