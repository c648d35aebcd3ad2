"""On the rehearsal: each failure ends with a clear message and a fleet on one good revision.

One fleet of 3 hosts (a migration host, then batches of 1) serves the whole module; every test
starts and ends with the fleet consistent at revision 1. Besides the failures a deploy meets on a host:
a CloudWatch alarm that fires mid-deploy stops it and the fleet goes back, and a cancel on the failure
path (an alarm's stop is one) still ends with the fleet rolled back.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest

from releaseflow.rehearsal.harness.app_repo import push_commit
from scenarios import (
    AWS_CLI,
    LoadGenerator,
    assert_cancel_rolled_back,
    assert_fleet_consistent,
    client,
    create_alarm,
    deploy,
    deploy_record,
    execution_id,
    fleet_fixture,
    kill_agent,
    puma_pid,
    restart_agent,
    roles,
    served,
    snapshot,
    start_deploy,
    status_json,
    unhealthy_on,
    wait_for_execution_end,
    wait_for_invocation,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=3)

BROKEN_MIGRATION = """\
class BreakThings < ActiveRecord::Migration[6.1]
  def change
    raise "scenario: this migration is broken"
  end
end
"""


def steps_run(rehearsal, execution):
    """(StepName, StepStatus) of every step the execution ran."""
    steps = client(rehearsal, "ssm").describe_automation_step_executions(AutomationExecutionId=execution)
    return [(s["StepName"], s["StepStatus"]) for s in steps["StepExecutions"]]


def test_failed_migration_switches_and_restarts_no_host(rehearsal):
    """Scenario 1: the migration's error is in the trigger's output; it ran from the prepared tree, so no host changed."""
    old = rehearsal.revisions[0]
    migration, *_ = roles(rehearsal)
    before = snapshot(rehearsal)
    broken = push_commit(
        rehearsal.state_dir,
        {"db/migrate/20260103000000_break_things.rb": BROKEN_MIGRATION},
        "Broken migration",
    )

    result = deploy(rehearsal, "--revision", broken)

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: MigrateOnMigrationHost" in result.stdout
    assert f"host: {migration}" in result.stdout
    assert "scenario: this migration is broken" in result.stdout
    execution = execution_id(result.stdout)
    assert "No host was switched, so nothing was rolled back." in result.stdout
    # No host switched, restarted or left the load balancer: no rollback was needed.
    assert [served(rehearsal, i) for i in rehearsal.instance_ids] == [old] * 3
    assert snapshot(rehearsal) == before
    ran = dict(steps_run(rehearsal, execution))
    assert ran["MigrateOnMigrationHost"] == "Failed"
    assert not {"UpdateBatches", "DrainBatch", "StartRollback"} & ran.keys()
    assert_fleet_consistent(rehearsal.state_dir, old)


def test_unhealthy_host_in_the_first_batch_rolls_back_the_switched_hosts_only(rehearsal):
    """Scenario 2: rollout stops at the failing batch; switched hosts roll back; the last host is untouched."""
    old = rehearsal.revisions[0]
    migration, failing, untouched = roles(rehearsal)
    before = snapshot(rehearsal)
    with unhealthy_on(rehearsal, failing) as unhealthy, LoadGenerator(rehearsal.lb_url) as load:
        result = deploy(rehearsal, "--revision", unhealthy, "--param", "HealthCheckRetries=15")

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    # Iteration 2 of the batch loop: the migration host is the first batch.
    assert "failed step: UpdateBatches[2].HealthCheckBatch" in result.stdout
    assert f"host: {failing}" in result.stdout
    assert "unhealthy: http://127.0.0.1:" in result.stdout
    execution = execution_id(result.stdout)
    for switched in (migration, failing):
        assert puma_pid(rehearsal, switched) != before[switched][0], switched
        assert deploy_record(rehearsal.state_dir, switched)["rolled-back"] == execution
    assert (puma_pid(rehearsal, untouched), deploy_record(rehearsal.state_dir, untouched)) == before[
        untouched
    ]
    assert load.answers[unhealthy] > 0 and load.answers[old] > 0
    assert load.failures == [], (len(load.failures), sorted(set(load.failures)))
    assert_fleet_consistent(rehearsal.state_dir, old)
    # The report reads the hosts through the outcome markers, the fleet rollback's commands included.
    table = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("i-")}
    assert f"{old[:12]} -> {old[:12]}" in table[migration] and "rolled back" in table[migration]
    assert "Failed, rolled back" in table[failing]
    assert table[untouched].split()[2:] == ["not", "reached", "-", "-"]
    hosts = {host["instance_id"]: host for host in status_json(rehearsal, execution)["hosts"]}
    for switched in (migration, failing):
        assert (hosts[switched]["outcome"], hosts[switched]["before"], hosts[switched]["after"]) == (
            "rolled-back",
            old,
            old,
        )
    assert (hosts[untouched]["outcome"], hosts[untouched]["status"]) == ("not-reached", None)


def test_missing_revision_fails_while_preparing(rehearsal):
    """Scenario 3: a revision the remote lacks fails while the hosts prepare it, before anything else."""
    migration, *_ = roles(rehearsal)
    before = snapshot(rehearsal)

    result = deploy(rehearsal, "--revision", "scenario/no-such-revision")

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: PrepareHosts[1].PrepareChunk" in result.stdout
    assert f"host: {migration}" in result.stdout
    assert "revision scenario/no-such-revision is not a commit" in result.stdout
    ran = dict(steps_run(rehearsal, execution_id(result.stdout)))
    assert ran["PrepareChunk"] == "Failed"
    assert not {"MigrateOnMigrationHost", "UpdateBatches", "StartRollback"} & ran.keys()
    assert snapshot(rehearsal) == before
    assert_fleet_consistent(rehearsal.state_dir, rehearsal.revisions[0])


# An install that fails on one chosen host after 60,000 characters of output, its reason in its last
# lines (a long failing `bundle install`); the other hosts install as usual.
NOISY_INSTALL = """\
#!/bin/sh
if [ "$AWS_SSM_INSTANCE_ID" != "{failing}" ]; then exec bundle install --local; fi
n=0
while [ $n -lt 999 ]; do
  printf 'Fetching gem-%04d 1.0.0 ...................................\\n' "$n"
  n=$((n + 1))
done
echo "scenario: An error occurred while installing pg (1.5.4), and Bundler cannot continue."
echo "scenario: the last line of stderr" >&2
exit 5
"""


def test_a_host_failing_with_60000_characters_of_output_shows_its_true_last_lines_and_streams(rehearsal):
    """A host whose install fails after 60,000 characters of output: the trigger prints its true
    last lines, read from its CloudWatch Logs streams, and names them; GetCommandInvocation lacks them."""
    *_, failing = roles(rehearsal)
    before = snapshot(rehearsal)
    noisy = push_commit(
        rehearsal.state_dir,
        {"bin/noisy-install": NOISY_INSTALL.format(failing=failing)},
        "An install that fails",
    )

    result = deploy(rehearsal, "--revision", noisy, "--param", "InstallCommand=sh bin/noisy-install")

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: PrepareHosts[1].PrepareChunk" in result.stdout
    assert f"host: {failing}" in result.stdout
    assert "whole output: CloudWatch Logs group /releaseflow/commands" in result.stdout
    [command_id] = re.findall(rf"  stream ([0-9a-f-]+)/{failing}/Prepare/stdout\n", result.stdout)
    assert f"  stream {command_id}/{failing}/Prepare/stderr" in result.stdout
    last = "scenario: An error occurred while installing pg (1.5.4), and Bundler cannot continue."
    tail = result.stdout.split("--- stdout (last lines, CloudWatch Logs) ---\n", 1)[1]
    assert last in tail
    assert (
        "scenario: the last line of stderr"
        in tail.split("--- stderr (last lines, CloudWatch Logs) ---", 1)[1]
    )
    # What the trigger printed before: GetCommandInvocation holds only the first 24,000 characters.
    invocation = client(rehearsal, "ssm").get_command_invocation(CommandId=command_id, InstanceId=failing)
    assert len(invocation["StandardOutputContent"]) == 24000
    assert last not in invocation["StandardOutputContent"]
    events = client(rehearsal, "logs").get_log_events(
        logGroupName="/releaseflow/commands",
        logStreamName=f"{command_id}/{failing}/Prepare/stdout",
        startFromHead=True,
    )["events"]
    assert len("".join(event["message"] for event in events)) >= 60000
    assert snapshot(rehearsal) == before
    assert_fleet_consistent(rehearsal.state_dir, rehearsal.revisions[0])


def test_offline_host_makes_the_preflight_refuse_and_change_nothing(rehearsal):
    """Scenario 4a: with one agent offline the deploy fails in PlanRollout, naming it, before any command."""
    *_, offline = roles(rehearsal)
    before = snapshot(rehearsal)
    ssm = client(rehearsal, "ssm")
    commands_before = len(ssm.list_commands()["Commands"])
    kill_agent(rehearsal, offline)
    try:
        result = deploy(rehearsal, "--revision", rehearsal.revisions[1])
    finally:
        restart_agent(rehearsal, offline)

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: PlanRollout" in result.stdout
    assert f"not online in Systems Manager: {offline}" in result.stdout
    assert len(ssm.list_commands()["Commands"]) == commands_before
    assert snapshot(rehearsal) == before
    assert_fleet_consistent(rehearsal.state_dir, rehearsal.revisions[0])


def test_sigterm_mid_deploy_ends_cancelled_at_once_and_its_rollback_restores_the_fleet(rehearsal):
    """Scenario 7: SIGTERM while a batch updates: the deploy only starts RollbackFleet and ends Cancelled
    well inside Automation's two minutes; once that rollback ends nothing is left half-done."""
    old, new = rehearsal.revisions
    _, first, _ = roles(rehearsal)
    since = datetime.now(UTC)
    process = start_deploy(rehearsal, "--revision", new)
    try:
        wait_for_invocation(
            rehearsal, first, "releaseflow-CheckoutRevision", ("InProgress", "Success"), process, since
        )
        process.send_signal(signal.SIGTERM)
        signalled = datetime.now(UTC)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()

    # The trigger followed the rollback the cancel started to its end before exiting 4.
    assert process.returncode == 4, out[-3000:] + err
    execution = execution_id(out)
    assert f"deploy cancelled: execution {execution}" in out
    ended = wait_for_execution_end(rehearsal, execution)
    assert ended["AutomationExecutionStatus"] == "Cancelled"
    assert (ended["ExecutionEndTime"] - signalled).total_seconds() < 30
    assert "ReportFailure" not in {s["StepName"] for s in ended["StepExecutions"]}
    rollback = assert_cancel_rolled_back(rehearsal, ended, out, old)
    assert rollback["ExecutionStartTime"] < ended["ExecutionEndTime"] < rollback["ExecutionEndTime"]


# --- a CloudWatch alarm mid-deploy -----------------------------------------------------------------


@pytest.fixture(scope="module")
def alarm(rehearsal) -> str:
    """A CloudWatch metric alarm on the fleet's endpoint (moto), created in state OK."""
    return create_alarm(client(rehearsal, "cloudwatch"), f"shop-5xx-{uuid.uuid4().hex[:6]}")


def _set_alarm(rehearsal, name: str, state: str) -> None:
    """`aws cloudwatch set-alarm-state`, as an operator or a test would move the alarm."""
    command = ["cloudwatch", "set-alarm-state", "--alarm-name", name, "--state-value", state]
    subprocess.run(
        [AWS_CLI, *command, "--state-reason", "set by the test"],
        env=rehearsal.environment,
        check=True,
        capture_output=True,
    )


def _checkout_started(rehearsal, instance_id: str, since: datetime, process) -> bool:
    assert process.poll() is None, "the deploy ended before its second batch"
    invocations = client(rehearsal, "ssm").list_command_invocations(InstanceId=instance_id)
    return any(
        i["RequestedDateTime"] >= since and i["DocumentName"] == "releaseflow-CheckoutRevision"
        for i in invocations["CommandInvocations"]
    )


def test_alarm_during_the_second_batch_fails_the_deploy_and_the_fleet_goes_back(rehearsal, alarm):
    """ALARM set with the AWS CLI while the second batch updates: exit 1 naming the alarm, every host
    back on the previous revision and healthy, no request through the load balancer failed."""
    old, new = rehearsal.revisions[:2]
    # Batches follow the sorted instance ids after the migration host: the last id is the second batch.
    second_batch = sorted(rehearsal.instance_ids)[-1]
    since = datetime.now(UTC)
    with LoadGenerator(rehearsal.lb_url) as load:
        process = start_deploy(rehearsal, "--revision", new, "--alarm", alarm)
        try:
            wait_until(
                lambda: _checkout_started(rehearsal, second_batch, since, process),
                120,
                f"the second batch ({second_batch}) checks out",
            )
            _set_alarm(rehearsal, alarm, "ALARM")
            out, err = process.communicate(timeout=180)
            assert process.returncode == 1, out[-3000:] + err
            # The stop is a cancel: the deploy only starts RollbackFleet, which brings the fleet back
            # after the deploy has ended, still under load.
            ended = wait_for_execution_end(rehearsal, execution_id(out))
            cancel = {s["StepName"]: s for s in ended["StepExecutions"]}["RollBackOnCancel"]
            rollback = wait_for_execution_end(rehearsal, cancel["Outputs"]["RollbackExecutionId"][0])
        finally:
            process.kill()
            _set_alarm(rehearsal, alarm, "OK")
    execution = execution_id(out)
    reason = f"CloudWatch alarm {alarm} went into ALARM and stopped the deploy"
    assert f"deploy failed: execution {execution} ended Cancelled: {reason}" in out
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert_fleet_consistent(rehearsal.state_dir, old)
    assert load.failures == [], load.failures[:10]
    assert load.answers[new] > 0 and load.answers[old] > 0, load.answers

    shown = status_json(rehearsal, execution)
    assert (shown["alarm"], shown["triggered_alarms"]) == (alarm, [{"name": alarm, "state": "ALARM"}])
    steps = {s["name"]: s["status"] for s in shown["steps"]}
    assert steps["RollBackOnCancel"] == "Success"


# --- a cancel on the failure path ---------------------------------------------------------------


def _running_deploy(ssm) -> dict | None:
    """The fleet's one releaseflow-Deploy execution still running, if any."""
    running = ssm.describe_automation_executions(
        Filters=[
            {"Key": "DocumentNamePrefix", "Values": ["releaseflow-Deploy"]},
            {"Key": "ExecutionStatus", "Values": ["InProgress"]},
        ]
    )["AutomationExecutionMetadataList"]
    return running[0] if running else None


def test_a_cancel_while_the_deploy_awaits_its_rollback_reports_it_and_the_fleet_still_goes_back(rehearsal):
    """A health check fails, the deploy starts RollbackFleet and waits in AwaitRollback; a cancel there (what
    the alarm's stop is) ends the deploy Cancelled through ReportFailure, which names the running rollback,
    and that rollback still brings every host back."""
    old = rehearsal.revisions[0]
    _, failing, _ = roles(rehearsal)
    ssm = client(rehearsal, "ssm")
    with unhealthy_on(rehearsal, failing) as unhealthy:
        process = start_deploy(rehearsal, "--revision", unhealthy, "--param", "HealthCheckRetries=15")
        try:
            found = {}

            def awaiting():
                assert process.poll() is None, "the deploy ended before it awaited its rollback"
                running = _running_deploy(ssm)
                if running is None:
                    return False
                found["deploy"] = running["AutomationExecutionId"]
                execution = ssm.get_automation_execution(AutomationExecutionId=found["deploy"])
                return execution["AutomationExecution"].get("CurrentStepName") == "AwaitRollback"

            wait_until(awaiting, 180, "the deploy waits in AwaitRollback")
            ssm.stop_automation_execution(AutomationExecutionId=found["deploy"], Type="Cancel")
            cancelled = time.monotonic()
            ended = wait_for_execution_end(rehearsal, found["deploy"])
            assert time.monotonic() - cancelled < 60
            process.communicate(timeout=240)
        finally:
            process.kill()

    assert ended["AutomationExecutionStatus"] == "Cancelled"
    steps = {s["StepName"]: s for s in ended["StepExecutions"]}
    assert steps["AwaitRollback"]["StepStatus"] == "Cancelled"
    rollback_id = steps["StartRollback"]["Outputs"]["RollbackExecutionId"][0]
    assert "RollBackOnCancel" not in steps, "a second rollback was started beside the running one"
    assert steps["ReportFailure"]["StepStatus"] == "Failed"
    assert f"releaseflow-RollbackFleet {rollback_id}" in steps["ReportFailure"]["FailureMessage"]
    rollback = wait_for_execution_end(rehearsal, rollback_id)
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert_fleet_consistent(rehearsal.state_dir, old)
