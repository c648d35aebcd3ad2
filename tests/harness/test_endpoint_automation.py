"""Automation through the endpoint: a tiny runbook with sleep, an EC2 API call and a runCommand on an agent."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import yaml
from botocore.exceptions import ClientError

COMMAND = {
    "schemaVersion": "2.2",
    "description": "Echo a message.",
    "parameters": {"Message": {"type": "String", "default": "hello"}},
    "mainSteps": [
        {"action": "aws:runShellScript", "name": "Echo", "inputs": {"runCommand": ["echo {{ Message }}"]}}
    ],
}


def _runbook(command_name: str, pause: str = "PT1S") -> dict:
    return {
        "schemaVersion": "0.3",
        "description": "Pause, look the instance up, run a command on it.",
        "parameters": {"InstanceId": {"type": "String"}, "Message": {"type": "String", "default": "hi"}},
        "mainSteps": [
            {"name": "Pause", "action": "aws:sleep", "inputs": {"Duration": pause}},
            {
                "name": "Describe",
                "action": "aws:executeAwsApi",
                "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["{{ InstanceId }}"]},
                "outputs": [
                    {
                        "Name": "State",
                        "Selector": "$.Reservations[0].Instances[0].State.Name",
                        "Type": "String",
                    }
                ],
            },
            {
                "name": "Run",
                "action": "aws:runCommand",
                "inputs": {
                    "DocumentName": command_name,
                    "InstanceIds": ["{{ InstanceId }}"],
                    "Parameters": {"Message": ["{{ Message }}"]},
                },
            },
        ],
        "outputs": ["Describe.State"],
    }


class _Agent:
    """A test agent: answers every command on its instance with Success, until stopped."""

    def __init__(self, endpoint, instance_id: str):
        self.endpoint, self.instance_id = endpoint, instance_id
        self.ran: list[dict] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            for command in self.endpoint.agent("poll", {"instance_id": self.instance_id, "wait": 0.5})[
                "commands"
            ]:
                self.ran.append(command)
                base = {"instance_id": self.instance_id, "command_id": command["command_id"]}
                plugin = {
                    "name": "Echo",
                    "status": "Success",
                    "response_code": 0,
                    "output": "ok\n",
                    "stdout": "ok\n",
                }
                self.endpoint.agent(
                    "report", {**base, "status": "Success", "response_code": 0, "plugins": [plugin]}
                )

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


@pytest.fixture
def endpoint_runbook(endpoint_server):
    """A published command document and runbook, and one managed instance with a running test agent."""
    ssm = endpoint_server.client("ssm")
    command_name = f"cmd-{uuid.uuid4().hex[:8]}"
    runbook_name = f"runbook-{uuid.uuid4().hex[:8]}"
    ssm.create_document(
        Name=command_name, Content=yaml.safe_dump(COMMAND), DocumentType="Command", DocumentFormat="YAML"
    )
    ssm.create_document(
        Name=runbook_name,
        Content=yaml.safe_dump(_runbook(command_name)),
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    [instance] = endpoint_server.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)[
        "Instances"
    ]
    agent = _Agent(endpoint_server, instance["InstanceId"])
    yield runbook_name, instance["InstanceId"], agent
    agent.stop()


def _wait_end(ssm, execution_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] in ("Success", "Failed", "TimedOut", "Cancelled"):
            return execution
        assert time.monotonic() < deadline, execution
        time.sleep(0.2)


def test_runbook_runs_to_success(endpoint_server, endpoint_runbook):
    """The runbook's steps run in order; the runCommand reaches the agent; outputs and steps read back."""
    ssm = endpoint_server.client("ssm")
    runbook_name, instance_id, agent = endpoint_runbook
    execution_id = ssm.start_automation_execution(
        DocumentName=runbook_name, Parameters={"InstanceId": [instance_id], "Message": ["deploy"]}
    )["AutomationExecutionId"]
    execution = _wait_end(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert execution["Outputs"]["Describe.State"] == ["running"]
    assert [c["parameters"] for c in agent.ran] == [{"Message": ["deploy"]}]

    steps = ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)["StepExecutions"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [
        ("Pause", "Success"),
        ("Describe", "Success"),
        ("Run", "Success"),
    ]
    reverse = ssm.describe_automation_step_executions(AutomationExecutionId=execution_id, ReverseOrder=True)
    assert [s["StepName"] for s in reverse["StepExecutions"]] == ["Run", "Describe", "Pause"]
    only = ssm.describe_automation_step_executions(
        AutomationExecutionId=execution_id, Filters=[{"Key": "StepName", "Values": ["Describe"]}]
    )
    assert [s["StepName"] for s in only["StepExecutions"]] == ["Describe"]

    listed = ssm.describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": [runbook_name]}]
    )["AutomationExecutionMetadataList"]
    assert [(m["AutomationExecutionId"], m["AutomationExecutionStatus"]) for m in listed] == [
        (execution_id, "Success")
    ]


def test_client_token_returns_the_same_execution(endpoint_server, endpoint_runbook):
    """Starting twice with one ClientToken gives one execution id; Tags are searchable by TagKey."""
    ssm = endpoint_server.client("ssm")
    runbook_name, instance_id, _ = endpoint_runbook
    token = str(uuid.uuid4())
    request = {
        "DocumentName": runbook_name,
        "Parameters": {"InstanceId": [instance_id]},
        "ClientToken": token,
        "Tags": [{"Key": "release", "Value": "r1"}],
    }
    first = ssm.start_automation_execution(**request)["AutomationExecutionId"]
    assert ssm.start_automation_execution(**request)["AutomationExecutionId"] == first
    tagged = ssm.describe_automation_executions(Filters=[{"Key": "TagKey", "Values": ["release"]}])
    assert [m["AutomationExecutionId"] for m in tagged["AutomationExecutionMetadataList"]] == [first]
    _wait_end(ssm, first)


def test_stop_cancels_a_running_execution(endpoint_server, endpoint_runbook):
    """StopAutomationExecution cancels the running step and the execution; stopping again is refused."""
    ssm = endpoint_server.client("ssm")
    runbook_name, instance_id, _ = endpoint_runbook
    slow = _runbook("unused", pause="PT60S")
    ssm.update_document(
        Name=runbook_name, Content=yaml.safe_dump(slow), DocumentVersion="$LATEST", DocumentFormat="YAML"
    )
    execution_id = ssm.start_automation_execution(
        DocumentName=runbook_name, DocumentVersion="$LATEST", Parameters={"InstanceId": [instance_id]}
    )["AutomationExecutionId"]
    time.sleep(0.5)
    ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    execution = _wait_end(ssm, execution_id, timeout=10)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert execution["DocumentVersion"] == "2"
    with pytest.raises(ClientError) as error:
        ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert error.value.response["Error"]["Code"] == "InvalidAutomationStatusUpdateException"


def test_start_refuses_bad_parameters_and_unknown_runbooks(endpoint_server, endpoint_runbook):
    """Missing required parameters and unknown runbooks are refused with SSM's error codes."""
    ssm = endpoint_server.client("ssm")
    runbook_name, _, _ = endpoint_runbook
    cases = [
        ({"DocumentName": runbook_name}, "InvalidAutomationExecutionParametersException"),
        ({"DocumentName": "no-such-runbook"}, "AutomationDefinitionNotFoundException"),
        (
            {"DocumentName": runbook_name, "DocumentVersion": "9"},
            "AutomationDefinitionVersionNotFoundException",
        ),
    ]
    for request, code in cases:
        with pytest.raises(ClientError) as error:
            ssm.start_automation_execution(**request)
        assert error.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as error:
        ssm.get_automation_execution(AutomationExecutionId=str(uuid.uuid4()))
    assert error.value.response["Error"]["Code"] == "AutomationExecutionNotFoundException"


def test_executions_survive_a_restart(endpoint_launch, tmp_path):
    """A restarted endpoint serves past executions; one that was running comes back Failed, saying why."""
    state = tmp_path / "state"
    endpoint = endpoint_launch(state)
    ssm = endpoint.client("ssm")
    runbook = {
        "schemaVersion": "0.3",
        "mainSteps": [{"name": "Wait", "action": "aws:sleep", "inputs": {"Duration": "PT60S"}}],
    }
    ssm.create_document(
        Name="restart-runbook",
        Content=yaml.safe_dump(runbook),
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    execution_id = ssm.start_automation_execution(DocumentName="restart-runbook")["AutomationExecutionId"]
    time.sleep(0.5)
    assert endpoint_launch.stop(endpoint) == 0
    assert (state / "executions" / f"{execution_id}.json").exists()

    restarted = endpoint_launch(state).client("ssm")
    execution = restarted.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert "restarted" in execution["FailureMessage"]
