"""AlarmConfiguration on Automation executions through the endpoint: moto's CloudWatch alarm stops them."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
import yaml
from botocore.exceptions import ClientError

from scenarios import AWS_CLI, create_alarm

RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "Wait, then finish; a cancel runs Undo.",
    "parameters": {"Wait": {"type": "String", "default": "PT30S"}},
    "mainSteps": [
        {
            "name": "Bake",
            "action": "aws:sleep",
            "inputs": {"Duration": "{{ Wait }}"},
            "onCancel": "step:Undo",
        },
        {"name": "Done", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True},
        {"name": "Undo", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True},
    ],
}


@pytest.fixture
def alarmed(endpoint_server):
    """A published runbook and a fresh CloudWatch metric alarm in state OK: (runbook name, alarm name)."""
    ssm, cloudwatch = endpoint_server.client("ssm"), endpoint_server.client("cloudwatch")
    runbook, alarm = f"alarmed-{uuid.uuid4().hex[:8]}", f"errors-{uuid.uuid4().hex[:8]}"
    ssm.create_document(
        Name=runbook, Content=yaml.safe_dump(RUNBOOK), DocumentType="Automation", DocumentFormat="YAML"
    )
    return runbook, create_alarm(cloudwatch, alarm)


def _start(ssm, runbook: str, alarm: str, wait: str = "PT30S", ignore: bool = False) -> str:
    return ssm.start_automation_execution(
        DocumentName=runbook,
        Parameters={"Wait": [wait]},
        AlarmConfiguration={"IgnorePollAlarmFailure": ignore, "Alarms": [{"Name": alarm}]},
    )["AutomationExecutionId"]


def _wait_end(ssm, execution_id: str, timeout: float = 20) -> tuple[dict, float]:
    """The ended execution and when its end was seen (time.monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] in ("Success", "Failed", "TimedOut", "Cancelled"):
            return execution, time.monotonic()
        assert time.monotonic() < deadline, execution
        time.sleep(0.1)


def _wait_step(ssm, execution_id: str, name: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        steps = ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)["StepExecutions"]
        if any(s["StepName"] == name and s["StepStatus"] == "InProgress" for s in steps):
            return
        assert time.monotonic() < deadline, steps
        time.sleep(0.1)


def _steps(ssm, execution_id: str) -> list[tuple[str, str]]:
    steps = ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)["StepExecutions"]
    return [(s["StepName"], s["StepStatus"]) for s in steps]


def test_alarm_in_alarm_cancels_the_execution_and_runs_on_cancel(endpoint_server, alarmed):
    """An alarm set to ALARM stops the execution within a second: Cancelled, onCancel ran, alarm named."""
    ssm, cloudwatch = endpoint_server.client("ssm"), endpoint_server.client("cloudwatch")
    runbook, alarm = alarmed
    execution_id = _start(ssm, runbook, alarm)
    _wait_step(ssm, execution_id, "Bake")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx above threshold")
    fired = time.monotonic()
    execution, seen = _wait_end(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    # Read at least once a second; the rest is this test's 0.1 s polling and a busy 2-core machine.
    assert seen - fired < 2.0
    assert execution["TriggeredAlarms"] == [{"Name": alarm, "State": "ALARM"}]
    assert execution["AlarmConfiguration"] == {"IgnorePollAlarmFailure": False, "Alarms": [{"Name": alarm}]}
    assert _steps(ssm, execution_id) == [("Bake", "Cancelled"), ("Undo", "Success")]
    [listed] = ssm.describe_automation_executions(Filters=[{"Key": "ExecutionId", "Values": [execution_id]}])[
        "AutomationExecutionMetadataList"
    ]
    assert listed["TriggeredAlarms"] == [{"Name": alarm, "State": "ALARM"}]
    assert listed["AlarmConfiguration"]["Alarms"] == [{"Name": alarm}]


def test_alarm_left_ok_lets_the_execution_succeed(endpoint_server, alarmed):
    """An alarm in OK (or INSUFFICIENT_DATA) is watched but stops nothing; no TriggeredAlarms."""
    ssm, cloudwatch = endpoint_server.client("ssm"), endpoint_server.client("cloudwatch")
    runbook, alarm = alarmed
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="INSUFFICIENT_DATA", StateReason="no data")
    execution, _ = _wait_end(ssm, _start(ssm, runbook, alarm, wait="PT2S"))
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["AlarmConfiguration"]["Alarms"] == [{"Name": alarm}]
    assert "TriggeredAlarms" not in execution


def test_unreadable_alarm_stops_unless_poll_failures_are_ignored(endpoint_server, alarmed):
    """A missing alarm stops the execution (State UNKNOWN) by default; IgnorePollAlarmFailure goes on."""
    ssm = endpoint_server.client("ssm")
    runbook, _ = alarmed
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    stopped, _ = _wait_end(ssm, _start(ssm, runbook, missing))
    assert stopped["AutomationExecutionStatus"] == "Cancelled"
    assert stopped["TriggeredAlarms"] == [{"Name": missing, "State": "UNKNOWN"}]
    ignored, _ = _wait_end(ssm, _start(ssm, runbook, missing, wait="PT2S", ignore=True))
    assert ignored["AutomationExecutionStatus"] == "Success"
    assert ignored["AlarmConfiguration"]["IgnorePollAlarmFailure"] is True
    assert "TriggeredAlarms" not in ignored


def test_aws_cli_set_alarm_state_stops_the_execution(endpoint_server, alarmed):
    """`aws cloudwatch set-alarm-state` against the endpoint stops an execution watching that alarm."""
    ssm = endpoint_server.client("ssm")
    runbook, alarm = alarmed
    execution_id = _start(ssm, runbook, alarm)
    _wait_step(ssm, execution_id, "Bake")
    command = ["cloudwatch", "set-alarm-state", "--alarm-name", alarm, "--state-value", "ALARM"]
    subprocess.run(
        [AWS_CLI, *command, "--state-reason", "set by the AWS CLI"],
        env=endpoint_server.environment(),
        check=True,
        capture_output=True,
    )
    execution, _ = _wait_end(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert execution["TriggeredAlarms"] == [{"Name": alarm, "State": "ALARM"}]


def test_alarm_configuration_needs_exactly_one_alarm(endpoint_server, alarmed):
    """Two alarms are refused, as the API's list of at most 1 item is, in AWS's words; nothing starts."""
    ssm = endpoint_server.client("ssm")
    runbook, alarm = alarmed
    with pytest.raises(ClientError) as error:
        ssm.start_automation_execution(
            DocumentName=runbook, AlarmConfiguration={"Alarms": [{"Name": alarm}, {"Name": alarm}]}
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '[...]' at 'alarmConfiguration.alarms' failed to satisfy "
        "constraint: Member must have length less than or equal to 1"
    )


def test_alarm_state_survives_an_endpoint_restart(endpoint_launch, tmp_path):
    """A stopped execution's AlarmConfiguration and TriggeredAlarms read back after a restart."""
    endpoint = endpoint_launch(tmp_path / "state")
    ssm = endpoint.client("ssm")
    ssm.create_document(
        Name="alarmed", Content=yaml.safe_dump(RUNBOOK), DocumentType="Automation", DocumentFormat="YAML"
    )
    execution_id = _start(ssm, "alarmed", "never-created")
    before, _ = _wait_end(ssm, execution_id)
    endpoint_launch.stop(endpoint)
    after = endpoint_launch(tmp_path / "state").client("ssm")
    execution = after.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == before["AutomationExecutionStatus"] == "Cancelled"
    assert execution["TriggeredAlarms"] == [{"Name": "never-created", "State": "UNKNOWN"}]
    assert execution["AlarmConfiguration"] == before["AlarmConfiguration"]
