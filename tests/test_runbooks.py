"""The Automation runbooks: parameters, references to the Command documents, the failure path, their scripts."""

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from releaseflow.documents import load_document

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = load_document(ROOT / "automation/releaseflow-Deploy.yaml")
ROLLBACK_FLEET = load_document(ROOT / "automation/releaseflow-RollbackFleet.yaml")
RUNBOOKS = [DEPLOY, ROLLBACK_FLEET]
COMMAND_DOCUMENTS = {path.stem: load_document(path).content for path in (ROOT / "documents").glob("*.yaml")}
HOSTILE_VALUES = ["main; rm -rf /", "$(id)", "`id`", "a\nb", "a && b", "'a'", '"a"', "a|b"]
REALISTIC = {
    "Revision": ["0123456789abcdef0123456789abcdef01234567", "v1.2.3", "release/2026-11"],
    "ExecutionId": ["0c9e6c5e-1f1b-4d2e-9b7a-2f6a8d0e9c11"],
    "FleetTagKey": ["releaseflow:fleet", "app"],
    "FleetTagValue": ["shop-production", "Shop Staging"],
    "MigrationTagKey": ["releaseflow:migrate"],
    "BatchSize": ["1", "3", "25%", "100%"],
    "TargetGroupArn": [
        "",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/50dc6c495c0c9188",
    ],
    "AutomationAssumeRole": ["", "arn:aws:iam::123456789012:role/releaseflow-automation"],
    "AppDir": ["/srv/app"],
    "AppUser": ["rails"],
    "GitRemote": ["origin"],
    "EnvironmentFile": ["/srv/app/.env"],
    "RailsEnv": ["production"],
    "InstallCommand": ["bundle install --jobs=4"],
    "MigrateCommand": ["bundle exec rails db:migrate"],
    "Services": ["puma", "sidekiq"],
    "HealthCheckPath": ["/up"],
    "HealthCheckPort": ["auto", "3000"],
    "HealthCheckRetries": ["10"],
    "HealthCheckTimeoutSeconds": ["5"],
}
CONTRACT_PARAMETERS = {
    "Revision",
    "AppDir",
    "AppUser",
    "GitRemote",
    "EnvironmentFile",
    "RailsEnv",
    "InstallCommand",
    "MigrateCommand",
    "Services",
    "ReloadNginx",
    "HealthCheckPath",
    "HealthCheckPort",
    "HealthCheckRetries",
    "HealthCheckTimeoutSeconds",
    "ExpectRevision",
    "FleetTagKey",
    "FleetTagValue",
    "MigrationTagKey",
    "BatchSize",
    "TargetGroupArn",
    "AutomationAssumeRole",
}
FAILURE_PATH = "PickReachableHosts"
ROLLBACK_LOOP = "RollBackHosts"


def go_match(pattern: str, value: str) -> bool:
    """The service's check: Go's regexp.MatchString, where `$` only matches at the very end."""
    if pattern.endswith("$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value) is not None


def steps_of(document):
    """name -> step for every step, nested loop steps included."""
    return {step["name"]: step for _, step in document.steps()}


def run_commands(document):
    return [step for _, step in document.steps() if step["action"] == "aws:runCommand"]


def script_namespace(document, step_name: str) -> dict:
    """Execute a step's inline Script in a fresh namespace, as aws:executeScript does."""
    namespace: dict = {}
    exec(steps_of(document)[step_name]["inputs"]["Script"], namespace)
    return namespace


def test_runbooks_pass_strict_validation():
    """`releaseflow validate --strict` (documents and runbooks together) reports nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "releaseflow", "validate", "--strict", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_runbooks_are_console_ready(document):
    """Schema 0.3, a markdown description with a heading, outputs that name a step's declared outputs."""
    content = document.content
    assert content["schemaVersion"] == "0.3"
    assert content["description"].startswith("# ")
    assert content["assumeRole"] == "{{ AutomationAssumeRole }}"
    steps = steps_of(document)
    for output in content["outputs"]:
        step, name = output.split(".")
        assert name in {o["Name"] for o in steps[step]["outputs"]}, output


def runbook_parameters():
    for document in RUNBOOKS:
        for name, definition in document.content["parameters"].items():
            yield pytest.param(name, definition, id=f"{document.name}.{name}")


@pytest.mark.parametrize(("name", "definition"), list(runbook_parameters()))
def test_every_parameter_is_described_and_fenced(name, definition):
    """Each parameter has a type, a description and allowed values or an anchored pattern that holds."""
    assert definition["type"] in {"String", "StringList"}
    assert len(definition["description"]) > 20
    if "allowedValues" in definition:
        assert definition["default"] in definition["allowedValues"]
        return
    pattern = definition["allowedPattern"]
    assert pattern.startswith("^") and pattern.endswith("$")
    for value in HOSTILE_VALUES:
        assert not go_match(pattern, value), value
    for value in REALISTIC[name]:
        assert go_match(pattern, value), value
    if name == "Revision":
        for value in ["--upload-pack=evil", "a..b", "HEAD@{1}"]:
            assert not go_match(pattern, value), value


def test_deploy_has_the_contract_parameters():
    """The release runbook takes exactly the parameters CONTRACTS.md lists."""
    assert set(DEPLOY.content["parameters"]) == CONTRACT_PARAMETERS


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_commands_name_real_documents_unpinned_with_their_parameters(document):
    """runCommand steps name a document in documents/, no DocumentVersion, and pass its required parameters."""
    for step in run_commands(document):
        inputs = step["inputs"]
        assert "DocumentVersion" not in inputs, step["name"]
        declared = COMMAND_DOCUMENTS[inputs["DocumentName"]]["parameters"]
        assert set(inputs["Parameters"]) <= set(declared), step["name"]
        required = {name for name, d in declared.items() if "default" not in d}
        assert required <= set(inputs["Parameters"]), step["name"]
        for name, value in inputs["Parameters"].items():
            if name in document.content["parameters"]:
                assert value in (f"{{{{ {name} }}}}", "{{ automation:EXECUTION_ID }}"), (step["name"], name)


def test_deploy_order():
    """Preflight, then the migration host (checkout, migrate, drain, restart, health, back), then the batches."""
    names = [step["name"] for step in DEPLOY.content["mainSteps"]]
    assert names[: names.index("UpdateBatches") + 1] == [
        "ListFleet",
        "ListAgents",
        "PlanRollout",
        "CheckOutMigrationHost",
        "MigrateOnMigrationHost",
        "DrainMigrationHostFirst",
        "DeregisterMigrationHost",
        "WaitMigrationHostDrained",
        "RestartMigrationHost",
        "HealthCheckMigrationHost",
        "MigrationHostInService",
        "RegisterMigrationHost",
        "WaitMigrationHostHealthy",
        "AnyOtherHosts",
        "UpdateBatches",
    ]
    nested = [step["name"] for step in steps_of(DEPLOY)["UpdateBatches"]["inputs"]["Steps"]]
    assert nested == [
        "ListBatchAgents",
        "PickBatch",
        "DrainFirst",
        "DeregisterBatch",
        "WaitBatchDrained",
        "CheckOutBatch",
        "RestartBatch",
        "HealthCheckBatch",
        "RegisterAfter",
        "RegisterBatch",
        "WaitBatchHealthy",
        "BatchDone",
    ]
    assert steps_of(DEPLOY)["Finish"]["isEnd"] is True


def assert_drained_around(sequence: list[dict], restart: str, host_targets) -> None:
    """In `sequence`, the step `restart` runs between a drain of the same targets and their return to service."""
    names = [step["name"] for step in sequence]
    by_name = {step["name"]: step for step in sequence}
    elb = {
        (step["inputs"]["Api"], step["inputs"].get("DesiredValues", [None])[0]): names.index(step["name"])
        for step in sequence
        if step["inputs"].get("Service") == "elbv2"
    }
    assert elb[("DeregisterTargets", None)] < elb[("DescribeTargetHealth", "unused")] < names.index(restart)
    assert names.index(restart) < elb[("RegisterTargets", None)] < elb[("DescribeTargetHealth", "healthy")]
    for step in sequence:
        if step["inputs"].get("Service") == "elbv2":
            assert step["inputs"]["Targets"] == host_targets, step["name"]
    # Without a target group the branch before the drain goes straight to the restart.
    drain_branch = by_name[names[elb[("DeregisterTargets", None)] - 1]]
    assert drain_branch["action"] == "aws:branch"
    assert drain_branch["inputs"]["Choices"][0]["Variable"] == "{{ TargetGroupArn }}"


def test_migration_host_is_drained_before_its_restart():
    """Behind a load balancer the migration host is deregistered and drained before RestartMigrationHost,
    and registered and healthy again after its health check, before any batch goes out."""
    names = [step["name"] for step in DEPLOY.content["mainSteps"]]
    before_batches = DEPLOY.content["mainSteps"][: names.index("UpdateBatches")]
    assert_drained_around(before_batches, "RestartMigrationHost", [{"Id": "{{ PlanRollout.MigrationHost }}"}])
    assert names.index("WaitMigrationHostHealthy") < names.index("UpdateBatches")
    assert names.index("MigrateOnMigrationHost") < names.index("DeregisterMigrationHost")


def test_batches_are_drained_before_their_restart():
    """Each batch is deregistered and drained before RestartBatch and healthy in the target group after."""
    nested = steps_of(DEPLOY)["UpdateBatches"]["inputs"]["Steps"]
    assert_drained_around(nested, "RestartBatch", "{{ PickBatch.Targets }}")


def test_only_the_migration_host_migrates():
    """Exactly one step runs releaseflow-Migrate, and only on the migration host."""
    migrations = [s for s in run_commands(DEPLOY) if s["inputs"]["DocumentName"] == "releaseflow-Migrate"]
    assert [s["inputs"]["InstanceIds"] for s in migrations] == [["{{ PlanRollout.MigrationHost }}"]]


def test_every_step_that_touches_hosts_fails_into_the_rollback():
    """From the first checkout to the last batch, every step's failure leads to the fleet rollback."""
    names = [step["name"] for step in DEPLOY.content["mainSteps"]]
    touching = names[names.index("CheckOutMigrationHost") : names.index("Finish")]
    nested = [step["name"] for step in steps_of(DEPLOY)["UpdateBatches"]["inputs"]["Steps"]]
    for name in [n for n in touching if n != "AnyOtherHosts"] + nested[:-1]:
        assert steps_of(DEPLOY)[name]["onFailure"] == f"step:{FAILURE_PATH}", name


def test_every_step_that_touches_hosts_cancels_into_the_rollback():
    """From the first checkout to the last batch, a cancel (SIGTERM to the trigger) runs the failure path."""
    names = [step["name"] for step in DEPLOY.content["mainSteps"]]
    touching = names[names.index("CheckOutMigrationHost") : names.index("Finish")]
    nested = [step["name"] for step in steps_of(DEPLOY)["UpdateBatches"]["inputs"]["Steps"]]
    for name in [n for n in touching if n != "UpdateBatches"] + nested:
        assert steps_of(DEPLOY)[name]["onCancel"] == f"step:{FAILURE_PATH}", name


def test_failure_path_rolls_back_this_execution_then_reports():
    """Each reachable host in turn is sent the rollback with this execution's id; the path ends in a failing report."""
    steps = steps_of(DEPLOY)
    assert steps[FAILURE_PATH]["inputs"]["InputPayload"]["Hosts"] == "{{ PlanRollout.AllHosts }}"
    assert steps[ROLLBACK_LOOP]["inputs"]["Iterators"] == "{{ PickReachableHosts.Reachable }}"
    assert steps[ROLLBACK_LOOP]["onFailure"] == "Continue"
    host = ["{{ RollBackHosts.CurrentIteratorValue }}"]
    for name in ["CheckHost", "RollBackHost"]:
        inputs = steps[name]["inputs"]
        assert (inputs["DocumentName"], inputs["InstanceIds"]) == ("releaseflow-Rollback", host), name
        assert inputs["Parameters"]["ExecutionId"] == "{{ automation:EXECUTION_ID }}", name
    assert steps["CheckHost"]["inputs"]["Parameters"]["CheckOnly"] == "true"
    assert "CheckOnly" not in steps["RollBackHost"]["inputs"]["Parameters"]
    assert steps["ReregisterFleet"]["inputs"]["Api"] == "RegisterTargets"
    assert steps["ReportFailure"]["isEnd"] is True
    for name in ["CheckOutMigrationHost", "CheckOutBatch"]:
        assert steps[name]["inputs"]["Parameters"]["ExecutionId"] == "{{ automation:EXECUTION_ID }}"


def test_failure_path_drains_each_host_around_its_rollback():
    """Behind a load balancer a host is deregistered and drained before releaseflow-Rollback restarts it,
    and registered and healthy again before the next host goes out."""
    nested = steps_of(DEPLOY)[ROLLBACK_LOOP]["inputs"]["Steps"]
    assert_drained_around(nested, "RollBackHost", [{"Id": "{{ RollBackHosts.CurrentIteratorValue }}"}])
    names = [step["name"] for step in nested]
    assert names.index("CheckHost") < names.index("NeedsRollback") < names.index("DeregisterHost")
    assert (
        names.index("RollBackHost") < names.index("HealthCheckRolledBackHost") < names.index("RegisterHost")
    )


def test_failure_path_skips_hosts_the_check_finds_untouched():
    """Only the check's `no rollback needed` skips a host; any other answer, or a failed check, rolls it back."""
    steps = steps_of(DEPLOY)
    choice = steps["NeedsRollback"]["inputs"]["Choices"]
    assert choice == [
        {"NextStep": "HostDone", "Variable": "{{ CheckHost.Output }}", "Contains": "no rollback needed"}
    ]
    assert steps["NeedsRollback"]["inputs"]["Default"] == "DrainBeforeRollback"
    assert steps["CheckHost"]["onFailure"] == "step:DrainBeforeRollback"


def test_one_host_failing_its_rollback_does_not_stop_the_others():
    """Every step of the per-host rollback fails forward inside the loop, never out of it."""
    nested = steps_of(DEPLOY)[ROLLBACK_LOOP]["inputs"]["Steps"]
    names = {step["name"] for step in nested}
    for step in nested[:-1]:
        assert step["onFailure"] == "Continue" or step["onFailure"][len("step:") :] in names, step["name"]
        assert "onCancel" not in step, step["name"]


def test_rollback_fleet_plans_with_the_deploy_script():
    """RollbackFleet orders hosts with the very same planning script as Deploy."""
    assert (
        steps_of(ROLLBACK_FLEET)["PlanRollout"]["inputs"]["Script"]
        == steps_of(DEPLOY)["PlanRollout"]["inputs"]["Script"]
    )


def test_plan_refuses_offline_hosts():
    """The planning script fails the deploy before any change when a fleet host is not online."""
    handler = script_namespace(DEPLOY, "PlanRollout")["handler"]
    payload = {
        "Reservations": [{"Instances": [{"InstanceId": "i-0a"}, {"InstanceId": "i-0b"}]}],
        "InstanceInformation": [
            {"InstanceId": "i-0a", "PingStatus": "Online"},
            {"InstanceId": "i-0b", "PingStatus": "ConnectionLost"},
        ],
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match="not online in Systems Manager: i-0b"):
        handler(payload, None)


def online(*hosts: str) -> list[dict]:
    """DescribeInstanceInformation's list with these hosts Online."""
    return [{"InstanceId": host, "PingStatus": "Online"} for host in hosts]


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_pick_batch_returns_the_batch_of_the_iteration(document):
    """PickBatch turns the loop's iterator value into that batch's instance ids."""
    handler = script_namespace(document, "PickBatch")["handler"]
    batches = json.dumps([["i-0b"], ["i-0c", "i-0d"]])
    result = handler({"Batches": batches, "Index": "1", "InstanceInformation": online("i-0c", "i-0d")}, None)
    assert result["InstanceIds"] == ["i-0c", "i-0d"]


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_pick_batch_refuses_a_batch_with_a_host_lost_since_the_preflight(document):
    """A batch host that is no longer Online fails PickBatch at once, naming it, before any command waits on it."""
    handler = script_namespace(document, "PickBatch")["handler"]
    agents = [*online("i-0c", "i-0b"), {"InstanceId": "i-0d", "PingStatus": "ConnectionLost"}]
    batches = json.dumps([["i-0b"], ["i-0c", "i-0d", "i-0e"]])
    with pytest.raises(
        ValueError, match=r"not online in Systems Manager, so this batch does not start: i-0d, i-0e$"
    ):
        handler({"Batches": batches, "Index": "1", "InstanceInformation": agents}, None)


def test_batches_list_the_agents_just_before_picking():
    """Each batch asks Systems Manager afresh (the preflight's answer may be an hour old by then)."""
    for document, loop in [(DEPLOY, "UpdateBatches"), (ROLLBACK_FLEET, "RollBackBatches")]:
        nested = steps_of(document)[loop]["inputs"]["Steps"]
        assert [step["name"] for step in nested[:2]] == ["ListBatchAgents", "PickBatch"]
        assert nested[0]["inputs"]["Api"] == "DescribeInstanceInformation"
        payload = nested[1]["inputs"]["InputPayload"]
        assert payload["InstanceInformation"] == "{{ ListBatchAgents.InstanceInformation }}"
    assert (
        steps_of(ROLLBACK_FLEET)["PickBatch"]["inputs"]["Script"]
        == steps_of(DEPLOY)["PickBatch"]["inputs"]["Script"]
    )


def rollback_script(tmp_path: Path, record: dict[str, str], **parameters: str) -> subprocess.CompletedProcess:
    """Run releaseflow-Rollback's script with the agent's SSM_ variables against a checkout in tmp_path."""
    step = COMMAND_DOCUMENTS["releaseflow-Rollback"]["mainSteps"][0]
    script = tmp_path / "_script.sh"
    script.write_text("\n".join(step["inputs"]["runCommand"]))
    folder = tmp_path / "app" / ".git" / "releaseflow"
    folder.mkdir(parents=True)
    for name, text in record.items():
        (folder / name).write_text(text + "\n")
    defaults = {"AppDir": str(tmp_path / "app"), "AppUser": "rails"}
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


class FakeSsm:
    """The two SSM calls ReportFailure makes, answering a failed health check on one host of a batch."""

    def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
        assert AutomationExecutionId == "exec-1"
        return {
            "StepExecutions": [
                {
                    "StepName": "CheckOutMigrationHost",
                    "Action": "aws:runCommand",
                    "StepStatus": "Success",
                    "Outputs": {"CommandId": ["c-0"]},
                },
                {"StepName": "UpdateBatches", "Action": "aws:loop", "StepStatus": "Failed"},
                {
                    "StepName": "HealthCheckBatch",
                    "Action": "aws:runCommand",
                    "StepStatus": "Failed",
                    "Outputs": {"CommandId": ["c-1"]},
                    "FailureMessage": "Step fails when it is Poll action.",
                },
            ]
        }

    def list_command_invocations(self, CommandId):
        assert CommandId == "c-1"
        return {
            "CommandInvocations": [
                {"InstanceId": "i-0b", "Status": "Success"},
                {"InstanceId": "i-0c", "Status": "Failed"},
            ]
        }


def test_report_failure_names_the_failed_step_and_host(monkeypatch):
    """ReportFailure raises naming the failed step and only the hosts where its command failed."""
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda service: FakeSsm()))
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(RuntimeError) as raised:
        handler({"ExecutionId": "exec-1"}, None)
    assert str(raised.value) == (
        "deploy failed (hosts this execution switched were sent releaseflow-Rollback): "
        "step HealthCheckBatch Failed on i-0c (Failed): Step fails when it is Poll action."
    )


def test_report_failure_still_fails_when_the_lookup_fails(monkeypatch):
    """Without access to SSM, ReportFailure still fails the execution and says why it has no details."""

    def client(service):
        raise OSError("no route to the endpoint")

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(
        RuntimeError, match=r"\): a step failed \(the details could not be looked up: no route"
    ):
        handler({"ExecutionId": "exec-1"}, None)


def test_rollback_fleet_undoes_the_given_execution_migration_host_first():
    """RollbackFleet sends the given ExecutionId, batch by batch, the migration host alone first."""
    steps = steps_of(ROLLBACK_FLEET)
    assert steps["RollBackBatches"]["inputs"]["Iterators"] == "{{ PlanRollout.AllBatchIndexes }}"
    assert steps["RollBackBatch"]["inputs"]["Parameters"]["ExecutionId"] == "{{ ExecutionId }}"
    handler = script_namespace(ROLLBACK_FLEET, "PlanRollout")["handler"]
    payload = {
        "Reservations": [{"Instances": [{"InstanceId": i} for i in ["i-0c", "i-0a", "i-0b"]]}],
        "InstanceInformation": [{"InstanceId": i, "PingStatus": "Online"} for i in ["i-0a", "i-0b", "i-0c"]],
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
    }
    result = handler(payload, None)
    assert json.loads(result["AllBatches"]) == [["i-0a"], ["i-0b", "i-0c"]]
    assert result["AllBatchIndexes"] == ["0", "1"]


class FakeAgents:
    """DescribeInstanceInformation answering i-0a Online and i-0b ConnectionLost, in two pages."""

    def describe_instance_information(self, Filters, NextToken=None):
        assert Filters == [{"Key": "InstanceIds", "Values": ["i-0b", "i-0a", "i-0c"]}]
        if NextToken is None:
            return {
                "InstanceInformationList": [{"InstanceId": "i-0a", "PingStatus": "Online"}],
                "NextToken": "2",
            }
        return {"InstanceInformationList": [{"InstanceId": "i-0b", "PingStatus": "ConnectionLost"}]}


def test_pick_reachable_hosts_leaves_out_hosts_that_are_not_online(monkeypatch):
    """The failure path rolls back only hosts online now, in the deploy's order, and names the others."""
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda service: FakeAgents()))
    handler = script_namespace(DEPLOY, "PickReachableHosts")["handler"]
    assert handler({"Hosts": ["i-0b", "i-0a", "i-0c"]}, None) == {
        "Reachable": ["i-0a"],
        "Unreachable": "i-0b, i-0c",
    }


def test_pick_reachable_hosts_without_an_answer_picks_every_host(monkeypatch):
    """When SSM cannot be asked, every host is sent the rollback, as before the check existed."""

    def client(service):
        raise OSError("no route to the endpoint")

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    handler = script_namespace(DEPLOY, "PickReachableHosts")["handler"]
    assert handler({"Hosts": ["i-0b", "i-0a"]}, None) == {"Reachable": ["i-0b", "i-0a"], "Unreachable": ""}


class FakeSsmWithLostHost(FakeSsm):
    """FakeSsm where the failure path found i-0d unreachable."""

    def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
        page = super().describe_automation_step_executions(AutomationExecutionId, NextToken)
        picked = {
            "StepName": "PickReachableHosts",
            "Action": "aws:executeScript",
            "StepStatus": "Success",
            "Outputs": {"Reachable": ["i-0b", "i-0c"], "Unreachable": ["i-0d"]},
        }
        return {"StepExecutions": [*page["StepExecutions"], picked]}


def test_report_failure_names_unreachable_hosts_and_what_to_run(monkeypatch):
    """Hosts left out of the rollback are named, with the fleet rollback to run once they are back."""
    monkeypatch.setitem(
        sys.modules, "boto3", types.SimpleNamespace(client=lambda service: FakeSsmWithLostHost())
    )
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(RuntimeError) as raised:
        handler({"ExecutionId": "exec-1"}, None)
    assert str(raised.value).endswith(
        "; unreachable, so not rolled back: i-0d (once they are back, run releaseflow-RollbackFleet "
        "with ExecutionId exec-1)"
    )


class FakeSsmCancelled(FakeSsm):
    """FakeSsm where the health check was cancelled (StopAutomationExecution) instead of failing."""

    def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
        page = super().describe_automation_step_executions(AutomationExecutionId, NextToken)
        return {
            "StepExecutions": [
                {**s, "StepStatus": "Cancelled"} if s["StepName"] == "HealthCheckBatch" else s
                for s in page["StepExecutions"]
            ]
        }


def test_report_failure_after_a_cancel_says_cancelled(monkeypatch):
    """Reached through onCancel, the report says the deploy was cancelled, naming the cancelled step."""
    monkeypatch.setitem(
        sys.modules, "boto3", types.SimpleNamespace(client=lambda service: FakeSsmCancelled())
    )
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(RuntimeError) as raised:
        handler({"ExecutionId": "exec-1"}, None)
    assert str(raised.value).startswith(
        "deploy cancelled (hosts this execution switched were sent releaseflow-Rollback): "
        "step HealthCheckBatch Cancelled on i-0c (Failed)"
    )


class FakeSsmWithFailedRollback(FakeSsm):
    """FakeSsm where, after the health check failed, one host's rollback failed too."""

    def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
        page = super().describe_automation_step_executions(AutomationExecutionId, NextToken)
        rollback = {
            "StepName": "RollBackHost",
            "Action": "aws:runCommand",
            "StepStatus": "Failed",
            "Outputs": {"CommandId": ["c-2"]},
            "FailureMessage": "Command c-2 ended with status Failed",
        }
        return {"StepExecutions": [*page["StepExecutions"], rollback]}

    def list_command_invocations(self, CommandId):
        if CommandId == "c-2":
            return {"CommandInvocations": [{"InstanceId": "i-0b", "Status": "Failed"}]}
        return super().list_command_invocations(CommandId)


def test_report_failure_names_the_original_failure_before_a_failed_rollback(monkeypatch):
    """A host whose rollback failed is named too, after the step that made the deploy fail."""
    monkeypatch.setitem(
        sys.modules, "boto3", types.SimpleNamespace(client=lambda service: FakeSsmWithFailedRollback())
    )
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(RuntimeError) as raised:
        handler({"ExecutionId": "exec-1"}, None)
    assert str(raised.value) == (
        "deploy failed (hosts this execution switched were sent releaseflow-Rollback): "
        "step HealthCheckBatch Failed on i-0c (Failed): Step fails when it is Poll action.; "
        "step RollBackHost Failed on i-0b (Failed): Command c-2 ended with status Failed"
    )
