"""Operator proofs: an operator's own AWS CLI commands mid-deploy leave one good revision.

A host stopped with `aws ec2 stop-instances` (before its batch, and while its own switch runs), and a
cancel with `aws ssm stop-automation-execution`.
They run on a fleet of their own under the strict readings (the ones that hurt a runbook), in a
module apart from the failure scenarios so that pytest-xdist runs them beside those.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from releaseflow import ssm as ssm_facts
from scenarios import (
    assert_cancel_rolled_back,
    assert_fleet_consistent,
    aws_cli,
    client,
    deploy_record,
    execution_id,
    fleet_fixture,
    host_states_once_healthy,
    ping_status,
    roles,
    start_deploy,
    stop_host_mid_deploy,
    wait_for_execution_end,
    wait_for_invocation,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=3, aws_readings="strict")


def test_host_stopped_with_the_aws_cli_mid_deploy_fails_naming_it_and_the_others_end_on_the_old_revision(
    rehearsal,
):
    """`aws ec2 stop-instances` of a later batch's host mid-deploy: the deploy fails naming it, every other
    host ends on the old revision, healthy in the load balancer; `aws ec2 start-instances` brings it back."""
    old, new = rehearsal.revisions
    migration, first, stopped = roles(rehearsal)
    since = datetime.now(UTC)
    # A slow install keeps the deploy on the first two hosts while the third is stopped (EC2 and SSM
    # show a stopped host at once, unlike a lost agent: no offline detection to wait for). One second
    # is enough: the stop is sent once the migration host's switch runs, and the third host's batch
    # starts only after that switch, two restarts, two health checks and two registrations; each
    # second more costs four (the prepare and three switches run it).
    process = start_deploy(rehearsal, "--revision", new, "--param", "InstallCommand=sleep 1")
    out, err = stop_host_mid_deploy(rehearsal, process, since, stopped, once_switching=migration, timeout=240)

    assert process.returncode == 1, out[-3000:] + err
    assert f"not online in Systems Manager, so this batch does not start: {stopped}" in out
    # The stopped host is out of service (the load balancer holds it unused); the others are in
    # service on the old revision, each healthy behind the load balancer.
    others = {migration, first}
    seen = host_states_once_healthy(rehearsal, others)
    assert {i: seen[i] for i in others} == {i: (old, old, True, "healthy") for i in others}
    assert seen[stopped][2:] == (False, "unused")
    for rolled_back in others:
        assert deploy_record(rehearsal.state_dir, rolled_back)["rolled-back"] == execution_id(out)

    aws_cli(rehearsal, "ec2", "start-instances", "--instance-ids", stopped)
    wait_until(lambda: ping_status(rehearsal, stopped) == "Online", 30, f"{stopped} is back online")
    assert_fleet_consistent(rehearsal.state_dir, old, lb_timeout=60)


# SSM's execution timeout of a host's switch (releaseflow-CheckoutRevision's executionTimeout): a host
# stopped mid-switch never reports back, so SSM times its invocation out once this and SwitchBatch's
# 60 s delivery timeout have passed. Short here, long enough for a normal switch (with `sleep 3`):
# the migration host's switch must end within it, and takes 3.5-4.5 s (the sleep, a checkout and at
# most the 2 s drain), so 10 s leaves it twice that; each second less is a second less of the wait.
SWITCH_TIMEOUT = 10


def test_host_stopped_while_its_own_switch_runs_fails_naming_it_and_the_rollback_fleet_converges_it_later(
    rehearsal,
):
    """`aws ec2 stop-instances` on a host while its own SwitchBatch command runs on it: SSM times that
    invocation out, the deploy fails naming the host, every other host ends in service on the old
    revision, the stopped host is left switched, out of service and named as not rolled back; once
    started again, releaseflow-RollbackFleet for the deploy puts it back too."""
    old, new = rehearsal.revisions
    migration, stopped, untouched = roles(rehearsal)
    since = datetime.now(UTC)
    process = start_deploy(
        rehearsal,
        "--revision",
        new,
        "--param",
        "InstallCommand=sleep 3",
        "--param",
        f"SwitchTimeoutSeconds={SWITCH_TIMEOUT}",
    )
    out, err = stop_host_mid_deploy(rehearsal, process, since, stopped, once_switching=stopped, timeout=300)

    assert process.returncode == 1, out[-3000:] + err
    execution = execution_id(out)
    ssm = client(rehearsal, "ssm")
    # SSM timed the stopped host's switch out (delivery + execution timeout): the failure names it.
    [switch] = [
        i
        for i in ssm.list_command_invocations(InstanceId=stopped)["CommandInvocations"]
        if i["DocumentName"] == "releaseflow-CheckoutRevision" and i["RequestedDateTime"] >= since
    ]
    assert switch["Status"] == "TimedOut", switch
    assert f"host: {stopped}" in out, out[-3000:]
    assert "SwitchBatch" in out
    # What the stopped host is left with is stated: not rolled back, and what to run once it is back.
    assert f"unreachable, so not rolled back: {stopped}" in out, out[-3000:]
    others = {migration, untouched}
    seen = host_states_once_healthy(rehearsal, others)
    assert {i: seen[i] for i in others} == {i: (old, old, True, "healthy") for i in others}
    assert deploy_record(rehearsal.state_dir, migration)["rolled-back"] == execution
    # The stopped host: switched to the new revision by this deploy, not rolled back, out of service
    # (drained, and not registered again while stopped: not in the target group, `unknown` here).
    assert (seen[stopped][0], *seen[stopped][2:]) == (new, False, "unknown")
    record = deploy_record(rehearsal.state_dir, stopped)
    assert (record["execution-id"], "rolled-back" in record) == (execution, False)

    # Once started again, RollbackFleet for the deploy (as the failure says) converges it.
    aws_cli(rehearsal, "ec2", "start-instances", "--instance-ids", stopped)
    wait_until(lambda: ping_status(rehearsal, stopped) == "Online", 30, f"{stopped} is back online")
    parameters = ssm.get_automation_execution(AutomationExecutionId=execution)["AutomationExecution"][
        "Parameters"
    ]
    started = aws_cli(
        rehearsal,
        "ssm",
        "start-automation-execution",
        "--document-name",
        "releaseflow-RollbackFleet",
        "--parameters",
        f"ExecutionId={execution},AutomationAssumeRole={parameters['AutomationAssumeRole'][0]}",
    )
    rollback = wait_for_execution_end(rehearsal, started["AutomationExecutionId"])
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert deploy_record(rehearsal.state_dir, stopped)["rolled-back"] == execution
    assert_fleet_consistent(rehearsal.state_dir, old, lb_timeout=60)


def test_cancel_with_the_aws_cli_mid_batch_ends_cancelled_in_time_and_its_rollback_restores_the_fleet(
    rehearsal,
):
    """`aws ssm stop-automation-execution` while a batch updates: the execution ends Cancelled within
    Automation's two-minute cancel limit, and once the RollbackFleet it started ends every host serves
    the old revision, healthy in the load balancer."""
    old, new = rehearsal.revisions
    _, first, _ = roles(rehearsal)
    since = datetime.now(UTC)
    process = start_deploy(rehearsal, "--revision", new, "--param", "InstallCommand=sleep 3")
    try:
        wait_for_invocation(rehearsal, first, "releaseflow-CheckoutRevision", ("InProgress",), process, since)
        listed = aws_cli(rehearsal, "ssm", "describe-automation-executions")[
            "AutomationExecutionMetadataList"
        ]
        [execution] = [
            e["AutomationExecutionId"]
            for e in listed
            if e["DocumentName"] == "releaseflow-Deploy" and e["AutomationExecutionStatus"] == "InProgress"
        ]
        requested = datetime.now(UTC)
        aws_cli(rehearsal, "ssm", "stop-automation-execution", "--automation-execution-id", execution)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()

    # The trigger following the deploy reports the cancel as such, once the rollback it started ended.
    assert process.returncode == 4, out[-3000:] + err
    assert execution_id(out) == execution
    ended = wait_for_execution_end(rehearsal, execution)
    assert ended["AutomationExecutionStatus"] == "Cancelled"
    # The cancel limit, read from the execution's own end time: Cancelled within two minutes of the
    # request, its onCancel step (which starts the rollback) included.
    assert 0 <= (ended["ExecutionEndTime"] - requested).total_seconds() < ssm_facts.CANCEL_SECONDS
    assert "Cancelled" in {s["StepStatus"] for s in ended["StepExecutions"]}, ended["StepExecutions"]
    assert_cancel_rolled_back(rehearsal, ended, out, old)
