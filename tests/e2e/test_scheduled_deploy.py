"""`deploy --at` on a rehearsal fleet: the endpoint's Scheduler starts the deploy at its time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from scenarios import (
    assert_fleet_consistent,
    client,
    deploy,
    fleet_fixture,
    start_deploy,
    wait_for_execution_end,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=2)


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
    runs as the Scheduler role, ends Success with every host on the new revision; the schedule is gone."""
    new = rehearsal.revisions[1]
    known = set(_deploys(rehearsal))
    moment = _schedule(rehearsal, new, 20)
    assert len(_schedules(rehearsal)) == 1
    assert moment - time.time() > 5, "scheduling took too long for this test to tell anything"
    row = _new_deploy(rehearsal, known, timeout=moment - time.time() + 15)
    started = row["ExecutionStartTime"].timestamp()
    assert moment <= started <= moment + 2, (started - moment, row)
    assert ":assumed-role/releaseflow-SchedulerRole/" in row["ExecutedBy"]
    ended = wait_for_execution_end(rehearsal, row["AutomationExecutionId"])
    assert ended["AutomationExecutionStatus"] == "Success", ended.get("FailureMessage")
    assert_fleet_consistent(rehearsal.state_dir, new)
    assert _schedules(rehearsal) == []


def test_a_schedule_firing_while_another_deploy_holds_the_fleet_yields_at_lock(rehearsal):
    """A schedule that fires while a deploy runs starts a deploy that fails in its Lock step naming the
    running one, sends no command, and leaves it to end Success."""
    old, new = rehearsal.revisions
    holding = start_deploy(rehearsal, "--revision", old)
    first = ""
    for line in holding.stdout:
        if "started execution " in line:
            first = line.split("started execution ", 1)[1].split()[0]
            break
    assert first, holding.stderr.read() if holding.stderr else "no execution started"
    known = set(_deploys(rehearsal))
    moment = _schedule(rehearsal, new, 3)
    row = _new_deploy(rehearsal, known, timeout=moment - time.time() + 15)
    refused = wait_for_execution_end(rehearsal, row["AutomationExecutionId"])
    out, err = holding.communicate(timeout=300)
    assert holding.returncode == 0, out[-3000:] + err
    held = client(rehearsal, "ssm").get_automation_execution(AutomationExecutionId=first)
    assert row["ExecutionStartTime"] < held["AutomationExecution"]["ExecutionEndTime"], "fired too late"
    assert refused["AutomationExecutionStatus"] == "Failed"
    assert first in refused["FailureMessage"]
    assert [s["StepName"] for s in refused["StepExecutions"]] == ["Lock"]
    assert_fleet_consistent(rehearsal.state_dir, old)
    assert _schedules(rehearsal) == []
