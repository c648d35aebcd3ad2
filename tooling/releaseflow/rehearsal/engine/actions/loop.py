"""aws:loop: nested steps for each of Iterators, or do-while a LoopCondition holds, up to MaxIterations."""

from __future__ import annotations

from releaseflow.rehearsal.engine.conditions import holds
from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.rehearsal.engine.errors import StepFailed
from releaseflow.ssm import MAX_LOOP_ITERATIONS as MAX_ITERATIONS


class LoopStepFailed(StepFailed):
    """A nested step failed; the loop step takes over that step's onFailure and isCritical."""

    def __init__(self, message: str, on_failure: str, is_critical: bool):
        super().__init__(message)
        self.on_failure = on_failure
        self.is_critical = is_critical


def loop(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Run the nested Steps once per iteration; a failing nested step fails the loop step.

    The engine hands Steps and LoopCondition over uninterpolated: they are resolved per iteration.
    """
    steps = inputs.get("Steps")
    if not isinstance(steps, list) or not steps:
        raise StepFailed("Steps must be a non-empty list")
    try:
        limit = int(inputs.get("MaxIterations", MAX_ITERATIONS))
    except (TypeError, ValueError) as error:
        raise StepFailed(f"MaxIterations must be an Integer, got {inputs.get('MaxIterations')!r}") from error
    if not 1 <= limit <= MAX_ITERATIONS:
        raise StepFailed(
            f"MaxIterations {limit} is refused: aws:loop runs at most {MAX_ITERATIONS} iterations"
        )
    if "Iterators" in inputs:
        values = _iterators(inputs)
        if len(values) > MAX_ITERATIONS:
            raise StepFailed(
                f"Iterators has {len(values)} values and is refused: aws:loop takes at most {MAX_ITERATIONS}"
            )
        # As AWS: MaxIterations below the number of Iterators ends the loop early, successfully.
        ran = values[:limit]
        for iteration, value in enumerate(ran, start=1):
            _iterate(ctx, steps, iteration, value)
        return ActionResult(response={"CurrentIteration": len(ran)})
    if "LoopCondition" not in inputs:
        raise StepFailed("aws:loop needs Iterators or LoopCondition")
    iteration = 0
    while iteration < limit:
        iteration += 1
        _iterate(ctx, steps, iteration, None)
        # do-while: the condition reads the outputs of the iteration that just ran.
        if not holds(ctx.interpolate(inputs["LoopCondition"])):
            break
    return ActionResult(response={"CurrentIteration": iteration})


def _iterators(inputs: dict) -> list:
    values = inputs["Iterators"]
    if not isinstance(values, list):
        raise StepFailed(f"Iterators must be a list, got {values!r}")
    data_type = inputs.get("IteratorDataType", "String")
    if data_type == "Integer":
        try:
            return [int(value) for value in values]
        except (TypeError, ValueError) as error:
            raise StepFailed(f"Iterators are not all Integers: {values}") from error
    return values


def _iterate(ctx: ActionContext, steps: list, iteration: int, value: object) -> None:
    outputs: dict[str, object] = {"CurrentIteration": iteration}
    if value is not None:
        outputs["CurrentIteratorValue"] = value
    ctx.set_outputs(outputs)
    outcome = ctx.run_nested(steps, iteration, value)
    if outcome.failed is not None:
        record = outcome.failed
        raise LoopStepFailed(
            f"Nested step {record['StepName']} {record['StepStatus']} in iteration {iteration}: "
            f"{record.get('FailureMessage', '')}",
            on_failure=outcome.on_failure,
            is_critical=outcome.is_critical,
        )
