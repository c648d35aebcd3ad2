"""aws:runCommand: SendCommand, then poll until the command ends; success only if its Status is Success."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.rehearsal.engine.errors import AwsCallError, StepCancelled, StepFailed, StepTimedOut
from releaseflow.rehearsal.engine.readings_in_force import play
from releaseflow.ssm import ACTIONS, MAX_RUN_COMMAND_INSTANCES
from releaseflow.ssm import COMMAND_TERMINAL as TERMINAL

# The inputs aws:runCommand accepts (automation-action-runCommand), passed on to SendCommand as given.
_PASSED = ACTIONS["aws:runCommand"].inputs


def _parameter_values(value: Any) -> list[str]:
    """SendCommand wants a list of strings per parameter; runbooks often write a scalar."""
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, str) else json.dumps(item) for item in items]


def send_command_request(inputs: dict) -> dict:
    """The SendCommand request for the step's resolved inputs."""
    if not inputs.get("DocumentName"):
        raise StepFailed("DocumentName is a required input")
    unknown = sorted(set(inputs) - _PASSED)
    if unknown:
        raise StepFailed(f"aws:runCommand does not take the input(s) {', '.join(unknown)}")
    instance_ids = inputs.get("InstanceIds")
    if isinstance(instance_ids, list) and len(instance_ids) > MAX_RUN_COMMAND_INSTANCES:
        raise StepFailed(
            f"InstanceIds lists {len(instance_ids)} instances; aws:runCommand takes at most "
            f"{MAX_RUN_COMMAND_INSTANCES} (use Targets, or several steps)"
        )
    request = dict(inputs)
    if "Parameters" in request:
        request["Parameters"] = {
            key: _parameter_values(value) for key, value in request["Parameters"].items()
        }
    for key in ("MaxConcurrency", "MaxErrors", "DocumentVersion"):
        if key in request:
            request[key] = str(request[key])
    if "TimeoutSeconds" in request:
        request["TimeoutSeconds"] = int(request["TimeoutSeconds"])
    return request


def run_command(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Send the command and follow it to a terminal status."""
    request = send_command_request(inputs)
    pinned = "DocumentVersion" in request
    if pinned and play(ctx.readings, "run_command_document_version", ctx.where) == "refused":
        raise StepFailed(
            f"aws:runCommand input DocumentVersion is not documented for the action (step '{ctx.name}'; "
            "reading run_command_document_version=refused)"
        )
    try:
        command_id = ctx.aws("ssm", "SendCommand", request)["Command"]["CommandId"]
    except AwsCallError as error:
        raise StepFailed(f"SendCommand failed: {error.code}: {error.message}") from error
    try:
        status = _follow(command_id, ctx)
    except (StepCancelled, StepTimedOut):
        _cancel(command_id, ctx)
        raise
    invocations = _invocations(command_id, ctx)
    first = invocations[0] if invocations else {}
    plugins = first.get("CommandPlugins") or []
    response_code = plugins[-1].get("ResponseCode", 0) if plugins else -1
    response = {
        "CommandId": command_id,
        "Status": status,
        "ResponseCode": response_code,
        # As in AWS, only one instance's output surfaces here.
        "Output": "\n".join(plugin.get("Output", "") for plugin in plugins),
    }
    if status != "Success":
        failed = [item for item in invocations if item.get("Status") != "Success"] or invocations
        hosts = "; ".join(_describe(item) for item in failed) or "no invocation was reported"
        raise StepFailed(
            f"Step fails when it is Poll action status for completion. Command {command_id} "
            f"({request['DocumentName']}) ended with status {status}: {hosts}",
            details={"CommandId": [command_id], "FailedInstances": [i.get("InstanceId", "") for i in failed]},
            # Open reading failed_run_command_outputs: `all` keeps them, `none` leaves the step without
            # (the engine decides, since only it knows whether the runbook reads them).
            outputs=response,
            outputs_reading="failed_run_command_outputs",
        )
    return ActionResult(response=response, outputs=response, response_code=str(response_code))


def _follow(command_id: str, ctx: ActionContext) -> str:
    """The command's terminal status, asking ListCommands until it has one (ActionContext.poll_until)."""

    def terminal_status() -> str | None:
        try:
            commands = ctx.aws("ssm", "ListCommands", {"CommandId": command_id}).get("Commands") or []
        except AwsCallError as error:
            raise StepFailed(f"ListCommands failed: {error.code}: {error.message}") from error
        status = commands[0].get("Status") if commands else None
        return status if status in TERMINAL else None

    return ctx.poll_until(terminal_status)


def _invocations(command_id: str, ctx: ActionContext) -> list[dict]:
    request = {"CommandId": command_id, "Details": True}
    found: list[dict] = []
    try:
        while True:
            page = ctx.aws("ssm", "ListCommandInvocations", request)
            found.extend(page.get("CommandInvocations") or [])
            if not page.get("NextToken"):
                return found
            request = {**request, "NextToken": page["NextToken"]}
    except AwsCallError as error:
        raise StepFailed(f"ListCommandInvocations failed: {error.code}: {error.message}") from error


def _describe(invocation: dict) -> str:
    plugins = invocation.get("CommandPlugins") or []
    codes = [str(plugin.get("ResponseCode")) for plugin in plugins if plugin.get("Status") != "Success"]
    code = f", response code {codes[0]}" if codes else ""
    return f"{invocation.get('InstanceId', '?')} {invocation.get('Status', '?')}{code}"


def _cancel(command_id: str, ctx: ActionContext) -> None:
    """Stopping the step stops the command too, as AWS does; a failure to cancel changes nothing."""
    with contextlib.suppress(AwsCallError):
        ctx.aws("ssm", "CancelCommand", {"CommandId": command_id})
