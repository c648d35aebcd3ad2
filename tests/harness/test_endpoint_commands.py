"""CommandsService timeouts with a fake clock: delivery timeout, execution timeout, a silent agent."""

from __future__ import annotations

import pytest

from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.commands_service import CommandsService
from releaseflow.rehearsal.endpoint.instances_service import InstancesService
from releaseflow.rehearsal.endpoint.moto_state import Ec2Instance, StoredDocument

DOCUMENT = {
    "schemaVersion": "2.2",
    "parameters": {"executionTimeout": {"type": "String", "default": "100"}},
    "mainSteps": [{"action": "aws:runShellScript", "name": "Run", "inputs": {"runCommand": ["true"]}}],
}
INSTANCES = ["i-0000000000000000a", "i-0000000000000000b"]


class Clock:
    """A clock that moves only when the test moves it."""

    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint_clock() -> Clock:
    """The fake clock shared by the service and the test."""
    return Clock()


@pytest.fixture
def endpoint_commands(endpoint_clock) -> CommandsService:
    """A CommandsService over two managed instances and one document, on the fake clock."""
    instances = InstancesService(
        lambda: [Ec2Instance(instance_id, "running", {}) for instance_id in INSTANCES],
        offline_after=10,
        clock=endpoint_clock,
    )
    for instance_id in INSTANCES:
        instances.heartbeat(instance_id)
    documents = {"Run": StoredDocument("Run", "1", "Command", DOCUMENT)}
    return CommandsService(lambda name, version: documents[name], instances, clock=endpoint_clock)


def _status(service: CommandsService, command_id: str, instance_id: str) -> tuple[str, str]:
    result = service.get_command_invocation({"CommandId": command_id, "InstanceId": instance_id})
    return result["Status"], result["StatusDetails"]


def test_undelivered_invocation_times_out_after_timeout_seconds(endpoint_commands, endpoint_clock):
    """An invocation no agent picks up within TimeoutSeconds is TimedOut/DeliveryTimedOut, not an error."""
    sent = endpoint_commands.send_command(
        {"DocumentName": "Run", "InstanceIds": INSTANCES[:1], "TimeoutSeconds": 30}
    )["Command"]
    endpoint_clock.now += 29
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("Pending", "Pending")
    endpoint_clock.now += 1
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("TimedOut", "DeliveryTimedOut")
    [command] = endpoint_commands.list_commands({"CommandId": sent["CommandId"]})["Commands"]
    assert (command["Status"], command["DeliveryTimedOutCount"], command["ErrorCount"]) == (
        "TimedOut",
        1,
        0,
    )


def test_delivery_timeout_counts_from_release_under_rate_control(endpoint_commands, endpoint_clock):
    """A target held back by MaxConcurrency starts its delivery timeout only when it is released."""
    sent = endpoint_commands.send_command(
        {"DocumentName": "Run", "InstanceIds": INSTANCES, "TimeoutSeconds": 30, "MaxConcurrency": "1"}
    )["Command"]
    [first] = endpoint_commands.poll(INSTANCES[0], 0)["commands"]
    endpoint_clock.now += 40
    endpoint_commands.report(
        {
            "instance_id": INSTANCES[0],
            "command_id": first["command_id"],
            "status": "Success",
            "response_code": 0,
        }
    )
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[1]) == ("Pending", "Pending")
    assert [c["command_id"] for c in endpoint_commands.poll(INSTANCES[1], 0)["commands"]] == [
        sent["CommandId"]
    ]


def test_running_invocation_times_out_after_execution_timeout(endpoint_commands, endpoint_clock):
    """Past the document's executionTimeout (plus grace) a silent invocation is ExecutionTimedOut and cancelled."""
    sent = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    [command] = endpoint_commands.poll(INSTANCES[0], 0)["commands"]
    assert command["timeout_seconds"] == 100
    for _ in range(20):
        endpoint_clock.now += 5
        endpoint_commands.poll(INSTANCES[0], 0)
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_clock.now += 6
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("TimedOut", "ExecutionTimedOut")
    assert endpoint_commands.poll(INSTANCES[0], 0)["cancel"] == [sent["CommandId"]]
    [listed] = endpoint_commands.list_commands({"CommandId": sent["CommandId"]})["Commands"]
    assert (listed["Status"], listed["ErrorCount"]) == ("TimedOut", 1)


def test_invocation_of_a_silent_agent_stays_in_progress_until_the_total_timeout(
    endpoint_commands, endpoint_clock
):
    """An agent that stops polling leaves its invocation InProgress, as AWS does, until TimeoutSeconds
    plus the execution timeout have passed since the command was sent; then it is ExecutionTimedOut."""
    sent = endpoint_commands.send_command(
        {"DocumentName": "Run", "InstanceIds": INSTANCES[:1], "TimeoutSeconds": 60}
    )["Command"]
    endpoint_commands.poll(INSTANCES[0], 0, session="first")
    endpoint_clock.now += 60 + 100  # the agent is long silent, the total timeout not yet over
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_clock.now += 1
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("TimedOut", "ExecutionTimedOut")


def test_an_agent_back_after_a_restart_fails_what_it_was_running(endpoint_commands, endpoint_clock):
    """A silent agent's invocation stays InProgress; when the agent polls again as a new process, it is Failed."""
    sent = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    endpoint_commands.poll(INSTANCES[0], 0, session="first")
    endpoint_clock.now += 30
    endpoint_commands.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_commands.poll(INSTANCES[0], 0, session="first")
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_commands.poll(INSTANCES[0], 0, session="second")
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("Failed", "Failed")


def test_late_report_does_not_change_a_decided_invocation(endpoint_commands, endpoint_clock):
    """Once the endpoint timed an invocation out, the agent's later Success report is ignored."""
    sent = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    [command] = endpoint_commands.poll(INSTANCES[0], 0)["commands"]
    endpoint_clock.now += 3600 + 100 + 1
    endpoint_commands.tick()
    endpoint_commands.report(
        {
            "instance_id": INSTANCES[0],
            "command_id": command["command_id"],
            "status": "Success",
            "response_code": 0,
        }
    )
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("TimedOut", "ExecutionTimedOut")


def test_send_command_refuses_more_than_50_instance_ids(endpoint_commands):
    """SendCommand with 51 InstanceIds is a ValidationException naming the limit of 50."""
    with pytest.raises(ApiError) as error:
        endpoint_commands.send_command(
            {"DocumentName": "Run", "InstanceIds": [f"i-{n:017x}" for n in range(51)]}
        )
    assert error.value.code == "ValidationException"
    assert "at most 50" in error.value.message


def test_percentages_of_rate_control(endpoint_commands):
    """MaxConcurrency 50% of two targets releases one; the other waits its turn."""
    endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES, "MaxConcurrency": "50%"})
    assert len(endpoint_commands.poll(INSTANCES[0], 0)["commands"]) == 1
    assert endpoint_commands.poll(INSTANCES[1], 0)["commands"] == []


@pytest.mark.parametrize("field", ["MaxConcurrency", "MaxErrors"])
def test_rate_values_must_be_counts_or_percentages(endpoint_commands, field):
    """A MaxConcurrency or MaxErrors that is neither a count nor a percentage is a ValidationException."""
    with pytest.raises(ApiError) as error:
        endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES, field: "lots"})
    assert error.value.code == "ValidationException"


def test_list_command_invocations_of_an_instance_honours_the_invoked_window(
    endpoint_commands, endpoint_clock
):
    """ListCommandInvocations by InstanceId with InvokedAfter/InvokedBefore lists only what was sent in between."""
    from datetime import UTC, datetime

    def at(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).isoformat()

    first = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    start = endpoint_clock.now
    endpoint_clock.now += 10
    later = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    window = [
        {"key": "InvokedAfter", "value": at(start - 1)},
        {"key": "InvokedBefore", "value": at(start + 5)},
    ]
    listed = endpoint_commands.list_command_invocations({"InstanceId": INSTANCES[0], "Filters": window})
    assert [row["CommandId"] for row in listed["CommandInvocations"]] == [first["CommandId"]]
    everything = endpoint_commands.list_command_invocations({"InstanceId": INSTANCES[0]})[
        "CommandInvocations"
    ]
    assert [row["CommandId"] for row in everything] == [later["CommandId"], first["CommandId"]]
