"""RollbackFleet's scripts (ReadDeploy, Finish, ReportFailure) and releaseflow-Rollback's check-only answer."""

import json
import subprocess
from pathlib import Path

import pytest

from aws_fakes import ARN, FakeClient, FakeClock, FakeElb
from published import published_handler, published_runbooks
from releaseflow.documents import load_document
from releaseflow.runbook_scripts import await_commands, read_deploy, rollback_finish, rollback_report

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = load_document(ROOT / "automation" / "releaseflow-Deploy.yaml")


class FakeDeployHistory(FakeClient):
    """A deploy's execution, its SwitchBatch steps, its runbook's defaults, and a command still running."""

    def __init__(self, status, parameters, switched, running_polls=0):
        super().__init__()
        self.status, self.parameters, self.switched = status, parameters, switched
        self.running_polls = running_polls  # how many ListCommands answers still show a command running

    def get_automation_execution(self, AutomationExecutionId):
        assert AutomationExecutionId == "d-1"
        execution = {
            "DocumentName": "releaseflow-Deploy",
            "DocumentVersion": "3",
            "Parameters": self.parameters,
            "CurrentStepName": "UpdateBatches",
        }
        return {"AutomationExecution": {**execution, "AutomationExecutionStatus": self.status}}

    def describe_automation_step_executions(self, AutomationExecutionId, Filters, NextToken=None):
        assert Filters == [{"Key": "StepName", "Values": ["SwitchBatch"]}]
        return {"StepExecutions": [{"Inputs": {"InstanceIds": json.dumps(ids)}} for ids in self.switched]}

    def describe_instance_information(self, Filters, NextToken=None):
        return {
            "InstanceInformationList": [
                {"InstanceId": h, "PingStatus": "Online"} for h in Filters[0]["Values"]
            ]
        }

    def list_commands(self, InstanceId=None, NextToken=None):
        self.note("list_commands", {"InstanceId": InstanceId})
        status = "InProgress" if self.running_polls > 0 else "Cancelled"
        self.running_polls -= 1
        return {
            "Commands": [
                {"CommandId": "c-1", "Status": status, "DocumentName": "releaseflow-CheckoutRevision"}
            ]
        }

    def get_document(self, Name, DocumentVersion, DocumentFormat):
        assert (Name, DocumentVersion, DocumentFormat) == ("releaseflow-Deploy", "3", "JSON")
        return {"Content": json.dumps(DEPLOY.content)}


def test_read_deploy_takes_the_deploys_parameters_unless_overridden():
    """Empty overrides take the deploy's values (its runbook's default when unlisted); given ones win;
    Switched lists the hosts SwitchBatch was sent to, once no command still runs on them."""
    parameters = {"FleetTagValue": ["shop"], "Services": ["puma", "sidekiq"]}
    history = FakeDeployHistory("Cancelled", parameters, [["i-0b"], ["i-0a", "i-0c"]], running_polls=2)
    overrides = {"FleetTagValue": "", "AppDir": "", "AppUser": "deploy", "Services": []}
    clock = FakeClock()
    result = read_deploy.handler(
        {"ExecutionId": "d-1", "Overrides": overrides}, None, ssm=history, clock=clock
    )
    assert result == {
        "FleetTagValue": "shop",
        "AppDir": "/srv/app",
        "AppUser": "deploy",
        "Services": ["puma", "sidekiq"],
        "ExecutionId": "d-1",
        "Switched": json.dumps(["i-0b", "i-0a", "i-0c"]),
        # The deploy's switch and restart bounds (its runbook's defaults here): the rollback's.
        "RollbackSeconds": "1200",
        "Watch": json.dumps(["i-0b", "i-0a", "i-0c"]),
        # The delivery timeout plus the longest command bound (the default 900 s switch), from the start.
        "CommandsUntil": "961",
        "CommandsRunning": "false",
    }
    # It looked again, every 2 s, until the command on the first host had ended, then at each other host once.
    assert [call["InstanceId"] for name, call in history.calls] == ["i-0b", "i-0b", "i-0b", "i-0a", "i-0c"]
    assert clock.slept == [read_deploy.POLL_SECONDS] * 2


@pytest.mark.parametrize(
    ("given", "services"),
    [
        (["web"], ["web"]),
        ('["web", "worker"]', ["web", "worker"]),
        ("web, worker", ["web", "worker"]),
        ("[]", ["puma", "sidekiq"]),
        ("", ["puma", "sidekiq"]),
        ([], ["puma", "sidekiq"]),
    ],
)
def test_read_deploy_takes_services_however_a_nested_map_passes_a_string_list(given, services):
    """How a StringList parameter reaches a map inside InputPayload is not documented: as a list, or as
    its JSON or comma-separated text. Each gives the same services; an empty one, the deploy's."""
    parameters = {"FleetTagValue": ["shop"], "Services": ["puma", "sidekiq"]}
    history = FakeDeployHistory("Failed", parameters, [["i-0a"]])
    result = read_deploy.handler(
        {"ExecutionId": "d-1", "Overrides": {"Services": given}}, None, ssm=history, clock=FakeClock()
    )
    assert result["Services"] == services


def test_read_deploy_bounds_the_rollback_by_the_deploys_switch_and_restart_bounds():
    """RollbackSeconds is the deploy's SwitchTimeoutSeconds + RestartTimeoutSeconds, as that deploy ran."""
    parameters = {"SwitchTimeoutSeconds": ["15"], "RestartTimeoutSeconds": ["60"]}
    history = FakeDeployHistory("Failed", parameters, [["i-0a"]])
    result = read_deploy.handler(
        {"ExecutionId": "d-1", "Overrides": {}}, None, ssm=history, clock=FakeClock()
    )
    assert result["RollbackSeconds"] == "75"


def test_read_deploy_waits_for_a_deploy_still_changing_hosts_then_fails_clearly():
    """A deploy still running (not yet waiting for its rollback) holds the rollback back for 540 s, polled
    every 2 s, then fails it naming the deploy and what to do."""
    clock = FakeClock()
    with pytest.raises(
        TimeoutError,
        match=r"^execution d-1 of releaseflow-Deploy is still InProgress \(step UpdateBatches\): stop it",
    ):
        read_deploy.handler(
            {"ExecutionId": "d-1", "Overrides": {}},
            None,
            ssm=FakeDeployHistory("InProgress", {}, []),
            clock=clock,
        )
    assert set(clock.slept) == {read_deploy.POLL_SECONDS}
    assert 540 < clock.now <= 540 + read_deploy.POLL_SECONDS


def test_read_deploy_goes_on_once_the_deploy_waits_for_its_rollback():
    """A deploy running in AwaitRollback changes no host any more: ReadDeploy does not wait for it."""

    class Awaiting(FakeDeployHistory):
        def get_automation_execution(self, AutomationExecutionId):
            answer = super().get_automation_execution(AutomationExecutionId)
            answer["AutomationExecution"]["CurrentStepName"] = read_deploy.AWAITING
            return answer

    clock = FakeClock()
    result = read_deploy.handler(
        {"ExecutionId": "d-1", "Overrides": {}}, None, ssm=Awaiting("InProgress", {}, [["i-0a"]]), clock=clock
    )
    assert (result["Switched"], clock.slept) == ('["i-0a"]', [])


class StepsByFilter(FakeDeployHistory):
    """A deploy whose StepName-filtered listing answers `filtered` and whose whole listing answers `steps`."""

    def __init__(self, filtered, steps, error=None):
        super().__init__("Cancelled", {}, [])
        self.filtered, self.steps, self.error = filtered, steps, error

    def describe_automation_step_executions(self, AutomationExecutionId, Filters=None, NextToken=None):
        if self.error:
            raise self.error
        if Filters == [{"Key": "StepName", "Values": ["PlanRollout"]}]:
            return {
                "StepExecutions": [{"StepName": "PlanRollout", "Outputs": {"AllHosts": ["i-0a", "i-0b"]}}]
            }
        return {"StepExecutions": self.filtered if Filters else self.steps}


def switched_by(history) -> str:
    return read_deploy.handler({"ExecutionId": "d-1", "Overrides": {}}, None, ssm=history, clock=FakeClock())[
        "Switched"
    ]


def switch(*hosts):
    return {"StepName": "SwitchBatch", "Inputs": {"InstanceIds": json.dumps(list(hosts))}}


def test_read_deploy_rolls_back_every_host_when_the_filter_finds_no_switch_of_a_deploy_whose_batches_ran():
    """An empty StepName-filtered answer for a deploy whose batch loop ran means every fleet host, never none."""
    ran = [{"StepName": "UpdateBatches"}, {"StepName": "DrainBatch"}]
    history = StepsByFilter([], ran)
    assert switched_by(history) == "all"


def test_read_deploy_takes_the_switches_the_unfiltered_listing_shows_when_the_filter_shows_none():
    """SwitchBatch iterations missing from the filtered answer are read from the whole step listing."""
    history = StepsByFilter([], [{"StepName": "UpdateBatches"}, switch("i-0b"), switch("i-0a", "i-0b")])
    assert switched_by(history) == json.dumps(["i-0b", "i-0a"])


def test_read_deploy_finds_nothing_to_roll_back_only_when_the_batches_never_ran():
    """A deploy that failed while preparing lists no batch step: nothing to roll back."""
    history = StepsByFilter([], [{"StepName": "PrepareHosts"}, {"StepName": "PrepareChunk"}])
    assert switched_by(history) == "[]"


def test_read_deploy_rolls_back_every_host_when_the_deploys_steps_cannot_be_read():
    """An unreadable step listing (an error, or inputs that are not a JSON list) means every fleet host,
    and the commands are watched on every host the deploy planned."""
    history = StepsByFilter([], [], error=RuntimeError("AccessDenied"))
    assert switched_by(history) == "all"
    garbled = StepsByFilter([{"StepName": "SwitchBatch", "Inputs": {"InstanceIds": "i-0a,i-0b"}}], [])
    result = read_deploy.handler(
        {"ExecutionId": "d-1", "Overrides": {}}, None, ssm=garbled, clock=FakeClock()
    )
    assert (result["Switched"], result["Watch"]) == ("all", json.dumps(["i-0a", "i-0b"]))


def test_read_deploy_bounds_its_command_wait_by_the_deploys_own_bounds_and_hands_the_rest_on():
    """CommandsUntil is the delivery timeout plus the deploy's longest batch bound (here its restart's), from
    ReadDeploy's start; a command still running when ReadDeploy's own 540 s end is handed on as running."""
    parameters = {
        "SwitchTimeoutSeconds": ["15"],
        "RestartTimeoutSeconds": ["600"],
        "HealthCheckRetries": ["2"],
        "HealthCheckTimeoutSeconds": ["5"],
    }
    history = FakeDeployHistory("Cancelled", parameters, [["i-0a"]], running_polls=10_000)
    clock = FakeClock(start=1000.0)
    result = read_deploy.handler({"ExecutionId": "d-1", "Overrides": {}}, None, ssm=history, clock=clock)
    assert result["CommandsUntil"] == str(1000 + 60 + 600 + 1)
    assert result["CommandsRunning"] == "true"
    assert 1540 < clock.now <= 1540 + read_deploy.POLL_SECONDS


def test_await_commands_hands_on_while_the_bound_holds_and_fails_past_it_so_no_rollback_runs_beside_one():
    """AwaitHostCommands waits at most 540 s a run: Running true while the deploy's bound is ahead, a failure
    naming the command once it has passed, Running false once the command has ended."""
    events = {"Watch": json.dumps(["i-0a"]), "CommandsUntil": "2000"}
    still = FakeDeployHistory("Cancelled", {}, [], running_polls=10_000)
    assert await_commands.handler(events, None, ssm=still, clock=FakeClock(start=1000.0)) == {
        "Running": "true"
    }
    with pytest.raises(TimeoutError, match=r"^commands c-1 still run past the deploy's own bounds"):
        await_commands.handler(events, None, ssm=still, clock=FakeClock(start=1700.0))
    ended = FakeDeployHistory("Cancelled", {}, [], running_polls=3)
    assert await_commands.handler(events, None, ssm=ended, clock=FakeClock(start=1700.0)) == {
        "Running": "false"
    }


def test_rollback_fleet_finish_registers_every_fleet_host_and_names_the_unreachable():
    """Finish puts every running fleet host back (one drained but never switched too) and names skipped hosts."""
    elb = FakeElb([])
    events = {
        "ExecutionId": "d-1",
        "Batches": json.dumps([["i-0a"], ["i-0c", "i-0d"]]),
        "Skipped": "none",
        "TargetGroupArn": ARN,
        "FleetHosts": json.dumps(["i-0b", "i-0a"]),
    }
    assert rollback_finish.handler(events, None, elb=elb) == {
        "ExecutionId": "d-1",
        "Hosts": ["i-0a", "i-0c, i-0d"],
    }
    assert [call["Targets"] for _, call in elb.calls] == [[{"Id": "i-0a"}], [{"Id": "i-0b"}]]
    with pytest.raises(
        RuntimeError, match=r"^unreachable, so not rolled back: i-0c \(once they are back, run"
    ):
        rollback_finish.handler({**events, "Skipped": "i-0c"}, None, elb=elb)


def test_rollback_fleet_report_registers_every_host_on_its_own_then_fails():
    """After a failed batch every fleet host is registered again, a stopped one named, and the rollback fails."""
    elb = FakeElb([], stopped=["i-0b"])

    class Steps(FakeClient):
        def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
            failed = {"StepName": "HealthCheckBatch", "StepStatus": "Failed", "FailureMessage": "unhealthy"}
            return {"StepExecutions": [failed]}

    events = {
        "ExecutionId": "r-1",
        "Deploy": "d-1",
        "TargetGroupArn": ARN,
        "FleetHosts": json.dumps(["i-0b", "i-0a"]),
    }
    with pytest.raises(RuntimeError) as raised:
        rollback_report.handler(events, None, ssm=Steps(), elb=elb)
    assert str(raised.value) == (
        "rollback of d-1 stopped at a failed batch; later batches were not rolled back (run "
        "releaseflow-RollbackFleet with ExecutionId d-1 again): step HealthCheckBatch Failed: unhealthy; "
        "the load balancer refused i-0b: InvalidTarget: The following targets are not in a running state"
    )
    assert elb.state == {"i-0a": "initial"}


def rollback_script(tmp_path: Path, record: dict[str, str], **parameters: str) -> subprocess.CompletedProcess:
    """Run releaseflow-Rollback's script with the agent's SSM_ variables against a checkout in tmp_path."""
    document = load_document(ROOT / "documents" / "releaseflow-Rollback.yaml").content
    script = tmp_path / "_script.sh"
    script.write_text("\n".join(document["mainSteps"][0]["inputs"]["runCommand"]))
    folder = tmp_path / "app" / ".git" / "releaseflow"
    folder.mkdir(parents=True)
    for name, text in record.items():
        (folder / name).write_text(text + "\n")
    defaults = {"AppDir": str(tmp_path / "app"), "AppUser": "rails", "DrainSeconds": "0"}
    environment = {f"SSM_{k}": v for k, v in (defaults | {"Services": "puma"} | parameters).items()}
    return subprocess.run(
        ["bash", str(script)], env=environment, capture_output=True, text=True, check=False, timeout=30
    )


@pytest.mark.parametrize(
    ("record", "answer"),
    [
        ({"execution-id": "exec-1", "previous-revision": "abc"}, "rollback needed: execution exec-1"),
        ({"execution-id": "exec-0", "previous-revision": "abc"}, "no rollback needed: this host was not"),
        ({}, "no rollback needed: this host was not switched by execution exec-1 (record: none)"),
        (
            {"execution-id": "exec-1", "previous-revision": "abc", "rolled-back": "exec-1"},
            "no rollback needed: already rolled back",
        ),
    ],
)
def test_rollback_check_only_answers_and_changes_nothing(tmp_path, record, answer):
    """CheckOnly=true says whether the host's record asks for the rollback, and touches neither git nor services."""
    result = rollback_script(tmp_path, record, ExecutionId="exec-1", CheckOnly="true")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(answer)
    folder = tmp_path / "app" / ".git" / "releaseflow"
    assert {path.name: path.read_text().strip() for path in folder.iterdir()} == record


def test_a_rollback_fleet_published_with_a_prefix_refuses_to_undo_another_environments_deploy():
    """Published with staging-, ReadDeploy refuses an execution of the unprefixed releaseflow-Deploy."""
    rollback = published_runbooks("staging-")["staging-releaseflow-RollbackFleet"]
    handler = published_handler(rollback, "ReadDeploy")
    with pytest.raises(
        ValueError, match=r"^execution d-1 is a run of releaseflow-Deploy, not of staging-releaseflow-Deploy$"
    ):
        handler(
            {"ExecutionId": "d-1", "Overrides": {}},
            None,
            ssm=FakeDeployHistory("Failed", {}, [["i-0a"]]),
            clock=FakeClock(),
        )
