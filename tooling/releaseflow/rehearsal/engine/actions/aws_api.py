"""aws:executeAwsApi, aws:waitForAwsResourceProperty and aws:assertAwsResourceProperty."""

from __future__ import annotations

import threading
from typing import Any

from releaseflow.readings import OPEN_READINGS
from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.rehearsal.engine.errors import AwsCallError, StepFailed
from releaseflow.rehearsal.engine.jsonpath import JsonPathError, select
from releaseflow.rehearsal.engine.readings_in_force import play
from releaseflow.rehearsal.engine.values import as_strings


def call(inputs: dict, ctx: ActionContext, exclude: tuple[str, ...] = (), limit: float | None = None) -> Any:
    """Call inputs' Service/Api with the remaining inputs as the operation's parameters.

    With `limit`, a call that has not answered after that many seconds fails the step (the call
    itself is left to finish in the background: AWS does not undo it either).
    """
    service, api = inputs.get("Service"), inputs.get("Api")
    if not service or not api:
        raise StepFailed("Service and Api are required inputs")
    params = {key: value for key, value in inputs.items() if key not in ("Service", "Api", *exclude)}
    try:
        if limit is None:
            return ctx.aws(service, api, params)
        return _within(limit, lambda: ctx.aws(service, api, params), f"{service}.{api}", ctx.name)
    except AwsCallError as error:
        raise StepFailed(f"{service}.{api} failed: {error.code}: {error.message}") from error


def _within(limit: float, function, what: str, step: str) -> Any:
    answer: dict[str, Any] = {}

    def target() -> None:
        try:
            answer["value"] = function()
        except BaseException as error:  # handed back to the step's thread
            answer["error"] = error

    worker = threading.Thread(target=target, name=f"executeAwsApi-{step}", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise StepFailed(
            f"{what} did not answer within {limit:g} s: aws:executeAwsApi runs at most 25 seconds "
            f"(step '{step}')"
        )
    if "error" in answer:
        raise answer["error"]
    return answer["value"]


def execute_aws_api(inputs: dict, ctx: ActionContext) -> ActionResult:
    """One API call, failing past AWS's 25 s limit; the step's outputs select from its response."""
    return ActionResult(response=call(inputs, ctx, limit=ctx.limits.api_call_seconds))


def _property(inputs: dict, ctx: ActionContext) -> tuple[list[Any], list[str]]:
    """The current values at PropertySelector and the DesiredValues, both as strings."""
    response = call(inputs, ctx, exclude=("PropertySelector", "DesiredValues"))
    try:
        selection = select(response, inputs.get("PropertySelector"))
    except JsonPathError as error:
        raise StepFailed(f"PropertySelector: {error}") from error
    desired = inputs.get("DesiredValues")
    if not isinstance(desired, list) or not desired:
        raise StepFailed("DesiredValues must be a non-empty list")
    return as_strings(selection.values), [str(value) for value in desired]


def _satisfied(actual: list[str], desired: list[str], reading: str) -> bool:
    """Whether the selected values meet DesiredValues under the open reading wait_multiple_values.

    The documentation does not say what several selected values mean: `all` must each be desired,
    `any` one of them, `first` the first. An empty selection never satisfies the condition.
    """
    if not actual:
        return False
    if reading == "any":
        return any(value in desired for value in actual)
    if reading == "first":
        return actual[0] in desired
    return all(value in desired for value in actual)


MULTIPLE = "wait_multiple_values"


def _met(actual: list[str], desired: list[str], ctx: ActionContext) -> bool:
    """Whether the selection meets DesiredValues, the reading recorded as met when the readings differ."""
    answers = {_satisfied(actual, desired, reading) for reading in OPEN_READINGS[MULTIPLE].readings}
    if len(answers) > 1:
        return _satisfied(actual, desired, play(ctx.readings, MULTIPLE, ctx.where))
    return answers.pop()


def wait_for_property(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Poll the API until the selected property takes one of DesiredValues."""

    def met() -> list[str] | None:
        actual, desired = _property(inputs, ctx)
        return actual if _met(actual, desired, ctx) else None

    return ActionResult(response={"Property": ctx.poll_until(met)})


def assert_property(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Call the API once; fail unless the selected property is one of DesiredValues."""
    actual, desired = _property(inputs, ctx)
    if not _met(actual, desired, ctx):
        raise StepFailed(
            f"Step fails when it is verifying the property. {inputs.get('PropertySelector')} is {actual}, "
            f"expected one of {desired}"
        )
    return ActionResult(response={"Property": actual})
