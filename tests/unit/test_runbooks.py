"""The Automation runbooks as documents: parameters, steps, references to the Command documents, failure paths."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from injection import assert_pattern_guards
from releaseflow.documents import load_document
from releaseflow.goregexp import AUTOMATION, full_match, match_string
from releaseflow.runbook_scripts import pick_chunk, plan_rollout, read_deploy, register_batch, shared
from releaseflow.ssm import MAX_LOOP_ITERATIONS, SCRIPT_SECONDS, duration_seconds

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = load_document(ROOT / "automation/releaseflow-Deploy.yaml")
ROLLBACK_FLEET = load_document(ROOT / "automation/releaseflow-RollbackFleet.yaml")
RUNBOOKS = [DEPLOY, ROLLBACK_FLEET]
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
    "WorkerServices": ["sidekiq", "sidekiq@2"],
    "HealthCheckPath": ["/up"],
    "HealthCheckPort": ["auto", "3000"],
    "HealthCheckRetries": ["10"],
    "HealthCheckTimeoutSeconds": ["5"],
    "SwitchTimeoutSeconds": ["900", "30"],
    "RestartTimeoutSeconds": ["300", "600", "5"],
    "CommandLogGroupName": ["/releaseflow/commands", "/releaseflow/staging-commands"],
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
    "WorkerServices",
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
    "CommandLogGroupName",
}


def steps_of(document):
    """name -> step for every step, nested loop steps included."""
    return {step["name"]: step for _, step in document.steps()}


def run_commands(document):
    return [step for _, step in document.steps() if step["action"] == "aws:runCommand"]


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
    """Each parameter has a type, a description and allowed values or an anchored pattern that holds; a
    role ARN has none (SSM's own type checks it; allowedPattern on that type is not documented)."""
    assert definition["type"] in {"String", "StringList", "AWS::IAM::Role::Arn"}
    assert len(definition["description"]) > 20
    if definition["type"] == "AWS::IAM::Role::Arn":
        assert "allowedPattern" not in definition
        return
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
                # Services: the batch's role's (Services or WorkerServices), as DrainBatch hands them over.
                assert value in (*same, "{{ DrainBatch.Services }}"), (step["name"], name)


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
    pattern = DEPLOY.content["parameters"]["BakeSeconds"]["allowedPattern"]
    admitted = [
        n for n in range(10000) if match_string(pattern, str(n), AUTOMATION) and full_match(pattern, str(n))
    ]
    assert admitted == list(range(register_batch.MAX_BAKE_SECONDS + 1))
    for refused in ("007", "301", "9999", "-1", "1.5", " 3", "3 ", ""):
        assert not match_string(pattern, refused, AUTOMATION), refused
    assert duration_seconds(f"PT{register_batch.MAX_BAKE_SECONDS}S") == register_batch.MAX_BAKE_SECONDS
    assert shared.WAIT_SECONDS + 2 * shared.POLL_SECONDS < SCRIPT_SECONDS
    assert register_batch.MAX_BAKE_SECONDS < shared.WAIT_SECONDS


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
    batches = json.dumps([["i-000"], [f"i-{n:03d}" for n in range(1, 60)], ["i-060", "i-061"]])
    assert pick_chunk.handler({"Batches": batches, "Index": "1"}, None) == {
        "InstanceIds": [f"i-{n:03d}" for n in range(50, 62)]
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
        failures = {step.get("onFailure", "Abort") for step in loop["inputs"]["Steps"]}
        assert failures == {loop.get("onFailure", "Abort")}, loop["name"]


# What a runtime value of each parameter may take, at most, in the guard below: an ARN, a path, a
# revision, a list of a few service names all fit.
RUNTIME_VALUE_CHARS = 128


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_each_runbook_leaves_room_for_its_runtime_parameters_within_64_kb(document):
    """CreateDocument: "The content of the document must not exceed 64KB. This quota also includes the
    content specified for input parameters at runtime." Read as 64,000 bytes (the reading that hurts),
    each runbook leaves room for every parameter given a value of RUNTIME_VALUE_CHARS characters."""
    content = len(Path(document.path).read_bytes())
    runtime = sum(len(name) + RUNTIME_VALUE_CHARS for name in document.content["parameters"])
    assert content + runtime <= 64_000, (content, runtime)


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_every_loop_says_how_many_iterations_it_may_run(document):
    """The aws:loop page gives MaxIterations a range (at most 100) but no default: a loop left to it might
    stop after fewer iterations than it has Iterators, and end Success with hosts never deployed."""
    loops = [step for _, step in document.steps() if step["action"] == "aws:loop"]
    assert loops
    for loop in loops:
        inputs = loop["inputs"]
        assert "MaxIterations" in inputs, loop["name"]
        if "Iterators" in inputs:
            assert inputs["MaxIterations"] == MAX_LOOP_ITERATIONS, loop["name"]


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


@pytest.mark.parametrize("document", RUNBOOKS, ids=lambda d: d.name)
def test_every_run_command_sends_its_hosts_output_to_the_templates_log_group(document):
    """Every runCommand step sets CloudWatchOutputConfig to the CommandLogGroupName parameter, whose default
    is the log group template.yaml creates without a prefix (its !Sub with DocumentPrefix empty)."""
    steps = run_commands(document)
    assert steps
    for step in steps:
        assert step["inputs"]["CloudWatchOutputConfig"] == {
            "CloudWatchLogGroupName": "{{ CommandLogGroupName }}",
            "CloudWatchOutputEnabled": True,
        }, step["name"]
    template = (ROOT / "template.yaml").read_text()
    default = document.content["parameters"]["CommandLogGroupName"]["default"]
    assert "LogGroupName: !Sub /releaseflow/${DocumentPrefix}commands" in template
    assert default == "/releaseflow/commands"


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
            "PlanRollout.HealthCheckSeconds": plan_rollout.MAX_HEALTH_SECONDS,
            "ReadDeploy.RollbackSeconds": 900 + 600,
        }[bound]
        assert match_string(pattern, str(most), AUTOMATION), bound
    assert int(step["inputs"]["TimeoutSeconds"]) + most <= int(step["timeoutSeconds"]), step_name


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


# What the automation-actions page says onCancel cannot move to.
ON_CANCEL_UNSUPPORTED_TARGETS = {
    "aws:approve",
    "aws:copyImage",
    "aws:createImage",
    "aws:createStack",
    "aws:createTags",
    "aws:pause",
    "aws:runInstances",
    "aws:sleep",
}


def test_every_step_after_the_first_host_change_cancels_into_the_rollback_and_a_refused_start_is_reported():
    """From DrainBatch on, every step but the loop (AWS allows no onCancel there) has an onCancel that
    starts RollbackFleet or names the one already started; a refused start goes to ReportFailure."""
    steps = steps_of(DEPLOY)
    after_first_change = [
        *(step["name"] for step in nested(DEPLOY, "UpdateBatches")),
        "BakeOrNot",
        "BakeFleet",
        "Finish",
        "StartRollback",
        "AwaitRollback",
        "ReportFailure",
    ]
    for name in after_first_change:
        target = steps[name]["onCancel"]
        assert target in ("step:RollBackOnCancel", "step:ReportFailure"), name
        assert steps[target[5:]]["action"] not in ON_CANCEL_UNSUPPORTED_TARGETS, name
    assert "onCancel" not in steps["UpdateBatches"]
    # AwaitRollback waits for a rollback StartRollback started: its cancel reports it, never starts another.
    assert steps["StartRollback"]["onCancel"] == "step:RollBackOnCancel"
    assert steps["AwaitRollback"]["onCancel"] == "step:ReportFailure"
    assert steps["RollBackOnCancel"]["onFailure"] == "step:ReportFailure"
    assert "onCancel" not in steps["RollBackOnCancel"]


def test_steps_before_the_batches_switch_nothing_so_they_roll_nothing_back():
    """Preparing and migrating change no served code: their failure reports at once, their cancel just stops."""
    steps = steps_of(DEPLOY)
    for name in ["PrepareHosts", "PickChunk", "PrepareChunk", "MigrateOnMigrationHost"]:
        assert steps[name]["onFailure"] == "step:ReportFailure", name
        assert "onCancel" not in steps[name], name


def test_rollback_fleet_waits_for_the_step_the_deploy_waits_in():
    """ReadDeploy starts once the deploy ended or sits in AwaitRollback, and reads the hosts SwitchBatch was sent to."""
    assert steps_of(DEPLOY)[read_deploy.AWAITING]["action"] == "aws:waitForAwsResourceProperty"
    # ReadDeploy lists the deploy's steps of this name (test_runbook_rollback.py's fake checks the filter).
    assert steps_of(DEPLOY)["SwitchBatch"]["action"] == "aws:runCommand"


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
    """Every RollbackFleet parameter but ExecutionId, the role and the log group defaults to empty: the
    deploy's value. The log group has the environment's own default (publish sets it in both runbooks)."""
    parameters = ROLLBACK_FLEET.content["parameters"]
    required = {name for name, d in parameters.items() if "default" not in d}
    assert required == {"ExecutionId", "AutomationAssumeRole"}
    assert (
        parameters["CommandLogGroupName"]["default"]
        == DEPLOY.content["parameters"]["CommandLogGroupName"]["default"]
    )
    overrides = steps_of(ROLLBACK_FLEET)["ReadDeploy"]["inputs"]["InputPayload"]["Overrides"]
    # Read from the deploy without a RollbackFleet parameter of its own (the runbook is near SSM's 64 KB):
    # an empty override, always the deploy's value.
    deploy_only = {"RailsEnv", "WorkerServices"}
    assert set(overrides) == set(parameters) - required - {"CommandLogGroupName"} | deploy_only
    for name in overrides:
        if name in deploy_only:
            assert overrides[name] == "" and name in DEPLOY.content["parameters"], name
        else:
            assert parameters[name]["default"] in ("", []), name


def test_rollback_fleet_waits_for_left_commands_as_long_as_the_deploys_bounds_allow_in_scripts_of_600_s():
    """ReadDeploy and AwaitCommands' iterations, each within aws:executeScript's 600 s, together outlast the
    longest command a deploy sends a batch (60 s delivery + 900 s), and AwaitCommands runs only when one runs."""
    steps = steps_of(ROLLBACK_FLEET)
    loop = steps["AwaitCommands"]
    assert "Iterators" not in loop["inputs"]
    assert loop["inputs"]["LoopCondition"] == {
        "Variable": "{{ AwaitHostCommands.Running }}",
        "StringEquals": "true",
    }
    assert shared.WAIT_SECONDS < SCRIPT_SECONDS
    longest = read_deploy.DELIVERY_SECONDS + 900
    assert shared.WAIT_SECONDS * int(loop["inputs"]["MaxIterations"]) >= longest
    assert (
        steps["CommandsLeftOrNot"]["inputs"]["Choices"][0]["Variable"] == "{{ ReadDeploy.CommandsRunning }}"
    )
    names = [step["name"] for step in ROLLBACK_FLEET.content["mainSteps"]]
    assert names[:4] == ["ReadDeploy", "CommandsLeftOrNot", "AwaitCommands", "Lock"]
