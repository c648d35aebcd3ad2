"""aws:changeInstanceState: start, stop or terminate instances through EC2 and wait for the state."""

from __future__ import annotations

from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.rehearsal.engine.errors import AwsCallError, StepFailed

_CHANGE = {"running": "StartInstances", "stopped": "StopInstances", "terminated": "TerminateInstances"}


def change_instance_state(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Ask EC2 for the DesiredState unless CheckStateOnly, then wait until every instance is in it."""
    instance_ids = inputs.get("InstanceIds")
    desired = inputs.get("DesiredState")
    if not isinstance(instance_ids, list) or not instance_ids or desired not in _CHANGE:
        raise StepFailed("InstanceIds (a list) and DesiredState (running|stopped|terminated) are required")
    try:
        if str(inputs.get("CheckStateOnly", False)).lower() != "true":
            params: dict = {"InstanceIds": instance_ids}
            if desired == "stopped" and str(inputs.get("Force", False)).lower() == "true":
                params["Force"] = True
            ctx.aws("ec2", _CHANGE[desired], params)

        def in_desired_state() -> list[str] | None:
            response = ctx.aws("ec2", "DescribeInstances", {"InstanceIds": instance_ids})
            states = [
                instance["State"]["Name"]
                for reservation in response.get("Reservations", [])
                for instance in reservation.get("Instances", [])
            ]
            return states if states and all(state == desired for state in states) else None

        return ActionResult(response={"InstanceStates": ctx.poll_until(in_desired_state)})
    except AwsCallError as error:
        raise StepFailed(f"ec2 failed: {error.code}: {error.message}") from error
