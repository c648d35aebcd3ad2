"""The endpoint refuses, as AWS's front end does, a request its operation's model forbids: the limits
botocore's client leaves to the service (maximum lengths and counts, patterns, enumerations), and for
a schedule's Input, which reaches the service without a client, required members too."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from botocore.exceptions import ClientError

from releaseflow.rehearsal.endpoint.model_check import problems

pytestmark = pytest.mark.rehearsal

RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "A runbook that only waits a moment.",
    "mainSteps": [{"name": "Nap", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
}
INSTANCE = "i-0123456789abcdef0"


def _refused(call, **request) -> str:
    with pytest.raises(ClientError) as refused:
        call(**request)
    assert refused.value.response["Error"]["Code"] == "ValidationException", refused.value.response
    return refused.value.response["Error"]["Message"]


def test_the_endpoint_refuses_what_the_model_forbids(endpoint_server):
    """Past a maximum count, length or value, off a pattern or an enumeration: ValidationException naming
    the member and the constraint, in AWS's words; nothing is done."""
    ssm = endpoint_server.client("ssm")
    too_many = [f"i-{n:017x}" for n in range(51)]
    message = _refused(ssm.cancel_command, CommandId=str(uuid.uuid4()), InstanceIds=too_many)
    assert (
        "at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50"
        in (message)
    )
    message = _refused(ssm.describe_automation_executions, MaxResults=51)
    assert message == (
        "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )
    message = _refused(ssm.stop_automation_execution, AutomationExecutionId=str(uuid.uuid4()), Type="Pause")
    assert "Member must satisfy enum value set: [Complete, Cancel]" in message
    message = _refused(ssm.get_command_invocation, CommandId=str(uuid.uuid4()), InstanceId="i-123")
    assert (
        "Value 'i-123' at 'instanceId' failed to satisfy constraint: Member must satisfy regular" in message
    )
    message = _refused(ssm.get_automation_execution, AutomationExecutionId="x" * 37)
    assert "at 'automationExecutionId'" in message and "less than or equal to 36" in message
    # A pattern in Java's Unicode classes (\p{L}\p{Z}\p{N}): a tag key with `*` is off it.
    message = _refused(
        ssm.start_automation_execution, DocumentName="AWS-Nothing", Tags=[{"Key": "owner*", "Value": "ops"}]
    )
    assert (
        "Value 'owner*' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular"
        in (message)
    )
    assert ssm.list_commands()["Commands"] == []
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


def test_a_valid_request_meets_no_constraint():
    """The deploy's own SendCommand, as the engine sends it, passes the model whole."""
    request = {
        "DocumentName": "releaseflow-CheckoutRevision",
        "DocumentHash": "a" * 64,
        "DocumentHashType": "Sha256",
        "InstanceIds": [INSTANCE],
        "Parameters": {"Revision": ["main"], "AppDir": ["/srv/app"]},
        "TimeoutSeconds": 60,
        "CloudWatchOutputConfig": {
            "CloudWatchLogGroupName": "/releaseflow/commands",
            "CloudWatchOutputEnabled": True,
        },
    }
    assert problems("ssm", "SendCommand", request) == []
    assert problems("ssm", "SendCommand", {**request, "MaxConcurrency": "0"}) == [
        "Value '0' at 'maxConcurrency' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: ^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$"
    ]


def test_a_schedules_input_is_checked_against_the_model(endpoint_server):
    """A schedule whose Input lacks DocumentName and names a version off its pattern starts nothing:
    Scheduler's request reaches SSM without a client, and SSM refuses it."""
    ssm, scheduler = endpoint_server.client("ssm"), endpoint_server.client("scheduler")
    name = f"checked-{uuid.uuid4().hex[:8]}"
    ssm.create_document(
        Name=name, Content=yaml.safe_dump(RUNBOOK), DocumentType="Automation", DocumentFormat="YAML"
    )
    assert problems("ssm", "StartAutomationExecution", {"DocumentVersion": "latest"}) == [
        "Value null at 'documentName' failed to satisfy constraint: Member must not be null",
        "Value 'latest' at 'documentVersion' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: ([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)",
    ]
    moment = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression=f"at({moment:%Y-%m-%dT%H:%M:%S})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution",
            "RoleArn": "arn:aws:iam::123456789012:role/releaseflow-SchedulerRole",
            "Input": json.dumps({"DocumentVersion": "latest", "Parameters": {}}),
        },
    )
    time.sleep(max(moment.timestamp() - time.time(), 0) + 3)
    listed = ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    assert [row for row in listed if row["DocumentName"] == name] == []
    log = (endpoint_server.state_dir / "endpoint.log").read_text()
    assert "Member must not be null" in log
