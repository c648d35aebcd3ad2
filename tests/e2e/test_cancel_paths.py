"""On the rehearsal: a cancel on the failure path (an alarm's stop is one) still ends with the fleet rolled back.

One fleet of 3 hosts under the strict readings; the test starts and ends with the fleet at revision 1.
"""

from __future__ import annotations

import time

import pytest

from scenarios import (
    assert_fleet_consistent,
    client,
    fleet_fixture,
    roles,
    start_deploy,
    unhealthy_on,
    wait_for_execution_end,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=3, aws_readings="strict")


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
