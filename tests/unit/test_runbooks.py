"""The Automation runbooks: parameters, references to the Command documents, the failure path, their scripts."""

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from injection import assert_pattern_guards
from published import published_runbooks
from releaseflow.documents import load_document
from releaseflow.goregexp import AUTOMATION, full_match, match_string
from releaseflow.ssm import SCRIPT_SECONDS, duration_seconds

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = load_document(ROOT / "automation/releaseflow-Deploy.yaml")
ROLLBACK_FLEET = load_document(ROOT / "automation/releaseflow-RollbackFleet.yaml")
RUNBOOKS = [DEPLOY, ROLLBACK_FLEET]
# The runbooks as `publish --prefix staging-` sends them.
STAGING = published_runbooks("staging-")
COMMAND_DOCUMENTS = {path.stem: load_document(path).content for path in (ROOT / "documents").glob("*.yaml")}
REALISTIC = {
    "Revision": ["0123456789abcdef0123456789abcdef01234567", "v1.2.3", "release/2026-11"],
    "ExecutionId": ["0c9e6c5e-1f1b-4d2e-9b7a-2f6a8d0e9c11"],
    "FleetTagKey": ["releaseflow:fleet", "app"],
    "FleetTagValue": ["shop-production", "Shop Staging"],
    "MigrationTagKey": ["releaseflow:migrate"],
    "BatchSize": ["1", "3", "25%", "100%"],
    "BakeSeconds": ["0", "3", "45", "120", "300"],
    "TargetGroupArn": [
        "",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/50dc6c495c0c9188",
    ],
    "AutomationAssumeRole": ["arn:aws:iam::123456789012:role/releaseflow-automation"],
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
    "SwitchTimeoutSeconds": ["900", "30"],
    "RestartTimeoutSeconds": ["300", "600", "5"],
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
    "Migrate",
    "BakeSeconds",
    "SwitchTimeoutSeconds",
    "RestartTimeoutSeconds",
}
# Steps that appear, with the very same script, in both runbooks.
SHARED_SCRIPTS = ["Lock", "ListFleet", "PlanRollout", "DrainBatch", "RegisterBatch"]
# The steps that change hosts, one batch at a time.
BATCH_LOOPS = {"releaseflow-Deploy": "UpdateBatches", "releaseflow-RollbackFleet": "RollBackBatches"}


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
    assert definition["type"] in {"String", "StringList", "AWS::IAM::Role::Arn"}
    assert len(definition["description"]) > 20
    if "allowedValues" in definition:
        assert definition["default"] in definition["allowedValues"]
        return
    pattern = definition["allowedPattern"]
    assert_pattern_guards(pattern, REALISTIC[name] + [""] * (definition.get("default") == ""), AUTOMATION)
    if name == "Revision":
        for value in ["--upload-pack=evil", "a..b", "HEAD@{1}"]:
            assert not match_string(pattern, value, AUTOMATION), value


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
                # RollbackFleet passes the deploy's value, or the override given to it (ReadDeploy resolves).
                same = (f"{{{{ {name} }}}}", f"{{{{ ReadDeploy.{name} }}}}", "{{ automation:EXECUTION_ID }}")
                assert value in same, (step["name"], name)


def test_assume_role_is_required_and_typed():
    """Both runbooks require AutomationAssumeRole as an IAM role ARN: their scripts call AWS with it."""
    for document in RUNBOOKS:
        role = document.content["parameters"]["AutomationAssumeRole"]
        assert role["type"] == "AWS::IAM::Role::Arn" and "default" not in role, document.name


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_every_step_has_a_description(document):
    """Every step, nested ones included, says what it does in the console."""
    for _, step in document.steps():
        assert len(step.get("description", "")) > 15, step["name"]


def nested(document, loop: str) -> list[dict]:
    return steps_of(document)[loop]["inputs"]["Steps"]


def test_deploy_order():
    """Preflight, prepare every host, migrate once, then one loop over batches; the failure and cancel paths after."""
    names = [step["name"] for step in DEPLOY.content["mainSteps"]]
    assert names == [
        "Lock",
        "ListFleet",
        "PlanRollout",
        "PrepareHosts",
        "MigrateOrNot",
        "MigrateOnMigrationHost",
        "UpdateBatches",
        "BakeOrNot",
        "BakeFleet",
        "Finish",
        "StartRollback",
        "AwaitRollback",
        "ReportFailure",
        "RollBackOnCancel",
    ]
    assert steps_of(DEPLOY)["Finish"]["isEnd"] is True


def test_a_batch_is_five_steps_drain_switch_restart_health_register_with_no_step_for_the_bake():
    """A batch is five Automation steps, written once for every batch; the bake adds none."""
    assert [step["name"] for step in nested(DEPLOY, "UpdateBatches")] == [
        "DrainBatch",
        "SwitchBatch",
        "RestartBatch",
        "HealthCheckBatch",
        "RegisterBatch",
    ]
    documents = [s["inputs"].get("DocumentName") for s in nested(DEPLOY, "UpdateBatches")]
    assert documents == [
        None,
        "releaseflow-CheckoutRevision",
        "releaseflow-RestartServices",
        "releaseflow-HealthCheck",
        None,
    ]
    register = nested(DEPLOY, "UpdateBatches")[-1]
    assert register["inputs"]["InputPayload"]["BakeSeconds"] == "{{ BakeSeconds }}"
    assert steps_of(DEPLOY)["UpdateBatches"]["inputs"]["Iterators"] == "{{ PlanRollout.BatchIndexes }}"


def test_the_last_bake_is_one_cancellable_sleep_after_the_loop_skipped_when_zero():
    """After the loop: a branch skips to Finish when BakeSeconds is 0, else BakeFleet sleeps BakeSeconds;
    a cancel there, or in Finish, starts the rollback like a cancel during the batches."""
    steps = steps_of(DEPLOY)
    branch = steps["BakeOrNot"]
    assert branch["action"] == "aws:branch"
    assert branch["inputs"] == {
        "Choices": [{"NextStep": "Finish", "Variable": "{{ BakeSeconds }}", "StringEquals": "0"}],
        "Default": "BakeFleet",
    }
    bake = steps["BakeFleet"]
    assert (bake["action"], bake["inputs"]) == ("aws:sleep", {"Duration": "PT{{ BakeSeconds }}S"})
    for name in ("BakeOrNot", "BakeFleet"):
        assert steps[name]["onFailure"] == "step:StartRollback", name
    for name in ("BakeOrNot", "BakeFleet", "Finish"):
        assert steps[name]["onCancel"] == "step:RollBackOnCancel", name


def test_bake_seconds_admits_exactly_what_register_batch_can_bake_within_its_600_seconds():
    """BakeSeconds' allowedPattern admits 0..MAX_BAKE_SECONDS, written plainly (PT0S..PT300S), and the
    health wait plus the longest bake stay inside aws:executeScript's 600 s."""
    namespace = script_namespace(DEPLOY, "RegisterBatch")
    pattern = DEPLOY.content["parameters"]["BakeSeconds"]["allowedPattern"]
    admitted = [
        n for n in range(10000) if match_string(pattern, str(n), AUTOMATION) and full_match(pattern, str(n))
    ]
    assert admitted == list(range(namespace["MAX_BAKE_SECONDS"] + 1))
    for refused in ("007", "301", "9999", "-1", "1.5", " 3", "3 ", ""):
        assert not match_string(pattern, refused, AUTOMATION), refused
    assert duration_seconds(f"PT{namespace['MAX_BAKE_SECONDS']}S") == namespace["MAX_BAKE_SECONDS"]
    assert namespace["WAIT_SECONDS"] + 2 * namespace["POLL_SECONDS"] < SCRIPT_SECONDS
    assert namespace["MAX_BAKE_SECONDS"] < namespace["WAIT_SECONDS"]


def test_every_host_prepares_while_serving_before_the_migration():
    """Fetch and install run on every host, at most 50 a command, before the migration and any drain."""
    steps = steps_of(DEPLOY)
    loop = steps["PrepareHosts"]["inputs"]
    assert loop["Iterators"] == "{{ PlanRollout.ChunkIndexes }}"
    assert [s["name"] for s in loop["Steps"]] == ["PickChunk", "PrepareChunk"]
    prepare = steps["PrepareChunk"]["inputs"]
    assert (prepare["DocumentName"], prepare["InstanceIds"]) == (
        "releaseflow-PrepareRevision",
        "{{ PickChunk.InstanceIds }}",
    )
    handler = script_namespace(DEPLOY, "PickChunk")["handler"]
    assert handler({"Chunks": json.dumps([["i-1"], ["i-2", "i-3"]]), "Index": "1"}, None) == {
        "InstanceIds": ["i-2", "i-3"]
    }


def test_only_the_migration_host_migrates_from_the_prepared_tree_unless_skipped():
    """One step runs releaseflow-Migrate, on the migration host, from the prepared revision; Migrate=false skips it."""
    migrations = [s for s in run_commands(DEPLOY) if s["inputs"]["DocumentName"] == "releaseflow-Migrate"]
    assert [s["inputs"]["InstanceIds"] for s in migrations] == [["{{ PlanRollout.MigrationHost }}"]]
    assert migrations[0]["inputs"]["Parameters"]["Checkout"] == "prepared"
    branch = steps_of(DEPLOY)["MigrateOrNot"]["inputs"]
    assert branch["Choices"] == [
        {"NextStep": "UpdateBatches", "Variable": "{{ Migrate }}", "StringEquals": "false"}
    ]
    assert branch["Default"] == "MigrateOnMigrationHost"


def test_the_migration_host_is_the_first_batch():
    """PlanRollout puts the migration host alone in batch 0, then the others in batches of BatchSize."""
    handler = script_namespace(DEPLOY, "PlanRollout")["handler"]
    instances = [{"InstanceId": i} for i in ["i-0c", "i-0a", "i-0b", "i-0d"]]
    instances[0]["Tags"] = [{"Key": "releaseflow:migrate", "Value": "true"}]
    payload = {
        "Instances": json.dumps(instances),
        "InstanceInformation": json.dumps(online("i-0a", "i-0b", "i-0c", "i-0d")),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0c"], ["i-0a", "i-0b"], ["i-0d"]]
    assert result["BatchIndexes"] == ["0", "1", "2"]
    assert json.loads(result["Chunks"]) == [["i-0c", "i-0a", "i-0b", "i-0d"]]


@pytest.mark.parametrize(
    ("instances", "agents", "message"),
    [
        ([], [], "no running instance carries the fleet tag"),
        ([{"InstanceId": "i-0a"}, {"InstanceId": "i-0b"}], [], "not online in Systems Manager: i-0a, i-0b"),
    ],
    ids=["empty-fleet", "no-agents"],
)
def test_plan_refuses_an_empty_fleet_or_one_without_agents_with_its_message(instances, agents, message):
    """An empty fleet, or one with no agents, fails PlanRollout with the message it means to give."""
    handler = script_namespace(DEPLOY, "PlanRollout")["handler"]
    payload = {
        "Instances": json.dumps(instances),
        "InstanceInformation": json.dumps(agents),
        "MigrationTagKey": "m",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        handler(payload, None)


def test_plan_refuses_offline_hosts():
    """The planning script fails the deploy before any change when a fleet host is not online."""
    handler = script_namespace(DEPLOY, "PlanRollout")["handler"]
    payload = {
        "Instances": json.dumps([{"InstanceId": "i-0a"}, {"InstanceId": "i-0b"}]),
        "InstanceInformation": json.dumps(
            [
                {"InstanceId": "i-0a", "PingStatus": "Online"},
                {"InstanceId": "i-0b", "PingStatus": "ConnectionLost"},
            ]
        ),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match="not online in Systems Manager: i-0b"):
        handler(payload, None)


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_shared_steps_run_the_very_same_script(document):
    """Lock, listing, planning, drain and register are one script each, the same text in both runbooks."""
    for name in SHARED_SCRIPTS:
        assert steps_of(document)[name]["inputs"]["Script"] == steps_of(DEPLOY)[name]["inputs"]["Script"], (
            name
        )


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_no_jump_between_nested_steps_and_no_nested_continue(document):
    """Inside a loop no step jumps to another nested step, and none continues on failure: both are open readings."""
    for _, loop in document.steps():
        if loop["action"] != "aws:loop":
            continue
        names = {step["name"] for step in loop["inputs"]["Steps"]}
        for step in loop["inputs"]["Steps"]:
            for key in ("onFailure", "onCancel", "nextStep"):
                target = step.get(key, "")
                assert target != "Continue", (step["name"], key)
                assert target.removeprefix("step:") not in names, (step["name"], key)
            assert step["action"] != "aws:branch", step["name"]
        # The loop itself goes where its nested steps go: the documented inheritance.
        failures = {step.get("onFailure") for step in loop["inputs"]["Steps"]}
        assert failures == {loop["onFailure"]}, loop["name"]


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_waits_select_one_value_and_listings_are_paginated_in_scripts(document):
    """No wait or assert selects several values; no executeAwsApi lists or registers hosts (one page, one call)."""
    for _, step in document.steps():
        inputs = step["inputs"]
        if step["action"] in ("aws:waitForAwsResourceProperty", "aws:assertAwsResourceProperty"):
            assert ".." not in inputs["PropertySelector"] and "*" not in inputs["PropertySelector"], step[
                "name"
            ]
        if step["action"] == "aws:executeAwsApi":
            assert inputs["Api"] == "StartAutomationExecution", step["name"]


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_every_run_command_is_bounded(document):
    """Every runCommand has a short delivery timeout and a step timeout, so a lost host fails its batch in minutes."""
    for step in run_commands(document):
        assert int(step["inputs"]["TimeoutSeconds"]) <= 60, step["name"]
        assert 0 < int(step["timeoutSeconds"]) <= 3660, step["name"]
        ids = step["inputs"]["InstanceIds"]
        # At most 50 ids: one host, a chunk or a batch of the plan (which caps both at 50).
        assert ids in (
            ["{{ PlanRollout.MigrationHost }}"],
            "{{ PickChunk.InstanceIds }}",
            "{{ DrainBatch.InstanceIds }}",
        ), step["name"]


# The batch steps that change or check a host, each bounded by the document's executionTimeout: the bound
# the runbook passes (a parameter or PlanRollout's output) and the step timeout that must outlast it.
HOST_COMMAND_BOUNDS = {
    ("releaseflow-Deploy", "SwitchBatch"): "{{ SwitchTimeoutSeconds }}",
    ("releaseflow-Deploy", "RestartBatch"): "{{ RestartTimeoutSeconds }}",
    ("releaseflow-Deploy", "HealthCheckBatch"): "{{ PlanRollout.HealthCheckSeconds }}",
    ("releaseflow-RollbackFleet", "HealthCheckBatch"): "{{ PlanRollout.HealthCheckSeconds }}",
    ("releaseflow-RollbackFleet", "RollBackBatch"): "{{ ReadDeploy.RollbackSeconds }}",
}


@pytest.mark.parametrize(("runbook", "step_name"), list(HOST_COMMAND_BOUNDS))
def test_host_commands_get_a_bounded_execution_timeout_that_their_step_outlasts(runbook, step_name):
    """Switch, restart and health check pass a bounded executionTimeout; the step waits delivery + that bound."""
    document = {d.name: d for d in RUNBOOKS}[runbook]
    step = next(s for s in run_commands(document) if s["name"] == step_name)
    assert step["inputs"]["Parameters"]["executionTimeout"] == HOST_COMMAND_BOUNDS[(runbook, step_name)]
    command = load_document(ROOT / "documents" / f"{step['inputs']['DocumentName']}.yaml").content
    # The document turns the parameter into its one plugin's timeout, so the agent stops the command too.
    assert [s["inputs"]["timeoutSeconds"] for s in command["mainSteps"]] == ["{{ executionTimeout }}"]
    pattern = command["parameters"]["executionTimeout"]["allowedPattern"]
    bound = step["inputs"]["Parameters"]["executionTimeout"].strip("{} ")
    if bound in DEPLOY.content["parameters"]:
        allowed = [
            n
            for n in range(1, 10000)
            if match_string(DEPLOY.content["parameters"][bound]["allowedPattern"], str(n), AUTOMATION)
        ]
        assert all(match_string(pattern, str(n), AUTOMATION) for n in allowed), bound
        most = max(allowed)
    else:
        # Computed by a script: the health check's at most 900 s; the rollback's the deploy's two maxima.
        most = {
            "PlanRollout.HealthCheckSeconds": MAX_HEALTH_SECONDS,
            "ReadDeploy.RollbackSeconds": 900 + 600,
        }[bound]
        assert match_string(pattern, str(most), AUTOMATION), bound
    assert int(step["inputs"]["TimeoutSeconds"]) + most <= int(step["timeoutSeconds"]), step_name


MAX_HEALTH_SECONDS = 900


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_plan_gives_the_health_check_all_its_tries_and_refuses_what_its_step_cannot_wait_for(document):
    """PlanRollout's health bound covers every try, with the 3 s delays, and refuses pairs needing over 900 s."""
    handler = script_namespace(document, "PlanRollout")["handler"]
    payload = {
        "Instances": json.dumps([{"InstanceId": "i-0a"}]),
        "InstanceInformation": json.dumps(online("i-0a")),
        "MigrationTagKey": "m",
        "BatchSize": "1",
        "Only": json.dumps(["i-0a"]) if document is not DEPLOY else "all",
    }
    for retries, try_seconds in [(1, 1), (10, 5), (60, 5), (13, 60)]:
        result = handler(
            {**payload, "HealthCheckRetries": str(retries), "HealthCheckTimeoutSeconds": str(try_seconds)},
            None,
        )
        seconds = int(result["HealthCheckSeconds"])
        assert retries * try_seconds + (retries - 1) * 3 < seconds <= MAX_HEALTH_SECONDS
    assert handler(payload, None)["HealthCheckSeconds"] == "107"  # the defaults: 10 tries of 5 s, 3 s apart
    with pytest.raises(
        ValueError, match="HealthCheckRetries 60 tries of up to HealthCheckTimeoutSeconds 60 s need"
    ):
        handler({**payload, "HealthCheckRetries": "60", "HealthCheckTimeoutSeconds": "60"}, None)


def test_every_batch_step_fails_and_cancels_into_starting_the_fleet_rollback():
    """In the batches a failure starts RollbackFleet and waits for it; a cancel only starts it and ends."""
    steps = steps_of(DEPLOY)
    for step in nested(DEPLOY, "UpdateBatches"):
        assert (step["onFailure"], step["onCancel"]) == ("step:StartRollback", "step:RollBackOnCancel"), step[
            "name"
        ]
    assert steps["UpdateBatches"]["onFailure"] == "step:StartRollback"
    for name in ["StartRollback", "RollBackOnCancel"]:
        inputs = steps[name]["inputs"]
        assert (inputs["Service"], inputs["Api"], inputs["DocumentName"]) == (
            "ssm",
            "StartAutomationExecution",
            "releaseflow-RollbackFleet",
        )
        assert inputs["Parameters"]["ExecutionId"] == ["{{ automation:EXECUTION_ID }}"]
    assert steps["RollBackOnCancel"]["isEnd"] is True
    assert (
        steps["AwaitRollback"]["inputs"]["AutomationExecutionId"] == "{{ StartRollback.RollbackExecutionId }}"
    )
    assert steps["ReportFailure"]["isEnd"] is True


def test_steps_before_the_batches_switch_nothing_so_they_roll_nothing_back():
    """Preparing and migrating change no served code: their failure reports at once, their cancel just stops."""
    steps = steps_of(DEPLOY)
    for name in ["PrepareHosts", "PickChunk", "PrepareChunk", "MigrateOnMigrationHost"]:
        assert steps[name]["onFailure"] == "step:ReportFailure", name
        assert "onCancel" not in steps[name], name


def test_rollback_fleet_waits_for_the_step_the_deploy_waits_in():
    """ReadDeploy starts once the deploy ended or sits in AwaitRollback, and reads the hosts SwitchBatch was sent to."""
    namespace = script_namespace(ROLLBACK_FLEET, "ReadDeploy")
    assert namespace["AWAITING"] in steps_of(DEPLOY)
    assert steps_of(DEPLOY)[namespace["AWAITING"]]["action"] == "aws:waitForAwsResourceProperty"
    assert '"SwitchBatch"' in steps_of(ROLLBACK_FLEET)["ReadDeploy"]["inputs"]["Script"]
    assert "SwitchBatch" in steps_of(DEPLOY)


def test_rollback_fleet_reverts_the_given_execution_batch_by_batch():
    """RollbackFleet sends releaseflow-Rollback with the deploy's id, in the deploy's batches, drained around it."""
    steps = steps_of(ROLLBACK_FLEET)
    assert [s["name"] for s in nested(ROLLBACK_FLEET, "RollBackBatches")] == [
        "DrainBatch",
        "RollBackBatch",
        "HealthCheckBatch",
        "RegisterBatch",
    ]
    assert steps["RollBackBatch"]["inputs"]["Parameters"]["ExecutionId"] == "{{ ExecutionId }}"
    assert steps["PlanRollout"]["inputs"]["InputPayload"]["Only"] == "{{ ReadDeploy.Switched }}"
    assert steps["Lock"]["inputs"]["InputPayload"]["Ignore"] == "{{ ExecutionId }}"


def test_rollback_fleet_needs_only_the_execution_id():
    """Every RollbackFleet parameter but ExecutionId and the role defaults to empty: the deploy's value."""
    parameters = ROLLBACK_FLEET.content["parameters"]
    required = {name for name, d in parameters.items() if "default" not in d}
    assert required == {"ExecutionId", "AutomationAssumeRole"}
    overrides = steps_of(ROLLBACK_FLEET)["ReadDeploy"]["inputs"]["InputPayload"]["Overrides"]
    assert set(overrides) == set(parameters) - required
    for name in overrides:
        assert parameters[name]["default"] in ("", []), name


def test_plan_for_a_rollback_keeps_the_switched_hosts_in_order_and_names_the_unreachable():
    """With Only, the plan keeps the deploy's order for the hosts it switched and skips, naming, the lost ones."""
    handler = script_namespace(ROLLBACK_FLEET, "PlanRollout")["handler"]
    payload = {
        "Instances": json.dumps([{"InstanceId": i} for i in ["i-0a", "i-0b", "i-0c", "i-0d"]]),
        "InstanceInformation": json.dumps(
            [
                *online("i-0a", "i-0c", "i-0d"),
                {"InstanceId": "i-0b", "PingStatus": "ConnectionLost"},
            ]
        ),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
        "Only": json.dumps(["i-0a", "i-0b", "i-0c", "i-0z"]),
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0a"], ["i-0c"]]
    assert result["Skipped"] == "i-0b, i-0z"
    nothing = handler({**payload, "Only": "[]"}, None)
    assert (nothing["BatchCount"], nothing["Skipped"]) == (0, "none")


def online(*hosts: str) -> list[dict]:
    """DescribeInstanceInformation's list with these hosts Online."""
    return [{"InstanceId": host, "PingStatus": "Online"} for host in hosts]


# --- The scripts against fake clients (boto3 replaced in sys.modules, as the script imports it) -----


class Paginator:
    """botocore's paginator over a fake method: follows NextToken."""

    def __init__(self, method):
        self.method = method

    def paginate(self, **request):
        while True:
            page = self.method(**request)
            yield page
            if not page.get("NextToken"):
                return
            request = {**request, "NextToken": page["NextToken"]}


class FakeClient:
    """A client whose get_paginator pages through its own methods; calls are recorded."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def get_paginator(self, name):
        return Paginator(getattr(self, name))

    def note(self, name, request):
        self.calls.append((name, request))


def with_clients(monkeypatch, **clients):
    """Make `boto3.client(service)` return the given fakes."""
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda service: clients[service]))


class FakeAgents(FakeClient):
    """DescribeInstanceInformation by InstanceIds, one host a page (so every page must be read)."""

    def __init__(self, online_hosts):
        super().__init__()
        self.online = set(online_hosts)

    def describe_instance_information(self, Filters, NextToken=None):
        self.note("describe_instance_information", {"Filters": Filters, "NextToken": NextToken})
        [only] = Filters
        assert only["Key"] == "InstanceIds" and len(only["Values"]) <= 50
        known = [h for h in only["Values"] if h in self.online]
        index = int(NextToken or 0)
        page = [{"InstanceId": h, "PingStatus": "Online"} for h in known[index : index + 1]]
        more = {"NextToken": str(index + 1)} if index + 1 < len(known) else {}
        return {"InstanceInformationList": page, **more}


class FakeEc2(FakeClient):
    """DescribeInstances in pages of one reservation, the first page empty (as EC2 may answer)."""

    def __init__(self, hosts):
        super().__init__()
        self.hosts = hosts

    def describe_instances(self, Filters, NextToken=None):
        self.note("describe_instances", {"Filters": Filters})
        index = int(NextToken or 0)
        if index == 0:
            return {"Reservations": [], "NextToken": "1"}
        page = [{"Instances": [{"InstanceId": self.hosts[index - 1], "Tags": []}]}]
        more = {"NextToken": str(index + 1)} if index < len(self.hosts) else {}
        return {"Reservations": page, **more}


def test_list_fleet_reads_every_page_and_asks_agents_by_id_50_at_a_time(monkeypatch):
    """ListFleet follows NextToken on both listings and filters agents by the fleet's ids, never by tag."""
    hosts = [f"i-{n:03d}" for n in range(120)]
    agents = FakeAgents(hosts[:-1])
    with_clients(monkeypatch, ec2=FakeEc2(hosts), ssm=agents)
    result = script_namespace(DEPLOY, "ListFleet")["handler"](
        {"FleetTagKey": "app", "FleetTagValue": "shop"}, None
    )
    assert [i["InstanceId"] for i in json.loads(result["Instances"])] == hosts
    assert sorted(a["InstanceId"] for a in json.loads(result["InstanceInformation"])) == hosts[:-1]
    firsts = [c[1]["Filters"][0]["Values"] for c in agents.calls if c[1]["NextToken"] is None]
    assert [len(values) for values in firsts] == [50, 50, 20]


class FakeElb(FakeClient):
    """A target group: deregistered targets drain after one look; RegisterTargets refuses stopped ones."""

    def __init__(self, registered, stopped=()):
        super().__init__()
        self.state = {h: "healthy" for h in registered}
        self.stopped = set(stopped)

    def deregister_targets(self, TargetGroupArn, Targets):
        self.note("deregister_targets", {"Targets": Targets})
        for target in Targets:
            self.state[target["Id"]] = "draining"

    def register_targets(self, TargetGroupArn, Targets):
        self.note("register_targets", {"Targets": Targets})
        if any(t["Id"] in self.stopped for t in Targets):
            raise RuntimeError("InvalidTarget: The following targets are not in a running state")
        for target in Targets:
            self.state[target["Id"]] = "initial"

    def describe_target_health(self, TargetGroupArn, Targets):
        self.note("describe_target_health", {"Targets": Targets})
        found = [{"Target": t, "TargetHealth": {"State": self.state.get(t["Id"], "unused")}} for t in Targets]
        # The next look finds drains done and registrations healthy.
        for host, state in self.state.items():
            self.state[host] = {"draining": "unused", "initial": "healthy"}.get(state, state)
        return {"TargetHealthDescriptions": found}


ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/50dc6c495c0c9188"


def no_sleep(namespace):
    namespace["time"] = types.SimpleNamespace(sleep=lambda s: None, monotonic=__import__("time").monotonic)
    return namespace


def test_drain_batch_refuses_a_host_lost_since_the_preflight_before_draining(monkeypatch):
    """A batch host that is no longer Online fails DrainBatch at once, naming it, and nothing is deregistered."""
    elb = FakeElb(["i-0c", "i-0d"])
    with_clients(monkeypatch, ssm=FakeAgents(["i-0c"]), elbv2=elb)
    handler = script_namespace(DEPLOY, "DrainBatch")["handler"]
    batches = json.dumps([["i-0b"], ["i-0c", "i-0d", "i-0e"]])
    with pytest.raises(
        ValueError, match=r"not online in Systems Manager, so this batch does not start: i-0d, i-0e$"
    ):
        handler({"Batches": batches, "Index": "1", "TargetGroupArn": ARN}, None)
    assert elb.calls == []


def test_drain_batch_deregisters_and_waits_until_every_host_is_unused(monkeypatch):
    """DrainBatch deregisters the batch and returns only once each of its targets is unused."""
    elb = FakeElb(["i-0b", "i-0c"])
    with_clients(monkeypatch, ssm=FakeAgents(["i-0b", "i-0c"]), elbv2=elb)
    handler = no_sleep(script_namespace(DEPLOY, "DrainBatch"))["handler"]
    result = handler({"Batches": json.dumps([["i-0b", "i-0c"]]), "Index": "0", "TargetGroupArn": ARN}, None)
    assert result == {"InstanceIds": ["i-0b", "i-0c"]}
    assert elb.state == {"i-0b": "unused", "i-0c": "unused"}
    assert [name for name, _ in elb.calls] == [
        "deregister_targets",
        "describe_target_health",
        "describe_target_health",
    ]


def test_drain_batch_without_a_target_group_only_checks_the_agents(monkeypatch):
    """Without TargetGroupArn the batch is just checked online and returned."""
    with_clients(monkeypatch, ssm=FakeAgents(["i-0b"]))
    handler = script_namespace(DEPLOY, "DrainBatch")["handler"]
    assert handler({"Batches": json.dumps([["i-0b"]]), "Index": "0", "TargetGroupArn": ""}, None) == {
        "InstanceIds": ["i-0b"]
    }


def test_register_batch_registers_each_host_so_a_stopped_one_keeps_no_other_out(monkeypatch):
    """A stopped host is refused and named; the other hosts of the batch are registered and healthy."""
    elb = FakeElb([], stopped=["i-0c"])
    with_clients(monkeypatch, elbv2=elb)
    handler = no_sleep(script_namespace(DEPLOY, "RegisterBatch"))["handler"]
    with pytest.raises(RuntimeError, match=r"^the load balancer refused i-0c: InvalidTarget"):
        handler(
            {"Batches": json.dumps([["i-0b", "i-0c", "i-0d"]]), "Index": "0", "TargetGroupArn": ARN}, None
        )
    assert elb.state == {"i-0b": "healthy", "i-0d": "healthy"}
    registers = [call["Targets"] for name, call in elb.calls if name == "register_targets"]
    assert registers == [[{"Id": "i-0b"}], [{"Id": "i-0c"}], [{"Id": "i-0d"}]]


def register_and_bake(monkeypatch, batches, index, elb=None, **payload):
    """RegisterBatch for batch `index` with a clock that only moves when the script sleeps:
    (its payload, the seconds it slept, the health wait's limit in seconds)."""
    clock = {"now": 0.0, "slept": []}

    def sleep(seconds):
        clock["slept"].append(seconds)
        clock["now"] += seconds

    if elb is not None:
        with_clients(monkeypatch, elbv2=elb)
    namespace = script_namespace(DEPLOY, "RegisterBatch")
    namespace["time"] = types.SimpleNamespace(sleep=sleep, monotonic=lambda: clock["now"])
    limits = []
    wait_until = namespace["wait_until"]

    def recorded(elb, arn, hosts, state, meaning, seconds):
        limits.append(seconds)
        return wait_until(elb, arn, hosts, state, meaning, seconds)

    namespace["wait_until"] = recorded
    arn = ARN if elb is not None else ""
    events = {"Batches": json.dumps(batches), "Index": str(index), "TargetGroupArn": arn, **payload}
    return namespace["handler"](events, None), sum(clock["slept"]), limits


def test_register_batch_bakes_after_the_migration_host_only_when_more_batches_follow(monkeypatch):
    """BakeSeconds after the first of several batches; no bake after any other batch (the last bakes in
    BakeFleet), nor when the migration host is the only batch."""
    batches = [["i-0a"], ["i-0b"], ["i-0c", "i-0d"]]
    result, slept, _ = register_and_bake(monkeypatch, batches, 0, BakeSeconds="30")
    assert (result, slept) == ({"InstanceIds": ["i-0a"], "BakedSeconds": 30}, 30)
    for index in (1, 2):
        result, slept, _ = register_and_bake(monkeypatch, batches, index, BakeSeconds="30")
        assert (result["BakedSeconds"], slept) == (0, 0)
    assert register_and_bake(monkeypatch, [["i-0a"]], 0, BakeSeconds="30")[1] == 0
    assert register_and_bake(monkeypatch, batches, 0, BakeSeconds="0")[1] == 0


def test_register_batch_bakes_once_the_migration_host_is_healthy_within_the_scripts_time(monkeypatch):
    """With a target group the bake follows the health wait, whose limit is what the bake leaves of 540 s."""
    elb = FakeElb([])
    result, slept, limits = register_and_bake(
        monkeypatch, [["i-0a"], ["i-0b"]], 0, elb=elb, BakeSeconds="300"
    )
    assert elb.state == {"i-0a": "healthy"}
    assert (result["BakedSeconds"], limits) == (300, [240])
    # One poll found the target initial (a 0.25 s pause), the next healthy; then the bake.
    assert slept == 0.25 + 300
    assert register_and_bake(monkeypatch, [["i-0a"], ["i-0b"]], 1, elb=FakeElb([]), BakeSeconds="300")[2] == [
        540
    ]


def test_register_batch_refuses_a_bake_longer_than_it_can_hold(monkeypatch):
    """A BakeSeconds past MAX_BAKE_SECONDS (the allowedPattern keeps it out) fails the step by name, unslept."""
    with pytest.raises(ValueError, match=r"^BakeSeconds 301 is more than the 300 s this step can bake$"):
        register_and_bake(monkeypatch, [["i-0a"], ["i-0b"]], 0, BakeSeconds="301")


def test_the_rollback_runs_the_register_script_without_a_bake(monkeypatch):
    """RollbackFleet passes no BakeSeconds to the shared RegisterBatch: it never bakes."""
    assert "BakeSeconds" not in nested(ROLLBACK_FLEET, "RollBackBatches")[-1]["inputs"]["InputPayload"]
    assert register_and_bake(monkeypatch, [["i-0a"], ["i-0b"]], 0)[1] == 0


class FakeExecutions(FakeClient):
    """DescribeAutomationExecutions / GetAutomationExecution over a table of executions."""

    def __init__(self, executions, ended=()):
        super().__init__()
        self.executions = executions  # id -> (document, start, parameters)
        self.ended = set(ended)  # not listed as active, still readable

    def describe_automation_executions(self, Filters, NextToken=None):
        prefix = Filters[0]["Values"][0]
        rows = [
            {"AutomationExecutionId": i, "DocumentName": d, "ExecutionStartTime": start}
            for i, (d, start, _) in self.executions.items()
            if d.startswith(prefix) and i not in self.ended
        ]
        return {"AutomationExecutionMetadataList": rows}

    def get_automation_execution(self, AutomationExecutionId):
        document, start, parameters = self.executions[AutomationExecutionId]
        execution = {"AutomationExecutionId": AutomationExecutionId, "DocumentName": document}
        return {"AutomationExecution": {**execution, "ExecutionStartTime": start, "Parameters": parameters}}


def lock(monkeypatch, document, me, executions, ended=(), **payload):
    with_clients(monkeypatch, ssm=FakeExecutions(executions, ended))
    handler = script_namespace(document, "Lock")["handler"]
    events = {"ExecutionId": me, "FleetTagKey": "app", "FleetTagValue": "shop", "Ignore": "none", **payload}
    return handler(events, None)


SHOP = {"FleetTagKey": ["app"], "FleetTagValue": ["shop"]}


def test_lock_lets_the_older_execution_on_a_fleet_go_on_and_the_younger_yield(monkeypatch):
    """Of two deploys on one fleet the younger fails naming the older; the older goes on."""
    executions = {"d-1": ("releaseflow-Deploy", 1, SHOP), "d-2": ("releaseflow-Deploy", 2, SHOP)}
    assert lock(monkeypatch, DEPLOY, "d-1", executions) == {"Fleet": "app=shop"}
    with pytest.raises(
        RuntimeError, match=r"^execution d-1 of releaseflow-Deploy is still running on fleet shop"
    ):
        lock(monkeypatch, DEPLOY, "d-2", executions)


def test_lock_ignores_other_fleets_prefixes_and_the_deploy_being_rolled_back(monkeypatch):
    """Other fleets and other prefixes do not hold the lock; RollbackFleet ignores the deploy it undoes."""
    executions = {
        "d-0": ("releaseflow-Deploy", 0, {"FleetTagKey": ["app"], "FleetTagValue": ["other"]}),
        "s-0": ("staging-releaseflow-Deploy", 0, SHOP),
        "d-1": ("releaseflow-Deploy", 1, SHOP),
        "r-1": (
            "releaseflow-RollbackFleet",
            2,
            {"ExecutionId": ["d-1"], "FleetTagKey": [""], "FleetTagValue": [""]},
        ),
    }
    assert lock(monkeypatch, ROLLBACK_FLEET, "r-1", executions, Ignore="d-1") == {"Fleet": "app=shop"}


def test_lock_sees_a_rollback_fleet_on_the_fleet_of_its_deploy(monkeypatch):
    """A RollbackFleet started with only an ExecutionId holds the lock on its (ended) deploy's fleet."""
    executions = {
        "d-1": ("releaseflow-Deploy", 1, SHOP),
        "r-1": ("releaseflow-RollbackFleet", 2, {"ExecutionId": ["d-1"], "FleetTagValue": [""]}),
        "d-2": ("releaseflow-Deploy", 3, SHOP),
    }
    with pytest.raises(RuntimeError, match=r"^execution r-1 of releaseflow-RollbackFleet is still running"):
        lock(monkeypatch, DEPLOY, "d-2", executions, ended=["d-1"])
    executions["d-1"] = ("releaseflow-Deploy", 1, {"FleetTagKey": ["app"], "FleetTagValue": ["elsewhere"]})
    assert lock(monkeypatch, DEPLOY, "d-2", executions, ended=["d-1"]) == {"Fleet": "app=shop"}


@pytest.mark.parametrize("runbook", ["releaseflow-Deploy", "releaseflow-RollbackFleet"])
def test_a_prefixed_lock_holds_against_its_own_environment_only(monkeypatch, runbook):
    """Published with staging-, Lock yields to an older staging execution on the fleet and ignores production's."""
    executions = {
        "p-0": ("releaseflow-Deploy", 0, SHOP),
        "s-1": ("staging-releaseflow-Deploy", 1, SHOP),
        "s-2": (f"staging-{runbook}", 2, SHOP),
    }
    published = STAGING[f"staging-{runbook}"]
    assert lock(monkeypatch, published, "s-1", executions) == {"Fleet": "app=shop"}
    with pytest.raises(RuntimeError, match=r"^execution s-1 of staging-releaseflow-Deploy is still running"):
        lock(monkeypatch, published, "s-2", executions)


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

    def list_commands(self, InstanceId, NextToken=None):
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
        return {
            "Content": (ROOT / "automation/releaseflow-Deploy.yaml").read_text()
            and json.dumps(DEPLOY.content)
        }


def test_read_deploy_takes_the_deploys_parameters_unless_overridden(monkeypatch):
    """Empty overrides take the deploy's values (its runbook's default when unlisted); given ones win;
    Switched lists the hosts SwitchBatch was sent to, once no command still runs on them."""
    parameters = {"FleetTagValue": ["shop"], "Services": ["puma", "sidekiq"]}
    history = FakeDeployHistory("Cancelled", parameters, [["i-0b"], ["i-0a", "i-0c"]], running_polls=2)
    with_clients(monkeypatch, ssm=history)
    handler = no_sleep(script_namespace(ROLLBACK_FLEET, "ReadDeploy"))["handler"]
    overrides = {"FleetTagValue": "", "AppDir": "", "AppUser": "deploy", "Services": []}
    result = handler({"ExecutionId": "d-1", "Overrides": overrides}, None)
    assert result == {
        "FleetTagValue": "shop",
        "AppDir": "/srv/app",
        "AppUser": "deploy",
        "Services": ["puma", "sidekiq"],
        "ExecutionId": "d-1",
        "Switched": json.dumps(["i-0b", "i-0a", "i-0c"]),
        # The deploy's switch and restart bounds (its runbook's defaults here): the rollback's.
        "RollbackSeconds": "1200",
    }
    # It looked again until the command on the first host had ended, then at each other host once.
    assert [call["InstanceId"] for name, call in history.calls] == ["i-0b", "i-0b", "i-0b", "i-0a", "i-0c"]


def test_read_deploy_bounds_the_rollback_by_the_deploys_switch_and_restart_bounds(monkeypatch):
    """RollbackSeconds is the deploy's SwitchTimeoutSeconds + RestartTimeoutSeconds, as that deploy ran."""
    parameters = {"SwitchTimeoutSeconds": ["15"], "RestartTimeoutSeconds": ["60"]}
    with_clients(monkeypatch, ssm=FakeDeployHistory("Failed", parameters, [["i-0a"]]))
    handler = no_sleep(script_namespace(ROLLBACK_FLEET, "ReadDeploy"))["handler"]
    assert handler({"ExecutionId": "d-1", "Overrides": {}}, None)["RollbackSeconds"] == "75"


def test_read_deploy_waits_for_a_deploy_still_changing_hosts(monkeypatch):
    """A deploy still running (not yet waiting for its rollback) holds the rollback back, then fails it clearly."""
    history = FakeDeployHistory("InProgress", {}, [])
    with_clients(monkeypatch, ssm=history)
    namespace = no_sleep(script_namespace(ROLLBACK_FLEET, "ReadDeploy"))
    namespace["WAIT_SECONDS"] = 0
    with pytest.raises(
        TimeoutError, match=r"execution d-1 of releaseflow-Deploy is still InProgress .*stop it first"
    ):
        namespace["handler"]({"ExecutionId": "d-1", "Overrides": {}}, None)


def test_a_prefixed_rollback_fleet_refuses_to_undo_another_environments_deploy(monkeypatch):
    """Published with staging-, ReadDeploy refuses an execution of the unprefixed releaseflow-Deploy."""
    with_clients(monkeypatch, ssm=FakeDeployHistory("Failed", {}, [["i-0a"]]))
    handler = no_sleep(script_namespace(STAGING["staging-releaseflow-RollbackFleet"], "ReadDeploy"))[
        "handler"
    ]
    with pytest.raises(
        ValueError, match=r"^execution d-1 is a run of releaseflow-Deploy, not of staging-releaseflow-Deploy$"
    ):
        handler({"ExecutionId": "d-1", "Overrides": {}}, None)


def test_rollback_fleet_finish_registers_every_fleet_host_and_names_the_unreachable(monkeypatch):
    """Finish puts every running fleet host back (one drained but never switched too) and names skipped hosts."""
    elb = FakeElb([])
    with_clients(monkeypatch, elbv2=elb)
    handler = script_namespace(ROLLBACK_FLEET, "Finish")["handler"]
    events = {
        "ExecutionId": "d-1",
        "Hosts": ["i-0a"],
        "Skipped": "none",
        "TargetGroupArn": ARN,
        "Instances": json.dumps([{"InstanceId": "i-0b"}, {"InstanceId": "i-0a"}]),
    }
    assert handler(events, None) == {"ExecutionId": "d-1", "Hosts": ["i-0a"]}
    assert [call["Targets"] for _, call in elb.calls] == [[{"Id": "i-0a"}], [{"Id": "i-0b"}]]
    with pytest.raises(
        RuntimeError, match=r"^unreachable, so not rolled back: i-0c \(once they are back, run"
    ):
        handler({**events, "Skipped": "i-0c"}, None)


def test_rollback_fleet_report_registers_every_host_on_its_own_then_fails(monkeypatch):
    """After a failed batch every fleet host is registered again, a stopped one named, and the rollback fails."""
    elb = FakeElb([], stopped=["i-0b"])

    class Steps(FakeClient):
        def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
            failed = {"StepName": "HealthCheckBatch", "StepStatus": "Failed", "FailureMessage": "unhealthy"}
            return {"StepExecutions": [failed]}

    with_clients(monkeypatch, elbv2=elb, ssm=Steps())
    handler = script_namespace(ROLLBACK_FLEET, "ReportFailure")["handler"]
    events = {
        "ExecutionId": "r-1",
        "Deploy": "d-1",
        "TargetGroupArn": ARN,
        "Instances": json.dumps([{"InstanceId": "i-0b"}, {"InstanceId": "i-0a"}]),
    }
    with pytest.raises(RuntimeError) as raised:
        handler(events, None)
    assert str(raised.value) == (
        "rollback of d-1 stopped at a failed batch; later batches were not rolled back (run "
        "releaseflow-RollbackFleet with ExecutionId d-1 again): step HealthCheckBatch Failed: unhealthy; "
        "the load balancer refused i-0b: InvalidTarget: The following targets are not in a running state"
    )
    assert elb.state == {"i-0a": "initial"}


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


class FakeSsm(FakeClient):
    """The SSM calls ReportFailure makes: a failed health check on one host of a batch, then the rollback."""

    def __init__(self, rollback_status="Success", extra=()):
        super().__init__()
        self.rollback_status = rollback_status
        self.extra = list(extra)

    def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
        assert AutomationExecutionId == "exec-1"
        return {
            "StepExecutions": [
                {"StepName": "SwitchBatch", "Action": "aws:runCommand", "StepStatus": "Success"},
                {"StepName": "UpdateBatches", "Action": "aws:loop", "StepStatus": "Failed"},
                {
                    "StepName": "HealthCheckBatch",
                    "Action": "aws:runCommand",
                    "StepStatus": "Failed",
                    "Outputs": {"CommandId": ["c-1"]},
                    "FailureMessage": "Step fails when it is Poll action.",
                },
                {
                    "StepName": "StartRollback",
                    "Action": "aws:executeAwsApi",
                    "StepStatus": "Success",
                    "Outputs": {"RollbackExecutionId": ["r-1"]},
                },
                *self.extra,
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

    def get_automation_execution(self, AutomationExecutionId):
        assert AutomationExecutionId == "r-1"
        failure = (
            {"FailureMessage": "unreachable, so not rolled back: i-0d"}
            if self.rollback_status != "Success"
            else {}
        )
        return {"AutomationExecution": {"AutomationExecutionStatus": self.rollback_status, **failure}}


def report(monkeypatch, ssm) -> str:
    with_clients(monkeypatch, ssm=ssm)
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(RuntimeError) as raised:
        handler({"ExecutionId": "exec-1"}, None)
    return str(raised.value)


def test_report_failure_names_the_failed_step_the_host_and_the_rollback(monkeypatch):
    """ReportFailure names the failed step, only the hosts where its command failed, and the rollback's outcome."""
    assert report(monkeypatch, FakeSsm()) == (
        "deploy failed: step HealthCheckBatch Failed on i-0c (Failed): Step fails when it is Poll action.. "
        "releaseflow-RollbackFleet r-1 rolled back the hosts this execution switched."
    )


def test_report_failure_passes_on_what_the_rollback_could_not_do(monkeypatch):
    """A rollback that failed (a host unreachable) is named with its own message."""
    assert report(monkeypatch, FakeSsm("Failed")).endswith(
        "releaseflow-RollbackFleet r-1 ended Failed: unreachable, so not rolled back: i-0d"
    )


def test_report_failure_without_command_outputs_names_the_hosts_the_command_went_to(monkeypatch):
    """A failed runCommand may report no outputs: the hosts it was sent to are named instead."""
    lost = {
        "StepName": "SwitchBatch",
        "Action": "aws:runCommand",
        "StepStatus": "TimedOut",
        "Inputs": {"InstanceIds": json.dumps(["i-0e", "i-0f"])},
    }
    assert "step SwitchBatch TimedOut on one of i-0e, i-0f" in report(monkeypatch, FakeSsm(extra=[lost]))


def test_report_failure_before_any_switch_says_nothing_was_rolled_back(monkeypatch):
    """A failure while preparing starts no rollback, and the report says so."""

    class Prepared(FakeSsm):
        def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
            failed = {"StepName": "PrepareChunk", "Action": "aws:runCommand", "StepStatus": "Failed"}
            return {"StepExecutions": [failed]}

    assert report(monkeypatch, Prepared()) == (
        "deploy failed: step PrepareChunk Failed. No host was switched, so nothing was rolled back."
    )


def test_report_failure_still_fails_when_the_lookup_fails(monkeypatch):
    """Without access to SSM, ReportFailure still fails the execution and says why it has no details."""

    def client(service):
        raise OSError("no route to the endpoint")

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    handler = script_namespace(DEPLOY, "ReportFailure")["handler"]
    with pytest.raises(
        RuntimeError, match=r"^deploy failed: a step failed \(the details could not be looked up: no route"
    ):
        handler({"ExecutionId": "exec-1"}, None)


# --- IAM: the Automation role grants exactly what the runbooks call ----------------------------------

# boto3 service name -> IAM prefix, and the variable each script holds that service's client in.
IAM_PREFIX = {"ssm": "ssm", "ec2": "ec2", "elbv2": "elasticloadbalancing"}
CLIENT_NAMES = {"ssm": "ssm", "ec2": "ec2", "elb": "elbv2"}
# What Automation itself calls for an aws:runCommand step: send, follow, and cancel on timeout or cancel.
RUN_COMMAND_APIS = {"ssm:SendCommand", "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:CancelCommand"}


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def runbook_apis() -> set[str]:
    """Every IAM action the two runbooks need: API steps, waits, runCommand, and the boto3 calls of scripts."""
    found = set()
    for document in RUNBOOKS:
        for _, step in document.steps():
            inputs = step["inputs"]
            if step["action"] in ("aws:executeAwsApi", "aws:waitForAwsResourceProperty"):
                found.add(f"{IAM_PREFIX[inputs['Service']]}:{inputs['Api']}")
                if inputs["Api"] == "StartAutomationExecution":
                    found.add("iam:PassRole")  # starts RollbackFleet with the AutomationAssumeRole
            elif step["action"] == "aws:runCommand":
                found |= RUN_COMMAND_APIS
            elif step["action"] == "aws:executeScript":
                script = inputs["Script"]
                services = set(re.findall(r'boto3\.client\("(\w+)"\)', script))
                assert services <= set(IAM_PREFIX), (step["name"], services)
                for client, method in re.findall(r"\b(ssm|ec2|elb)\.(\w+)\(", script):
                    service = CLIENT_NAMES[client]
                    if method != "get_paginator":
                        found.add(f"{IAM_PREFIX[service]}:{pascal(method)}")
                for client, method in re.findall(r'\b(ssm|ec2|elb)\.get_paginator\("(\w+)"\)', script):
                    found.add(f"{IAM_PREFIX[CLIENT_NAMES[client]]}:{pascal(method)}")
    return found


# What Automation itself needs to watch a deploy's alarm (docs/aws-semantics.md, Alarm monitoring), not a
# call of the runbooks: tests/unit/test_template.py pins that policy down.
ALARM_POLICY = "stop-on-alarm"


def automation_role_actions() -> set[str]:
    """The actions template.yaml grants the Automation role, its own policies and the ones attached to it."""
    from cfnlint.decode.cfn_yaml import load

    resources = load(str(ROOT / "template.yaml"))["Resources"]
    documents = []
    for policy in resources["AutomationRole"]["Properties"]["Policies"]:
        # A conditional policy (`!If [HasTargetGroup, policy, NoValue]`) counts with its condition true.
        policy = policy.get("Fn::If", [None, policy])[1]
        if policy["PolicyName"] == ALARM_POLICY:
            continue
        documents.append(policy["PolicyDocument"])
    for resource in resources.values():
        if (
            resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": "AutomationRole"} in resource["Properties"]["Roles"]
        ):
            documents.append(resource["Properties"]["PolicyDocument"])
    actions = set()
    for document in documents:
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            granted = statement["Action"]
            actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def test_automation_role_grants_exactly_what_the_runbooks_call_without_wildcards():
    """The Automation role's actions are exactly the APIs derived from the runbooks, none with a wildcard."""
    granted = automation_role_actions()
    assert not [action for action in granted if "*" in action]
    needed = runbook_apis()
    assert "ssm:DescribeAutomationStepExecutions" in needed  # ReportFailure's lookup
    assert granted == needed


@pytest.mark.parametrize(
    ("runbook", "step"),
    [(runbook, step) for runbook in (DEPLOY, ROLLBACK_FLEET) for step in ("DrainBatch", "RegisterBatch")],
)
def test_target_health_waits_poll_often_at_first_then_every_second(runbook, step):
    """A target still changing is looked at every 0.25 s for the first 2 s, then every second until the limit."""
    slept, now = [], [0.0]

    class Stuck:
        def describe_target_health(self, TargetGroupArn, Targets):
            return {
                "TargetHealthDescriptions": [
                    {"Target": t, "TargetHealth": {"State": "initial"}} for t in Targets
                ]
            }

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    namespace = script_namespace(runbook, step)
    namespace["time"] = types.SimpleNamespace(sleep=sleep, monotonic=lambda: now[0])
    limit = [] if step == "DrainBatch" else [6]
    with pytest.raises(TimeoutError, match="i-0a \\(initial\\)"):
        namespace["wait_until"](Stuck(), ARN, ["i-0a"], "healthy", "healthy", *limit)
    assert slept[:11] == [0.25] * 8 + [1, 1, 1]
