"""The acceptance checks and the load test, on one fleet under the strict readings.

Once, not once per setting: the fleet fixture fails the module if its deploys meet an open reading
that the proven settings play differently (tests/support/scenarios.py, the endpoint's ledger).

One rolling deploy of revision 2 to 3 hosts through `releaseflow deploy` as GitHub Actions runs it,
under a steady 25 requests/s through the load balancer, watched by a CloudWatch alarm that stays OK
and baking 3 s: the acceptance checks and the load test's read that one deploy. Then a
deploy of revision 3 whose health check fails rolls back under the same load.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from releaseflow.deploy import console_url
from releaseflow.rehearsal.harness.app_repo import push_commit
from scenarios import (
    AWS_CLI,
    RELEASEFLOW,
    LoadGenerator,
    Sampling,
    assert_fleet_consistent,
    client,
    create_alarm,
    deploy,
    execution_id,
    fleet_fixture,
)

pytestmark = pytest.mark.rehearsal
BATCH_SIZE = 1
MIGRATION_VERSION = "20260102000000"
DOCUMENTS = sorted(
    path.stem
    for folder in ("documents", "automation")
    for path in (Path(__file__).resolve().parents[2] / folder).iterdir()
    if path.suffix in (".yaml", ".json")
)
REPORT = Path(__file__).resolve().parents[2] / "build" / "load-report.json"
ALARM = "shop-5xx"
BAKE_SECONDS = 3  # BakeSeconds of the successful deploy: short, yet plain in the step timestamps
HEALTH_CHECK_RETRIES = 15  # of the deploy that rolls back (1 s apart; its rollback inherits them)
# Revision 3's /up fails on a host that has tmp/unhealthy: only the host that gets the marker fails.
UNHEALTHY_WHEN_MARKED = """\
class UpController < ActionController::Base
  def show
    revision = Rails.configuration.x.revision
    response.set_header("X-Revision", revision)
    if Rails.root.join("tmp", "unhealthy").exist?
      render plain: "unhealthy #{revision}\\n", status: :service_unavailable
    else
      render plain: "ok #{revision}\\n"
    end
  end
end
"""

rehearsal = fleet_fixture(hosts=3)
results: list[dict] = []


@dataclass(frozen=True)
class Deployed:
    """What the deploy left behind: the trigger's result, its Actions files, and what was observed meanwhile."""

    result: subprocess.CompletedProcess
    execution_id: str
    github_output: str
    step_summary: str
    out_of_service: tuple[tuple[str, ...], ...]
    load: LoadGenerator


class TargetHealthSampler(Sampling):
    """Records, in a thread, the targets DescribeTargetHealth reports as anything but healthy ("id state")."""

    # Four samples a second: a drain and a restart each last seconds, and the endpoint serves the deploy too.
    interval = 0.25

    def __init__(self, elbv2, target_group_arn: str):
        self.elbv2 = elbv2
        self.arn = target_group_arn
        self.samples: list[tuple[str, ...]] = []

    def sample(self) -> None:
        health = self.elbv2.describe_target_health(TargetGroupArn=self.arn)["TargetHealthDescriptions"]
        self.samples.append(
            tuple(
                f"{entry['Target']['Id']} {entry['TargetHealth']['State']}"
                for entry in health
                if entry["TargetHealth"]["State"] != "healthy"
            )
        )


@pytest.fixture(scope="module")
def deployed(rehearsal, tmp_path_factory) -> Deployed:
    """Deploy revision 2 once for the module, as the workflow does, while sampling the LB and loading it."""
    files = tmp_path_factory.mktemp("actions")
    output, summary = files / "github_output", files / "step_summary.md"
    environment = {
        **rehearsal.environment,
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    create_alarm(client(rehearsal, "cloudwatch"), ALARM)
    arn = json.loads((rehearsal.state_dir / "fleet.json").read_text())["lb"]["target_group_arn"]
    with (
        TargetHealthSampler(client(rehearsal, "elbv2"), arn) as sampler,
        LoadGenerator(rehearsal.lb_url) as load,
    ):
        result = subprocess.run(
            [
                RELEASEFLOW,
                "deploy",
                "--revision",
                rehearsal.revisions[1],
                "--batch-size",
                str(BATCH_SIZE),
                "--alarm",
                ALARM,
                "--param",
                f"BakeSeconds={BAKE_SECONDS}",
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    first, second = rehearsal.revisions[:2]
    _record("rolling deploy of revision 2", result.returncode, load, {first: "1", second: "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return Deployed(
        result=result,
        execution_id=execution_id(result.stdout),
        github_output=output.read_text(),
        step_summary=summary.read_text(),
        out_of_service=tuple(sampler.samples),
        load=load,
    )


def _record(name: str, exit_code: int, load: LoadGenerator, revisions: dict[str, str]) -> dict:
    """Print and keep one deploy's request counts by served revision (build/load-report.json)."""
    result = {
        "deploy": name,
        "exit_code": exit_code,
        "requests": load.sent,
        "failed": len(load.failures),
        "failures": load.failures[:10],
        "seconds": round(load.seconds, 1),
        "requests_per_second": round(load.sent / load.seconds, 1),
        "by_revision": {revisions.get(sha, sha): count for sha, count in sorted(load.answers.items())},
    }
    print(json.dumps(result))
    results.append(result)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({"rate": load.rate, "deploys": results}, indent=2) + "\n")
    return result


def _aws(rehearsal, *args: str) -> dict:
    result = subprocess.run(
        [AWS_CLI, "ssm", *args, "--output", "json"],
        env=rehearsal.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _invocations(rehearsal) -> list[dict]:
    pages = client(rehearsal, "ssm").get_paginator("list_command_invocations").paginate(Details=True)
    return [invocation for page in pages for invocation in page["CommandInvocations"]]


def _times(invocation: dict) -> tuple:
    plugins = invocation["CommandPlugins"]
    return min(p["ResponseStartDateTime"] for p in plugins), max(p["ResponseFinishDateTime"] for p in plugins)


def test_migration_ran_once_on_the_migration_host_before_any_restart(rehearsal, deployed):
    """Exactly one Migrate invocation, on the lowest instance id, ended before the first RestartServices began."""
    invocations = _invocations(rehearsal)
    migrations = [i for i in invocations if i["DocumentName"] == "releaseflow-Migrate"]
    restarts = [i for i in invocations if i["DocumentName"] == "releaseflow-RestartServices"]
    assert [(i["InstanceId"], i["Status"]) for i in migrations] == [(min(rehearsal.instance_ids), "Success")]
    assert sorted(i["InstanceId"] for i in restarts) == sorted(rehearsal.instance_ids)
    assert _times(migrations[0])[1] <= min(_times(restart)[0] for restart in restarts)
    with sqlite3.connect(rehearsal.state_dir / "db" / "production.sqlite3") as db:
        versions = {row[0] for row in db.execute("select version from schema_migrations")}
    assert MIGRATION_VERSION in versions


def test_every_host_is_checked_out_at_and_serves_revision_2(rehearsal, deployed):
    """`local status --json` shows every host at revision 2, serving it, healthy; nothing half-done on disk."""
    result = subprocess.run(
        [RELEASEFLOW, "local", "status", "--json", "--state-dir", str(rehearsal.state_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    hosts = json.loads(result.stdout)["hosts"]
    second = rehearsal.revisions[1]
    assert [(h["revision"], h["serving"], h["running"], h["lb_state"]) for h in hosts] == [
        (second, second, True, "healthy")
    ] * 3
    assert_fleet_consistent(rehearsal.state_dir, second)


def test_never_more_than_the_batch_size_is_out_of_the_load_balancer(deployed):
    """While deploying, DescribeTargetHealth never shows more than BatchSize targets not healthy (and shows a drain)."""
    assert len(deployed.out_of_service) > 20
    assert [sample for sample in deployed.out_of_service if len(sample) > BATCH_SIZE] == []
    assert max(len(sample) for sample in deployed.out_of_service) == BATCH_SIZE


def test_the_load_balancer_answered_every_request_during_the_deploy(rehearsal, deployed):
    """At a steady 25 requests/s through HAProxy, none fails; answers come from revision 1 and then 2."""
    load = deployed.load
    assert load.failures == [], load.failures[:10]
    assert not load.bounded
    assert load.sent / load.seconds >= 20
    assert set(load.answers) == set(rehearsal.revisions[:2])


def test_the_alarm_watched_deploy_baked_after_the_first_and_the_last_batch(rehearsal, deployed):
    """BakeSeconds held the deploy after the migration host's batch and after the last one, not between."""
    assert _bakes(rehearsal, deployed.execution_id) == [True, False, True]


def _bakes(rehearsal, execution: str) -> list[bool]:
    """Per batch, from the steps: did the deploy hold BAKE_SECONDS with the batch in service before going on?

    The migration host's bake ends its RegisterBatch (the step says how long it baked and lasts at least
    that long); the last batch's is BakeFleet, the aws:sleep after the loop: no step of its own in a batch.
    """
    steps = client(rehearsal, "ssm").describe_automation_step_executions(AutomationExecutionId=execution)
    registers = [step for step in steps["StepExecutions"] if step["StepName"] == "RegisterBatch"]
    [bake] = [step for step in steps["StepExecutions"] if step["StepName"] == "BakeFleet"]
    baked = []
    for register in registers:
        said = int(register["Outputs"]["BakedSeconds"][0])
        lasted = (register["ExecutionEndTime"] - register["ExecutionStartTime"]).total_seconds()
        assert said in (0, BAKE_SECONDS) and lasted >= said, (said, lasted)
        baked.append(said == BAKE_SECONDS)
    assert baked[-1] is False, "the last batch bakes in BakeFleet, not in its RegisterBatch"
    assert bake["StepStatus"] == "Success", bake
    slept = (bake["ExecutionEndTime"] - bake["ExecutionStartTime"]).total_seconds()
    baked[-1] = slept >= BAKE_SECONDS - 1
    return baked


def test_the_aws_cli_sees_instances_documents_and_the_execution(rehearsal, deployed):
    """The AWS CLI, with only `local env`, sees the instances online, the documents, the execution and its steps."""
    instances = _aws(rehearsal, "describe-instance-information")["InstanceInformationList"]
    assert sorted((i["InstanceId"], i["PingStatus"]) for i in instances) == [
        (instance_id, "Online") for instance_id in sorted(rehearsal.instance_ids)
    ]
    listed = _aws(rehearsal, "list-documents", "--filters", "Key=Owner,Values=Self")["DocumentIdentifiers"]
    assert sorted(d["Name"] for d in listed) == DOCUMENTS
    runbook = _aws(rehearsal, "describe-document", "--name", "releaseflow-Deploy")["Document"]
    assert (runbook["DocumentType"], runbook["Status"]) == ("Automation", "Active")
    execution = _aws(
        rehearsal, "get-automation-execution", "--automation-execution-id", deployed.execution_id
    )
    execution = execution["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["Parameters"]["Revision"] == [rehearsal.revisions[1]]
    steps = _aws(
        rehearsal, "describe-automation-step-executions", "--automation-execution-id", deployed.execution_id
    )["StepExecutions"]
    top_level = [s["StepName"] for s in steps if not s.get("ParentStepDetails")]
    assert top_level[:3] == ["Lock", "ListFleet", "PlanRollout"]
    assert {"MigrateOnMigrationHost", "UpdateBatches", "Finish"} <= set(top_level)
    assert {s["StepStatus"] for s in steps if not s.get("ParentStepDetails")} == {"Success"}


def test_the_deploy_writes_its_github_outputs_and_summary(rehearsal, deployed):
    """GITHUB_OUTPUT gets execution-id, status and console-url; the step summary a hosts table and a mermaid gantt."""
    url = console_url(rehearsal.environment["AWS_REGION"], deployed.execution_id)
    assert (
        deployed.github_output == f"execution-id={deployed.execution_id}\nstatus=Success\nconsole-url={url}\n"
    )
    summary = deployed.step_summary
    assert "| Host | Role | Revision | Status | Duration |" in summary
    for instance_id in rehearsal.instance_ids:
        role = "migrate" if instance_id == min(rehearsal.instance_ids) else "rolling"
        assert f"| `{instance_id}` | {role} | `{rehearsal.revisions[0][:12]}`" in summary
    assert "```mermaid\ngantt\n" in summary
    assert "::group::Step MigrateOnMigrationHost" in deployed.result.stdout


def test_deploy_that_rolls_back_under_load_fails_no_request(rehearsal, deployed):
    """After revision 2 (the module's deploy): a deploy of revision 3 whose health check fails on the first
    batch after the migration host's rolls back under 25 requests/s: exit 1, zero failed requests, every
    host back on revision 2."""
    second = rehearsal.revisions[1]
    third = push_commit(
        rehearsal.state_dir,
        {"app/controllers/up_controller.rb": UNHEALTHY_WHEN_MARKED},
        "revision 3: /up fails where tmp/unhealthy exists",
        parent=second,
    )
    # Batches follow the sorted instance ids, the migration host first: the second id is the next batch,
    # so the migration host serves revision 3 a while and two hosts roll back (not three: a shorter run).
    marker = rehearsal.host_root(sorted(rehearsal.instance_ids)[1]) / "app" / "tmp" / "unhealthy"
    marker.write_text("")
    try:
        with LoadGenerator(rehearsal.lb_url) as load:
            # Fewer tries than the default 30: the failing host gives up sooner, the others pass in a few.
            result = deploy(
                rehearsal, "--revision", third, "--param", f"HealthCheckRetries={HEALTH_CHECK_RETRIES}"
            )
    finally:
        marker.unlink()
    report = _record("deploy of revision 3, rolled back", result.returncode, load, {second: "2", third: "3"})
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "HealthCheckBatch" in result.stdout
    assert not load.bounded
    assert report["requests_per_second"] >= 20
    assert report["by_revision"]["2"] > 0 and report["by_revision"]["3"] > 0
    assert_fleet_consistent(rehearsal.state_dir, second)
    assert report["failed"] == 0, report
