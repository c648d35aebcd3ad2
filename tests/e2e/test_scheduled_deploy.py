"""`deploy --at` on a rehearsal fleet: the endpoint's Scheduler starts the deploy at its time."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from notifications import messages, notifications_queue
from releaseflow.rehearsal.harness.app_repo import push_commit
from scenarios import (
    RELEASEFLOW,
    assert_fleet_consistent,
    client,
    deploy,
    execution_id,
    fleet_fixture,
    start_deploy,
    wait_for_execution_end,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=2)

UNHEALTHY = """\
class UpController < ActionController::Base
  def show
    render plain: "not today\\n", status: :service_unavailable
  end
end
"""


def _deploys(rehearsal) -> dict[str, dict]:
    """Every execution of releaseflow-Deploy, by id."""
    listed = client(rehearsal, "ssm").describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": ["releaseflow-Deploy"]}]
    )["AutomationExecutionMetadataList"]
    return {row["AutomationExecutionId"]: row for row in listed}


def _schedule(rehearsal, revision: str, seconds_ahead: int) -> float:
    """`releaseflow deploy --at` `seconds_ahead` from now (to the second); returns that time."""
    moment = (datetime.now(UTC) + timedelta(seconds=seconds_ahead)).replace(microsecond=0)
    result = deploy(rehearsal, "--revision", revision, "--at", moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"at({moment:%Y-%m-%dT%H:%M:%S})" in result.stdout
    return moment.timestamp()


def _new_deploy(rehearsal, known: set[str], timeout: float) -> dict:
    found: list[dict] = []

    def started():
        found[:] = [row for key, row in _deploys(rehearsal).items() if key not in known]
        return bool(found)

    wait_until(started, timeout, "the scheduled deploy to start")
    [row] = found
    return row


def _schedules(rehearsal) -> list[str]:
    return [s["Name"] for s in client(rehearsal, "scheduler").list_schedules()["Schedules"]]


def test_deploy_at_starts_at_its_time_and_ends_with_every_host_on_the_revision(rehearsal):
    """`deploy --at` 20 s ahead: nothing starts before that time, the deploy starts within 2 s of it,
    runs as the Scheduler role, ends Success with every host on the new revision; the schedule is gone,
    and template.yaml's notification rule announced its start and its success."""
    new = rehearsal.revisions[1]
    known = set(_deploys(rehearsal))
    sqs, events = client(rehearsal, "sqs"), client(rehearsal, "events")
    with notifications_queue(sqs, events, "") as queue:
        moment = _schedule(rehearsal, new, 20)
        assert len(_schedules(rehearsal)) == 1
        assert moment - time.time() > 5, "scheduling took too long for this test to tell anything"
        row = _new_deploy(rehearsal, known, timeout=moment - time.time() + 15)
        started = row["ExecutionStartTime"].timestamp()
        assert moment <= started <= moment + 2, (started - moment, row)
        assert ":assumed-role/releaseflow-SchedulerRole/" in row["ExecutedBy"]
        ended = wait_for_execution_end(rehearsal, row["AutomationExecutionId"])
        heard = messages(sqs, queue)
    execution = row["AutomationExecutionId"]
    assert [message.split(" https://")[0] for message in heard] == [
        f"releaseflow-Deploy execution {execution}: InProgress.",
        f"releaseflow-Deploy execution {execution}: Success.",
    ]
    assert ended["AutomationExecutionStatus"] == "Success", ended.get("FailureMessage")
    assert_fleet_consistent(rehearsal.state_dir, new)
    assert _schedules(rehearsal) == []
    [latest] = _history(rehearsal, "--limit", "1")
    assert (latest["execution_id"], latest["status"], latest["revision"]) == (
        row["AutomationExecutionId"],
        "Success",
        new,
    )
    assert latest["schedule"] == f"releaseflow-local-{new}"
    assert latest["started_by"].endswith(f"(schedule releaseflow-local-{new})")


def _history(rehearsal, *args: str) -> list[dict]:
    result = subprocess.run(
        [RELEASEFLOW, "history", "--json", *args],
        env=rehearsal.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_schedule_firing_while_another_deploy_holds_the_fleet_yields_at_lock(rehearsal):
    """A schedule that fires while a deploy runs starts a deploy that fails in its Lock step naming the
    running one, sends no command, and leaves it to end Success."""
    old, new = rehearsal.revisions
    # The bake keeps the fleet held well past the schedule's time, however slow the machine.
    holding = start_deploy(rehearsal, "--revision", old, "--param", "BakeSeconds=30")
    try:
        first = ""
        for line in holding.stdout:
            if "started execution " in line:
                first = line.split("started execution ", 1)[1].split()[0]
                break
        assert first, "the holding deploy did not start"
        known = set(_deploys(rehearsal))
        moment = _schedule(rehearsal, new, 10)
        row = _new_deploy(rehearsal, known, timeout=moment - time.time() + 15)
        refused = wait_for_execution_end(rehearsal, row["AutomationExecutionId"])
        out, err = holding.communicate(timeout=300)
    finally:
        if holding.poll() is None:
            holding.terminate()  # it stops its execution: the next test finds the fleet free
            holding.communicate(timeout=120)
    assert holding.returncode == 0, out[-3000:] + err
    held = client(rehearsal, "ssm").get_automation_execution(AutomationExecutionId=first)
    assert row["ExecutionStartTime"] < held["AutomationExecution"]["ExecutionEndTime"], "fired too late"
    assert refused["AutomationExecutionStatus"] == "Failed"
    assert first in refused["FailureMessage"]
    assert [s["StepName"] for s in refused["StepExecutions"]] == ["Lock"]
    assert_fleet_consistent(rehearsal.state_dir, old)
    assert _schedules(rehearsal) == []


def test_history_shows_a_failed_deploy_with_the_rollback_it_started(rehearsal):
    """A deploy whose health check fails rolls back; `history` lists the rollback first, undoing the
    deploy, and the deploy as Failed naming that rollback, each with its console link."""
    broken = push_commit(rehearsal.state_dir, {"app/controllers/up_controller.rb": UNHEALTHY}, "/up fails")
    # The rollback inherits the deploy's retries: enough for the old revision's puma to boot on a busy machine.
    result = deploy(rehearsal, "--revision", broken, "--param", "HealthCheckRetries=15")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    failed = execution_id(result.stdout)
    rollback, deployed, *_ = _history(rehearsal, "--limit", "3")
    assert (deployed["execution_id"], deployed["kind"], deployed["status"]) == (failed, "deploy", "Failed")
    assert deployed["revision"] == broken
    assert deployed["rollbacks"] == [rollback["execution_id"]]
    assert (rollback["kind"], rollback["status"], rollback["rolls_back"]) == ("rollback", "Success", failed)
    assert deployed["console_url"].endswith(f"/execution/{failed}?region=us-east-1")
    text = subprocess.run(
        [RELEASEFLOW, "history", "--limit", "2"],
        env=rehearsal.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"undoes {failed}" in text
    assert f"deploy   Failed     {broken[:12]}" in text
