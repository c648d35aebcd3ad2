"""Run Command's API for the rehearsal: SendCommand and friends, and the agents' poll and report, turned
into calls on commands_models.CommandsBackend, and its commands into the shapes the API answers."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from releaseflow.rehearsal import command_document
from releaseflow.rehearsal.endpoint.awsjson import ApiError, compact, epoch, filter_values, page, parse_iso
from releaseflow.rehearsal.endpoint.commands_models import (
    CloudWatchOutput,
    Command,
    CommandOptions,
    CommandsBackend,
    InvocationRecord,
    PluginResult,
)
from releaseflow.ssm import COMMAND_TERMINAL as TERMINAL

DEFAULT_DELIVERY_TIMEOUT = 3600
# SendCommand's InstanceIds: "Maximum number of 50 items" (API reference).
MAX_INSTANCE_IDS = 50
STDOUT_LIMIT = 24000
STDERR_LIMIT = 8000
# CloudWatchOutputConfig.CloudWatchLogGroupName (API reference: "Pattern: [\.\-_/#A-Za-z0-9]+", 1-512).
_LOG_GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
# The union of SendCommand's MaxConcurrency and MaxErrors patterns (botocore does not check them).
_RATE = re.compile(r"^([0-9]+|[0-9]{1,2}%|100%)$")


class CommandsResponses:
    """The Run Command operations and the agent API, each a request dict in and a response dict out."""

    def __init__(self, backend: CommandsBackend):
        self.backend = backend

    # --- SSM API -------------------------------------------------------------------------------

    def send_command(self, request: dict) -> dict:
        """SendCommand: resolve document, parameters and targets, queue one invocation per instance.

        The checks run in the order the refusals have always come in: the instance count, the document,
        its parameters, the log group, the targets, then the rates (which count the targets)."""
        if len(request.get("InstanceIds") or []) > MAX_INSTANCE_IDS:
            raise ApiError(
                "ValidationException",
                f"InstanceIds lists {len(request['InstanceIds'])} instances; SendCommand takes at most "
                f"{MAX_INSTANCE_IDS}.",
            )
        document = self.backend.command_document(
            request["DocumentName"], request.get("DocumentVersion"), request.get("DocumentHash")
        )
        try:
            resolved = command_document.resolve_parameters(document.content, request.get("Parameters") or {})
        except command_document.InvalidParameters as exc:
            raise ApiError("InvalidParameters", str(exc)) from exc
        except command_document.InvalidDocument as exc:
            raise ApiError("InvalidDocument", str(exc)) from exc
        config = request.get("CloudWatchOutputConfig") or {}
        group = config.get("CloudWatchLogGroupName")
        if group is not None and not _LOG_GROUP_NAME.match(group):
            raise ApiError(
                "ValidationException",
                f"CloudWatchOutputConfig.CloudWatchLogGroupName {group!r} must match [.\\-_/#A-Za-z0-9]+ "
                "(1-512 characters).",
            )
        instance_ids = self.backend.resolve_targets(request.get("InstanceIds"), request.get("Targets"))
        options = CommandOptions(
            comment=request.get("Comment", ""),
            parameters=request.get("Parameters") or {},
            instance_ids=request.get("InstanceIds") or [],
            targets=request.get("Targets") or [],
            max_concurrency=request.get("MaxConcurrency", "50"),
            max_errors=request.get("MaxErrors", "0"),
            service_role=request.get("ServiceRoleArn"),
            cloudwatch=CloudWatchOutput(
                config.get("CloudWatchLogGroupName", ""), bool(config.get("CloudWatchOutputEnabled", False))
            ),
        )
        delivery_timeout = int(request.get("TimeoutSeconds") or DEFAULT_DELIVERY_TIMEOUT)
        count = len(instance_ids)
        concurrency = max(1, _rate(options.max_concurrency, count, math.ceil))
        max_errors = _rate(options.max_errors, count, math.floor)
        # The answer shows the command as it was sent, before any agent could take it.
        with self.backend.lock:
            command = self.backend.send(
                document, resolved, options, instance_ids, delivery_timeout, concurrency, max_errors
            )
            return {"Command": _command_shape(command)}

    def list_commands(self, request: dict) -> dict:
        """ListCommands, newest first, by CommandId, InstanceId and Filters."""
        filters = _command_filters(request)
        with self.backend.lock:
            commands = self.backend.commands(request.get("CommandId"))
            if instance_id := request.get("InstanceId"):
                commands = [c for c in commands if any(i.instance_id == instance_id for i in c.invocations)]
            shapes = [_command_shape(command) for command in commands]
        shapes = [shape for shape in shapes if _command_selected(shape, filters)]
        shown, token = page(shapes, request)
        return compact({"Commands": shown, "NextToken": token})

    def list_command_invocations(self, request: dict) -> dict:
        """ListCommandInvocations, by CommandId, InstanceId and Filters; Details=true adds CommandPlugins
        with their Output."""
        filters = _command_filters(request)
        with self.backend.lock:
            rows = [
                _invocation_shape(command, invocation, bool(request.get("Details")))
                for command in self.backend.commands(request.get("CommandId"))
                for invocation in command.invocations
                if invocation.instance_id == request.get("InstanceId", invocation.instance_id)
            ]
        rows = [row for row in rows if _command_selected(row, filters)]
        shown, token = page(rows, request)
        return compact({"CommandInvocations": shown, "NextToken": token})

    def get_command_invocation(self, request: dict) -> dict:
        """GetCommandInvocation: one instance's status and output, optionally of one plugin."""
        with self.backend.lock:
            command = self.backend.command(request["CommandId"])
            invocation = command.invocation(request["InstanceId"])
            return _invocation_result(command, invocation, request.get("PluginName"))

    def cancel_command(self, request: dict) -> dict:
        """CancelCommand, of the instances named or of the whole command."""
        self.backend.cancel(request["CommandId"], request.get("InstanceIds"))
        return {}

    # --- agent API -----------------------------------------------------------------------------

    def poll(self, instance_id: str, wait: float, session: str | None = None) -> dict:
        """The agent's work: its released commands, and the ids of those to cancel (CommandsBackend.poll)."""
        commands, cancels = self.backend.poll(instance_id, wait, session)
        return {"commands": [_agent_command(command) for command in commands], "cancel": cancels}

    def report(self, body: dict) -> dict:
        """An agent's progress report: its times are ISO 8601, its plugins' results in the agent's words."""
        self.backend.report(
            body["command_id"],
            body["instance_id"],
            status=body["status"],
            response_code=int(body.get("response_code", -1)),
            start=parse_iso(body.get("start")),
            end=parse_iso(body.get("end")),
            plugins=[
                PluginResult(
                    name=plugin["name"],
                    status=plugin["status"],
                    response_code=int(plugin.get("response_code", -1)),
                    start=parse_iso(plugin.get("start")),
                    end=parse_iso(plugin.get("end")),
                    output=plugin.get("output", ""),
                    stdout=plugin.get("stdout", ""),
                    stderr=plugin.get("stderr", ""),
                )
                for plugin in body.get("plugins", [])
            ],
        )
        return {}


def _command_shape(command: Command) -> dict:
    options = command.options
    status, details = command.status()
    invocations = command.invocations
    return compact(
        {
            "CommandId": command.command_id,
            "DocumentName": command.document.name,
            "DocumentVersion": command.document.version,
            "Comment": options.comment,
            "ExpiresAfter": epoch(command.requested + command.delivery_timeout + command.execution_timeout),
            "Parameters": options.parameters,
            "InstanceIds": options.instance_ids,
            "Targets": options.targets,
            "RequestedDateTime": epoch(command.requested),
            "Status": status,
            "StatusDetails": details,
            "MaxConcurrency": options.max_concurrency,
            "MaxErrors": options.max_errors,
            "TargetCount": len(invocations),
            "CompletedCount": sum(1 for i in invocations if i.status in TERMINAL),
            "ErrorCount": sum(1 for i in invocations if i.is_error),
            "DeliveryTimedOutCount": sum(1 for i in invocations if i.details == "DeliveryTimedOut"),
            "TimeoutSeconds": command.delivery_timeout,
            "ServiceRole": options.service_role,
            "CloudWatchOutputConfig": _cloudwatch_output(command),
        }
    )


def _invocation_shape(command: Command, invocation: InvocationRecord, details: bool) -> dict:
    shape: dict = {
        "CommandId": command.command_id,
        "InstanceId": invocation.instance_id,
        "InstanceName": invocation.instance_id,
        "Comment": command.options.comment,
        "DocumentName": command.document.name,
        "DocumentVersion": command.document.version,
        "RequestedDateTime": epoch(command.requested),
        "Status": invocation.status,
        "StatusDetails": invocation.details,
        "TraceOutput": "",
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
        "CommandPlugins": [],
        "CloudWatchOutputConfig": _cloudwatch_output(command),
    }
    if details:
        shape["CommandPlugins"] = [
            compact(
                {
                    "Name": plugin.name,
                    "Status": plugin.status,
                    "StatusDetails": plugin.status,
                    "ResponseCode": plugin.response_code,
                    "ResponseStartDateTime": epoch(plugin.start),
                    "ResponseFinishDateTime": epoch(plugin.end),
                    "Output": plugin.output,
                    "StandardOutputUrl": "",
                    "StandardErrorUrl": "",
                }
            )
            for plugin in invocation.plugins
        ]
    return shape


def _invocation_result(command: Command, invocation: InvocationRecord, plugin_name: str | None) -> dict:
    # GetCommandInvocation, PluginName: "If the document contains more than one step, you must specify
    # the name of the step for which you want to view details."
    steps = command.document.content.get("mainSteps") or []
    if not plugin_name and len(steps) > 1:
        raise ApiError(
            "InvalidPluginName",
            f"{command.document.name} has {len(steps)} steps: name one with PluginName "
            f"({', '.join(str(step.get('name')) for step in steps)}).",
        )
    plugins = invocation.plugins
    status, details, code = invocation.status, invocation.details, invocation.response_code
    start, end = invocation.start, invocation.end
    if plugin_name:
        matching = [plugin for plugin in plugins if plugin.name == plugin_name]
        if plugins and not matching:
            raise ApiError("InvalidPluginName", f"No plugin {plugin_name} in {command.command_id}.")
        plugins = matching
        if matching:
            plugin = matching[0]
            status, code, start, end = plugin.status, plugin.response_code, plugin.start, plugin.end
            details = "ExecutionTimedOut" if status == "TimedOut" else status
    stdout = "".join(plugin.stdout for plugin in plugins)[:STDOUT_LIMIT]
    stderr = "".join(plugin.stderr for plugin in plugins)[:STDERR_LIMIT]
    return compact(
        {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "Comment": command.options.comment,
            "DocumentName": command.document.name,
            "DocumentVersion": command.document.version,
            "PluginName": plugin_name,
            "ResponseCode": code,
            "ExecutionStartDateTime": _string_time(start),
            "ExecutionElapsedTime": _elapsed(start, end),
            "ExecutionEndDateTime": _string_time(end),
            "Status": status,
            "StatusDetails": details,
            "StandardOutputContent": stdout,
            "StandardOutputUrl": "",
            "StandardErrorContent": stderr,
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": _cloudwatch_output(command),
        }
    )


def _agent_command(command: Command) -> dict:
    return {
        "command_id": command.command_id,
        "document_name": command.document.name,
        "document_version": command.document.version,
        "content": command.document.content,
        "parameters": command.options.parameters,
        "timeout_seconds": command.execution_timeout,
        "cloudwatch_output": _cloudwatch_output(command),
    }


def _cloudwatch_output(command: Command) -> dict:
    cloudwatch = command.options.cloudwatch
    return {"CloudWatchLogGroupName": cloudwatch.log_group, "CloudWatchOutputEnabled": cloudwatch.enabled}


def _command_filters(request: dict) -> dict[str, list[str]]:
    """ListCommands/ListCommandInvocations Filters: CommandFilter is `{key, value}`, one value each."""
    filters = [
        {
            "Key": item.get("key", item.get("Key")),
            "Values": [item["value"]] if "value" in item else item.get("Values", []),
        }
        for item in request.get("Filters") or []
    ]
    keys = ("InvokedAfter", "InvokedBefore", "Status", "DocumentName", "ExecutionStage")
    return filter_values(filters, keys, "InvalidFilterKey")


def _command_selected(shape: dict, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "Status" and shape["Status"] not in values:
            return False
        if key == "DocumentName" and shape["DocumentName"] not in values:
            return False
        if key == "InvokedAfter" and shape["RequestedDateTime"] < min(map(_filter_time, values)):
            return False
        if key == "InvokedBefore" and shape["RequestedDateTime"] > max(map(_filter_time, values)):
            return False
    return True


def _filter_time(value: str) -> float:
    return parse_iso(value) or 0.0


def _rate(value: str, targets: int, rounding: Callable[[float], int]) -> int:
    """A MaxConcurrency/MaxErrors value (`10` or `10%`) as a count for `targets` targets."""
    if not _RATE.match(value):
        raise ApiError("ValidationException", f"{value!r} is neither a count nor a percentage.")
    if value.endswith("%"):
        return int(rounding(targets * int(value[:-1]) / 100))
    return int(value)


def _string_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _elapsed(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    return f"PT{end - start:.3f}S"
