"""aws:branch and aws:sleep: actions that only steer or pace the execution."""

from __future__ import annotations

from releaseflow.rehearsal.engine.conditions import holds
from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.rehearsal.engine.durations import duration_seconds, seconds_until
from releaseflow.rehearsal.engine.errors import StepFailed


def branch(inputs: dict, ctx: ActionContext) -> ActionResult:
    """The NextStep of the first choice that holds, else Default; neither means the next step in order."""
    choices = inputs.get("Choices")
    if not isinstance(choices, list) or not choices:
        raise StepFailed("Choices must be a non-empty list")
    for choice in choices:
        if holds({key: value for key, value in choice.items() if key != "NextStep"}):
            return ActionResult(
                response={"NextStep": choice.get("NextStep")}, next_step=choice.get("NextStep")
            )
    default = inputs.get("Default")
    return ActionResult(response={"NextStep": default}, next_step=default)


def sleep(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Wait for Duration (ISO 8601) or until Timestamp (UTC)."""
    if "Duration" in inputs:
        seconds = duration_seconds(inputs["Duration"])
    elif "Timestamp" in inputs:
        seconds = seconds_until(inputs["Timestamp"], ctx.clock())
    else:
        raise StepFailed("aws:sleep needs Duration or Timestamp")
    ctx.wait(seconds)
    return ActionResult()
