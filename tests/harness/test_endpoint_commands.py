"""Run Command timeouts with a fake clock: delivery timeout, execution timeout, a silent agent."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from releaseflow.documents import load_document
from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.changes import Changes
from releaseflow.rehearsal.endpoint.commands_models import CommandsBackend
from releaseflow.rehearsal.endpoint.commands_responses import CommandsResponses
from releaseflow.rehearsal.endpoint.instances_service import InstancesService
from releaseflow.rehearsal.endpoint.moto_state import Ec2Instance, StoredDocument
from releaseflow.rehearsal.engine.automation import AutomationRun, AwsCallError, validate_parameters

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

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def endpoint_clock() -> Clock:
    """The fake clock shared by the service and the test."""
    return Clock()


@pytest.fixture
def endpoint_changes() -> Changes:
    """The endpoint's change count, which the service moves."""
    return Changes()


@pytest.fixture
def endpoint_commands(endpoint_clock, endpoint_changes) -> CommandsResponses:
    """Run Command's API over two managed instances and one document, on the fake clock."""
    instances = InstancesService(
        lambda: [Ec2Instance(instance_id, "running", {}) for instance_id in INSTANCES],
        offline_after=10,
        clock=endpoint_clock,
    )
    for instance_id in INSTANCES:
        instances.heartbeat(instance_id)
    documents = {"Run": StoredDocument("Run", "1", "Command", DOCUMENT)}
    return CommandsResponses(
        CommandsBackend(
            lambda name, version: documents[name], instances, clock=endpoint_clock, changes=endpoint_changes
        )
    )


def _status(service: CommandsResponses, command_id: str, instance_id: str) -> tuple[str, str]:
    result = service.get_command_invocation({"CommandId": command_id, "InstanceId": instance_id})
    return result["Status"], result["StatusDetails"]


def test_undelivered_invocation_times_out_after_timeout_seconds(endpoint_commands, endpoint_clock):
    """An invocation no agent picks up within TimeoutSeconds is TimedOut/DeliveryTimedOut, not an error."""
    sent = endpoint_commands.send_command(
        {"DocumentName": "Run", "InstanceIds": INSTANCES[:1], "TimeoutSeconds": 30}
    )["Command"]
    endpoint_clock.now += 29
    endpoint_commands.backend.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("Pending", "Pending")
    endpoint_clock.now += 1
    endpoint_commands.backend.tick()
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
    endpoint_commands.backend.tick()
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
    endpoint_commands.backend.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_clock.now += 6
    endpoint_commands.backend.tick()
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
    endpoint_commands.backend.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_clock.now += 1
    endpoint_commands.backend.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("TimedOut", "ExecutionTimedOut")


def test_an_agent_back_after_a_restart_reports_what_the_old_process_ran(endpoint_commands, endpoint_clock):
    """A restarted agent (a new session) takes up what the old process ran, as the SSM agent's
    processInProgressDocuments does: the invocation stays InProgress and the new process's report ends it."""
    sent = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    endpoint_commands.poll(INSTANCES[0], 0, session="first")
    endpoint_clock.now += 30
    endpoint_commands.backend.tick()
    endpoint_commands.poll(INSTANCES[0], 0, session="second")
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_commands.report(
        {
            "instance_id": INSTANCES[0],
            "command_id": sent["CommandId"],
            "status": "Success",
            "response_code": 0,
        }
    )
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("Success", "Success")


def test_what_a_restarted_agent_never_takes_up_times_out_as_a_silent_agents(
    endpoint_commands, endpoint_clock
):
    """A new agent process that does not report the old one's command leaves it InProgress until the
    execution timeout (the document's 100 s) and the agent's grace have passed: ExecutionTimedOut."""
    sent = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    endpoint_commands.poll(INSTANCES[0], 0, session="first")
    endpoint_clock.now += 50
    endpoint_commands.poll(INSTANCES[0], 0, session="second")
    endpoint_clock.now += 50 + 5
    endpoint_commands.poll(INSTANCES[0], 0, session="second")  # online: only the agent's grace is waited
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("InProgress", "InProgress")
    endpoint_clock.now += 1
    endpoint_commands.poll(INSTANCES[0], 0, session="second")
    endpoint_commands.backend.tick()
    assert _status(endpoint_commands, sent["CommandId"], INSTANCES[0]) == ("TimedOut", "ExecutionTimedOut")


def test_late_report_does_not_change_a_decided_invocation(endpoint_commands, endpoint_clock):
    """Once the endpoint timed an invocation out, the agent's later Success report is ignored."""
    sent = endpoint_commands.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    [command] = endpoint_commands.poll(INSTANCES[0], 0)["commands"]
    endpoint_clock.now += 3600 + 100 + 1
    endpoint_commands.backend.tick()
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


ROOT = Path(__file__).resolve().parents[2]


def test_a_host_silent_during_restart_batch_fails_it_named_after_delivery_plus_restart_timeout(
    endpoint_clock,
):
    """Deploy's RestartBatch, run by the engine against the endpoint: a host whose agent falls silent after
    taking the restart is TimedOut 60 s + RestartTimeoutSeconds after the send, and the step fails naming it."""
    deploy = load_document(ROOT / "automation/releaseflow-Deploy.yaml").content
    restart = load_document(ROOT / "documents/releaseflow-RestartServices.yaml").content
    instances = InstancesService(
        lambda: [Ec2Instance(instance_id, "running", {}) for instance_id in INSTANCES],
        offline_after=10,
        clock=endpoint_clock,
    )
    for instance_id in INSTANCES:
        instances.heartbeat(instance_id)
    documents = {
        "releaseflow-RestartServices": StoredDocument("releaseflow-RestartServices", "1", "Command", restart)
    }
    service = CommandsResponses(
        CommandsBackend(lambda name, version: documents[name], instances, clock=endpoint_clock)
    )
    healthy, silent = INSTANCES
    sent_at = []

    def aws(_service: str, api: str, params: dict) -> dict:
        # The agents: both take the command at once; one reports Success, the other is never heard again.
        try:
            if api == "SendCommand":
                sent = service.send_command(params)
                sent_at.append(endpoint_clock.now)
                for instance_id in (healthy, silent):
                    [command] = service.poll(instance_id, 0, session="agent")["commands"]
                service.report(
                    {
                        "instance_id": healthy,
                        "command_id": command["command_id"],
                        "status": "Success",
                        "response_code": 0,
                    }
                )
                return sent
            service.backend.tick()
            handler = {
                "ListCommands": service.list_commands,
                "ListCommandInvocations": service.list_command_invocations,
                "GetCommandInvocation": service.get_command_invocation,
                "CancelCommand": service.cancel_command,
            }[api]
            return handler(params)
        except ApiError as error:
            raise AwsCallError(error.code, error.message) from error

    step = copy.deepcopy(
        next(
            s
            for _, s in load_document(ROOT / "automation/releaseflow-Deploy.yaml").steps()
            if s["name"] == "RestartBatch"
        )
    )
    # Alone in a runbook: the batch is given, and a failure ends the run instead of starting the rollback.
    step["inputs"]["InstanceIds"] = list(INSTANCES)
    # DrainBatch, which picks the batch's role and its services, is not in this runbook: a web batch.
    step["inputs"]["Parameters"].update(Role="web", Services="{{ Services }}")
    del step["onFailure"], step["onCancel"]
    parameters = {
        name: deploy["parameters"][name]
        for name in (
            "Services",
            "ReloadNginx",
            "RestartTimeoutSeconds",
            "CommandLogGroupName",
            "AppDir",
            "AppUser",
            "EnvironmentFile",
            "RailsEnv",
        )
    }
    content = {"schemaVersion": "0.3", "parameters": parameters, "mainSteps": [step]}
    bound = 120
    run = AutomationRun(
        "exec-1",
        "releaseflow-Deploy",
        "1",
        content,
        validate_parameters(content, {"RestartTimeoutSeconds": [str(bound)]}),
        aws=aws,
        clock=endpoint_clock,
        sleep=endpoint_clock.sleep,
    )
    run.run()

    [record] = run.step_executions()
    assert record["StepStatus"] == "Failed"
    assert f"{silent} TimedOut" in record["FailureMessage"] and healthy not in record["FailureMessage"]
    assert record["FailureDetails"]["Details"]["FailedInstances"] == [silent]
    [command_id] = record["Outputs"]["CommandId"]
    invocation = service.get_command_invocation({"CommandId": command_id, "InstanceId": silent})
    assert (invocation["Status"], invocation["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    # Decided by the total timeout (delivery 60 s + the bound), well before the step's own 660 s.
    took = record["ExecutionEndTime"].timestamp() - sent_at[0]
    assert 60 + bound <= took < 60 + bound + 30, took


def test_a_send_and_a_report_move_the_change_count_the_engine_waits_on(endpoint_commands, endpoint_changes):
    """The engine's polling steps wait on the endpoint's change count: a SendCommand and an agent's report
    move it (and end a wait at once); with no change, a wait ends at its timeout saying nothing changed."""
    changes, service = endpoint_changes, endpoint_commands
    before_send = changes.seen()
    sent = service.send_command({"DocumentName": "Run", "InstanceIds": INSTANCES[:1]})["Command"]
    assert changes.wait_past(before_send, 0) is True
    service.poll(INSTANCES[0], 0)
    seen = changes.seen()
    assert changes.wait_past(seen, 0.01) is False
    service.report(
        {
            "instance_id": INSTANCES[0],
            "command_id": sent["CommandId"],
            "status": "Success",
            "response_code": 0,
        }
    )
    assert changes.seen() != seen
    assert changes.wait_past(seen, 60) is True
