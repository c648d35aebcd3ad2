"""aws:runCommand: SendCommand with the step's inputs, polling to a terminal status, outputs and failures."""

from engine_helpers import FakeChanges, FakeFleet, runbook, statuses
from releaseflow.rehearsal.engine.context import POLL_INTERVAL


def command_step(instance_ids, **step):
    """An aws:runCommand step named deploy with every kind of SendCommand input."""
    return {
        "name": "deploy",
        "action": "aws:runCommand",
        "inputs": {
            "DocumentName": "releaseflow-HealthCheck",
            "DocumentVersion": 3,
            "InstanceIds": instance_ids,
            "Parameters": {"Retries": 10, "Services": "{{ Services }}", "Path": "/up"},
            "MaxConcurrency": 1,
            "MaxErrors": "0",
            "TimeoutSeconds": "600",
            "Comment": "hi",
        },
        "outputs": [{"Name": "Id", "Selector": "$.CommandId", "Type": "String"}],
        **step,
    }


PARAMETERS = {"Services": {"type": "StringList", "default": ["puma", "sidekiq"]}}


def test_send_command_request_and_success_outputs(execute, clock):
    """SendCommand gets API-shaped values; the step polls to Success and exposes CommandId, Status, Output."""
    fleet = FakeFleet({"i-1": {}, "i-2": {}})
    run = execute(runbook(command_step(["i-1", "i-2"]), parameters=PARAMETERS), aws=fleet)
    assert fleet.calls[0][2] == {
        "DocumentName": "releaseflow-HealthCheck",
        "DocumentVersion": "3",
        "InstanceIds": ["i-1", "i-2"],
        "Parameters": {"Retries": ["10"], "Services": ["puma", "sidekiq"], "Path": ["/up"]},
        "MaxConcurrency": "1",
        "MaxErrors": "0",
        "TimeoutSeconds": 600,
        "Comment": "hi",
    }
    assert fleet.apis() == ["SendCommand", "ListCommands", "ListCommands", "ListCommandInvocations"]
    step = run.step_executions()[0]
    assert step["StepStatus"] == "Success"
    assert step["Outputs"] == {
        "CommandId": ["cmd-1"],
        "Status": ["Success"],
        "ResponseCode": ["0"],
        "Output": ["releaseflow-HealthCheck on i-1"],
        "Id": ["cmd-1"],
    }
    assert 0 < sum(clock.slept) <= 0.5


def test_failed_instance_fails_the_step_and_is_named(execute):
    """A command that fails on one host fails the step; FailureMessage names that host and status."""
    fleet = FakeFleet({"i-1": {}, "i-2": {}}, fail={("releaseflow-HealthCheck", "i-2"): "Failed"})
    run = execute(runbook(command_step(["i-1", "i-2"]), parameters=PARAMETERS), aws=fleet)
    step = run.step_executions()[0]
    assert step["StepStatus"] == "Failed"
    assert step["FailureMessage"] == (
        "Step fails when it is Poll action status for completion. Command cmd-1 (releaseflow-HealthCheck) "
        "ended with status Failed: i-2 Failed, response code 1"
    )
    assert step["Outputs"]["CommandId"] == ["cmd-1"]
    assert step["FailureDetails"]["Details"]["FailedInstances"] == ["i-2"]
    assert "Step deploy (aws:runCommand) Failed." in run.execution()["FailureMessage"]


def test_step_timeout_cancels_the_command(execute):
    """When the step times out while the command runs, the command is cancelled and the step TimedOut."""
    fleet = FakeFleet({"i-1": {}})
    fleet.list_commands = lambda params: {"Commands": [{"Status": "InProgress"}]}
    fleet.handlers[("ssm", "ListCommands")] = fleet.list_commands
    run = execute(runbook(command_step(["i-1"], timeoutSeconds=10), parameters=PARAMETERS), aws=fleet)
    assert statuses(run) == [("deploy", "TimedOut")]
    assert fleet.apis()[-1] == "CancelCommand"


def test_unknown_input_fails_the_step(execute):
    """An input SendCommand does not take fails the step, naming it."""
    step = command_step(["i-1"])
    step["inputs"]["Bogus"] = 1
    run = execute(runbook(step, parameters=PARAMETERS), aws=FakeFleet({"i-1": {}}))
    assert run.step_executions()[0]["FailureMessage"] == "aws:runCommand does not take the input(s) Bogus"


def test_more_than_50_instance_ids_are_refused_before_any_command(execute):
    """aws:runCommand with 51 InstanceIds fails its step, naming AWS's limit of 50, and sends nothing."""
    ids = [f"i-{n}" for n in range(51)]
    fleet = FakeFleet({instance_id: {} for instance_id in ids})
    run = execute(runbook(command_step(ids), parameters=PARAMETERS), aws=fleet)
    assert statuses(run) == [("deploy", "Failed")]
    assert "lists 51 instances; aws:runCommand takes at most 50" in run.step_executions()[0]["FailureMessage"]
    assert fleet.sent() == []


def _command_ending_at(fleet, clock, at):
    fleet.handlers[("ssm", "ListCommands")] = lambda params: {
        "Commands": [{"Status": "Success" if clock() >= at else "InProgress"}]
    }


def test_beside_the_endpoint_a_long_command_is_polled_seldom_and_its_end_noticed_at_once(execute, clock):
    """With the endpoint's change count, the pauses between ListCommands grow to a second, and the change
    that ends the command ends the pause: 30 s of command, a few dozen calls, no lag."""
    fleet = FakeFleet({"i-1": {}})
    ends = clock() + 30
    _command_ending_at(fleet, clock, ends)
    run = execute(
        runbook(command_step(["i-1"]), parameters=PARAMETERS),
        aws=fleet,
        changes=FakeChanges(clock, ends),
    )
    assert statuses(run) == [("deploy", "Success")]
    assert fleet.apis().count("ListCommands") <= 40
    assert clock() - ends < 0.001


def test_elsewhere_a_command_is_polled_every_poll_interval(execute, clock):
    """Without the change count (a test's fake AWS, any engine apart from the endpoint) nothing would end a
    long pause early, so no pause passes POLL_INTERVAL and a command's end is seen within one."""
    fleet = FakeFleet({"i-1": {}})
    ends = clock() + 1
    _command_ending_at(fleet, clock, ends)
    run = execute(runbook(command_step(["i-1"]), parameters=PARAMETERS), aws=fleet)
    assert statuses(run) == [("deploy", "Success")]
    assert max(clock.slept) <= POLL_INTERVAL
    assert clock() - ends <= POLL_INTERVAL
