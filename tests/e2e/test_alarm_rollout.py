"""On the rehearsal: a CloudWatch alarm that fires mid-deploy stops it and the fleet goes back.

The same deploy with the alarm left OK, under load, is test_acceptance.py's deploy (one fleet less).
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime

import pytest

from scenarios import (
    AWS_CLI,
    LoadGenerator,
    assert_fleet_consistent,
    client,
    create_alarm,
    execution_id,
    fleet_fixture,
    start_deploy,
    status_json,
    wait_for_execution_end,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=3, name="rehearsal")


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
