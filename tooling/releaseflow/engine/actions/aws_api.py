"""aws:executeAwsApi, aws:waitForAwsResourceProperty and aws:assertAwsResourceProperty."""

from __future__ import annotations

from typing import Any

from releaseflow.engine.context import POLL_INTERVAL, ActionContext, ActionResult
from releaseflow.engine.errors import AwsCallError, StepFailed
from releaseflow.engine.jsonpath import JsonPathError, select
from releaseflow.engine.values import as_strings


def call(inputs: dict, ctx: ActionContext, exclude: tuple[str, ...] = ()) -> Any:
    """Call inputs' Service/Api with the remaining inputs as the operation's parameters."""
    service, api = inputs.get("Service"), inputs.get("Api")
    if not service or not api:
        raise StepFailed("Service and Api are required inputs")
    params = {key: value for key, value in inputs.items() if key not in ("Service", "Api", *exclude)}
    try:
        return ctx.aws(service, api, params)
    except AwsCallError as error:
        raise StepFailed(f"{service}.{api} failed: {error.code}: {error.message}") from error


def execute_aws_api(inputs: dict, ctx: ActionContext) -> ActionResult:
    """One API call; the step's outputs select from its response."""
    return ActionResult(response=call(inputs, ctx))


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


def _satisfied(actual: list[str], desired: list[str]) -> bool:
    # Our reading of SSM: when the selector yields a list, every element must be one of DesiredValues,
    # and an empty selection never satisfies the condition.
    return bool(actual) and all(value in desired for value in actual)


def wait_for_property(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Poll the API until the selected property takes one of DesiredValues."""
    while True:
        actual, desired = _property(inputs, ctx)
        if _satisfied(actual, desired):
            return ActionResult(response={"Property": actual})
        ctx.wait(POLL_INTERVAL)


def assert_property(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Call the API once; fail unless the selected property is one of DesiredValues."""
    actual, desired = _property(inputs, ctx)
    if not _satisfied(actual, desired):
        raise StepFailed(
            f"Step fails when it is verifying the property. {inputs.get('PropertySelector')} is {actual}, "
            f"expected one of {desired}"
        )
    return ActionResult(response={"Property": actual})
