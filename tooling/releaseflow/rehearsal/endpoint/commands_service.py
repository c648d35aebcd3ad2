"""Run Command for the rehearsal: SendCommand and friends, rate control, timeouts and the agent queue."""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from releaseflow.rehearsal import command_document
from releaseflow.rehearsal.endpoint.awsjson import ApiError, compact, epoch, filter_values, page, parse_iso
from releaseflow.rehearsal.endpoint.instances_service import InstancesService
from releaseflow.rehearsal.endpoint.moto_state import StoredDocument
from releaseflow.ssm import COMMAND_TERMINAL as TERMINAL

DEFAULT_DELIVERY_TIMEOUT = 3600
# SendCommand's InstanceIds: "Maximum number of 50 items" (API reference).
MAX_INSTANCE_IDS = 50
DEFAULT_EXECUTION_TIMEOUT = 3600
# The agent enforces the execution timeout itself and reports TimedOut; the endpoint only steps in
# when that report does not come, so it waits a little longer than the agent would.
EXECUTION_TIMEOUT_GRACE = 5
STDOUT_LIMIT = 24000
STDERR_LIMIT = 8000
# CloudWatchOutputConfig.CloudWatchLogGroupName (API reference: "Pattern: [\.\-_/#A-Za-z0-9]+", 1-512).
_LOG_GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
# The union of SendCommand's MaxConcurrency and MaxErrors patterns (botocore does not check them).
_RATE = re.compile(r"^([0-9]+|[0-9]{1,2}%|100%)$")


@dataclass
class PluginResult:
    """One step's result as the agent reported it (command_document.Plugin is the step it ran)."""

    name: str
    status: str
    response_code: int
    start: float | None
    end: float | None
    output: str
    stdout: str
    stderr: str


@dataclass
class InvocationRecord:
    """A command on one instance as the endpoint keeps it. `released` = handed to the agent queue by rate
    control. (execution.Invocation is the trigger's parsed view of one.)"""

    instance_id: str
    status: str = "Pending"
    details: str = "Pending"
    released: float | None = None
    delivered: float | None = None
    # The agent process it was handed to (a restarted agent takes it up again: see poll).
    session: str | None = None
    start: float | None = None
    end: float | None = None
    response_code: int = -1
    plugins: list[PluginResult] = field(default_factory=list)

    def finish(self, status: str, details: str, now: float) -> None:
        self.status, self.details = status, details
        self.end = self.end or now

    @property
    def is_error(self) -> bool:
        """Failed and execution timeouts count against MaxErrors; delivery timeouts do not."""
        return self.status == "Failed" or self.details == "ExecutionTimedOut"


@dataclass
class Command:
    """One SendCommand and its invocations, in target order."""

    command_id: str
    document: StoredDocument
    request: dict
    requested: float
    delivery_timeout: int
    execution_timeout: int
    concurrency: int
    max_errors: int
    invocations: list[InvocationRecord]
    cancelled: bool = False

    def invocation(self, instance_id: str) -> InvocationRecord:
        for invocation in self.invocations:
            if invocation.instance_id == instance_id:
                return invocation
        raise ApiError("InvocationDoesNotExist", f"No invocation of {self.command_id} on {instance_id}.")


class CommandsService:
    """Commands and invocations; agents long-poll for their work and report results back."""

    def __init__(
        self,
        documents: Callable[[str, str | None], StoredDocument],
        instances: InstancesService,
        clock: Callable[[], float] = time.time,
    ):
        self._documents = documents
        self._instances = instances
        self._clock = clock
        self._changed = threading.Condition()
        self._commands: dict[str, Command] = {}
        self._cancels: dict[str, list[str]] = {}

    # --- SSM API -------------------------------------------------------------------------------

    def send_command(self, request: dict) -> dict:
        """SendCommand: resolve document, parameters and targets, queue one invocation per instance."""
        if len(request.get("InstanceIds") or []) > MAX_INSTANCE_IDS:
            raise ApiError(
                "ValidationException",
                f"InstanceIds lists {len(request['InstanceIds'])} instances; SendCommand takes at most "
                f"{MAX_INSTANCE_IDS}.",
            )
        document = self._documents(request["DocumentName"], request.get("DocumentVersion"))
        if document.document_type != "Command":
            raise ApiError("InvalidDocument", f"{document.name} is not a Command document.")
        if request.get("DocumentHash") and request["DocumentHash"] != document.hash:
            # The strict reading: a pinned hash that is not the version about to run is refused.
            raise ApiError(
                "InvalidDocument",
                f"Document {document.name} version {document.version} does not match DocumentHash "
                f"{request['DocumentHash']}.",
            )
        try:
            resolved = command_document.resolve_parameters(document.content, request.get("Parameters") or {})
        except command_document.InvalidParameters as exc:
            raise ApiError("InvalidParameters", str(exc)) from exc
        except command_document.InvalidDocument as exc:
            raise ApiError("InvalidDocument", str(exc)) from exc
        group = (request.get("CloudWatchOutputConfig") or {}).get("CloudWatchLogGroupName")
        if group is not None and not _LOG_GROUP_NAME.match(group):
            raise ApiError(
                "ValidationException",
                f"CloudWatchOutputConfig.CloudWatchLogGroupName {group!r} must match [.\\-_/#A-Za-z0-9]+ "
                "(1-512 characters).",
            )
        instance_ids = self._instances.resolve_targets(request.get("InstanceIds"), request.get("Targets"))
        count = len(instance_ids)
        command = Command(
            command_id=str(uuid.uuid4()),
            document=document,
            request=request,
            requested=self._clock(),
            delivery_timeout=int(request.get("TimeoutSeconds") or DEFAULT_DELIVERY_TIMEOUT),
            execution_timeout=_execution_timeout(document.content, resolved),
            concurrency=max(1, _rate(request.get("MaxConcurrency", "50"), count, math.ceil)),
            max_errors=_rate(request.get("MaxErrors", "0"), count, math.floor),
            invocations=[InvocationRecord(instance_id) for instance_id in instance_ids],
        )
        with self._changed:
            self._commands[command.command_id] = command
            self._advance(command)
            self._changed.notify_all()
            return {"Command": self._command_shape(command)}

    def list_commands(self, request: dict) -> dict:
        """ListCommands, newest first, by CommandId, InstanceId and Filters."""
        filters = _command_filters(request)
        with self._changed:
            commands = self._select(request)
            if instance_id := request.get("InstanceId"):
                commands = [c for c in commands if any(i.instance_id == instance_id for i in c.invocations)]
            shapes = [self._command_shape(command) for command in commands]
        shapes = [shape for shape in shapes if _command_selected(shape, filters)]
        shown, token = page(shapes, request)
        return compact({"Commands": shown, "NextToken": token})

    def list_command_invocations(self, request: dict) -> dict:
        """ListCommandInvocations, by CommandId, InstanceId and Filters; Details=true adds CommandPlugins
        with their Output."""
        filters = _command_filters(request)
        with self._changed:
            rows = [
                self._invocation_shape(command, invocation, bool(request.get("Details")))
                for command in self._select(request)
                for invocation in command.invocations
                if invocation.instance_id == request.get("InstanceId", invocation.instance_id)
            ]
        rows = [row for row in rows if _command_selected(row, filters)]
        shown, token = page(rows, request)
        return compact({"CommandInvocations": shown, "NextToken": token})

    def get_command_invocation(self, request: dict) -> dict:
        """GetCommandInvocation: one instance's status and output, optionally of one plugin."""
        with self._changed:
            command = self._command(request["CommandId"])
            invocation = command.invocation(request["InstanceId"])
            return _invocation_result(command, invocation, request.get("PluginName"))

    def cancel_command(self, request: dict) -> dict:
        """CancelCommand: undelivered invocations end Cancelled, running ones are Cancelling."""
        with self._changed:
            command = self._command(request["CommandId"])
            chosen = request.get("InstanceIds") or [i.instance_id for i in command.invocations]
            now = self._clock()
            for instance_id in chosen:
                invocation = command.invocation(instance_id)
                if invocation.status in TERMINAL:
                    continue
                if invocation.delivered is None:
                    invocation.finish("Cancelled", "Cancelled", now)
                else:
                    invocation.status = invocation.details = "Cancelling"
                    self._cancels.setdefault(instance_id, []).append(command.command_id)
            if not request.get("InstanceIds"):
                command.cancelled = True
            self._advance(command)
            self._changed.notify_all()
        return {}

    # --- agent API -----------------------------------------------------------------------------

    def poll(self, instance_id: str, wait: float, session: str | None = None) -> dict:
        """Hand the agent its released commands and cancellations, waiting up to `wait` seconds.

        An agent polling with a new `session` was restarted. As in SSM, what the old process was running
        stays InProgress: the new one takes it up from its state folder and reports it (the agent's
        processInProgressDocuments), and the report of any agent process for the instance is accepted.
        One it never takes up ends as a silent agent's does, at the command's timeouts (_advance).
        """
        deadline = self._clock() + wait
        with self._instances.connected(instance_id), self._changed:
            self._instances.session(instance_id, session)
            while True:
                ready = [
                    (command, invocation)
                    for command in self._commands.values()
                    for invocation in command.invocations
                    if invocation.instance_id == instance_id
                    and invocation.released is not None
                    and invocation.delivered is None
                    and invocation.status == "Pending"
                ]
                cancels = self._cancels.pop(instance_id, [])
                remaining = deadline - self._clock()
                if ready or cancels or remaining <= 0:
                    break
                self._changed.wait(remaining)
            now = self._clock()
            for _command, invocation in ready:
                invocation.delivered = now
                invocation.session = session
                invocation.status = invocation.details = "InProgress"
        return {"commands": [_agent_command(command) for command, _ in ready], "cancel": cancels}

    def report(self, body: dict) -> dict:
        """An agent's progress report: InProgress when a command starts, the outcome when it ends."""
        with self._changed:
            command = self._command(body["command_id"])
            invocation = command.invocation(body["instance_id"])
            if invocation.status in TERMINAL:
                # The endpoint already decided (timeout, cancel before delivery): the late word loses.
                return {}
            invocation.start = parse_iso(body.get("start")) or invocation.start
            invocation.plugins = [
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
            ]
            status = body["status"]
            invocation.response_code = int(body.get("response_code", -1))
            if status in TERMINAL:
                details = "ExecutionTimedOut" if status == "TimedOut" else status
                invocation.finish(status, details, parse_iso(body.get("end")) or self._clock())
            elif invocation.status != "Cancelling":
                invocation.status = invocation.details = status
            self._advance(command)
            self._changed.notify_all()
        return {}

    def tick(self) -> None:
        """Apply timeouts and rate control to every unfinished command (called periodically)."""
        with self._changed:
            changed = False
            for command in self._commands.values():
                if _status(command)[0] not in TERMINAL:
                    before = _snapshot(command)
                    self._advance(command)
                    changed = changed or _snapshot(command) != before
            if changed:
                self._changed.notify_all()

    # --- internals -----------------------------------------------------------------------------

    def _command(self, command_id: str) -> Command:
        command = self._commands.get(command_id)
        if command is None:
            raise ApiError("InvalidCommandId", f"Command {command_id} does not exist.")
        return command

    def _select(self, request: dict) -> list[Command]:
        if command_id := request.get("CommandId"):
            return [self._command(command_id)]
        return sorted(self._commands.values(), key=lambda command: command.requested, reverse=True)

    def _advance(self, command: Command) -> None:
        """Time out what waited too long, then release invocations up to MaxConcurrency/MaxErrors.

        A delivered invocation whose agent went silent stays InProgress, as in AWS, until the agent is
        back and reports it (see poll) or the command's total timeout (delivery timeout + execution
        timeout) passes.
        """
        now = self._clock()
        for invocation in command.invocations:
            if invocation.status == "Pending" and invocation.released is not None:
                if now - invocation.released >= command.delivery_timeout:
                    invocation.finish("TimedOut", "DeliveryTimedOut", now)
            elif invocation.status in ("InProgress", "Cancelling"):
                # Only a delivered invocation runs or is being cancelled (CancelCommand ends the others).
                assert invocation.released is not None and invocation.delivered is not None
                if self._instances.online(invocation.instance_id):
                    # The agent enforces the execution timeout and reports it; this is its grace.
                    limit = invocation.delivered + command.execution_timeout + EXECUTION_TIMEOUT_GRACE
                else:
                    limit = invocation.released + command.delivery_timeout + command.execution_timeout
                if now > limit:
                    invocation.finish("TimedOut", "ExecutionTimedOut", now)
                    self._cancels.setdefault(invocation.instance_id, []).append(command.command_id)
        unreleased = [i for i in command.invocations if i.released is None and i.status == "Pending"]
        if command.cancelled or sum(i.is_error for i in command.invocations) > command.max_errors:
            # Past the error threshold SSM stops sending the command to further targets.
            for invocation in unreleased:
                invocation.finish("Cancelled", "Cancelled", now)
            return
        active = sum(1 for i in command.invocations if i.released is not None and i.status not in TERMINAL)
        for invocation in unreleased[: max(0, command.concurrency - active)]:
            invocation.released = now

    def _command_shape(self, command: Command) -> dict:
        request = command.request
        status, details = _status(command)
        invocations = command.invocations
        return compact(
            {
                "CommandId": command.command_id,
                "DocumentName": command.document.name,
                "DocumentVersion": command.document.version,
                "Comment": request.get("Comment", ""),
                "ExpiresAfter": epoch(
                    command.requested + command.delivery_timeout + command.execution_timeout
                ),
                "Parameters": request.get("Parameters") or {},
                "InstanceIds": request.get("InstanceIds") or [],
                "Targets": request.get("Targets") or [],
                "RequestedDateTime": epoch(command.requested),
                "Status": status,
                "StatusDetails": details,
                "MaxConcurrency": request.get("MaxConcurrency", "50"),
                "MaxErrors": request.get("MaxErrors", "0"),
                "TargetCount": len(invocations),
                "CompletedCount": sum(1 for i in invocations if i.status in TERMINAL),
                "ErrorCount": sum(1 for i in invocations if i.is_error),
                "DeliveryTimedOutCount": sum(1 for i in invocations if i.details == "DeliveryTimedOut"),
                "TimeoutSeconds": command.delivery_timeout,
                "ServiceRole": request.get("ServiceRoleArn"),
                "CloudWatchOutputConfig": _cloudwatch_output(command),
            }
        )

    def _invocation_shape(self, command: Command, invocation: InvocationRecord, details: bool) -> dict:
        shape = {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "InstanceName": invocation.instance_id,
            "Comment": command.request.get("Comment", ""),
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


def _snapshot(command: Command) -> list[tuple]:
    return [(i.status, i.released) for i in command.invocations]


def _status(command: Command) -> tuple[str, str]:
    """The command's Status and StatusDetails, aggregated from its invocations as SSM does."""
    invocations = command.invocations
    if command.cancelled:
        done = all(i.status in TERMINAL for i in invocations)
        return ("Cancelled", "Cancelled") if done else ("Cancelling", "Cancelling")
    if invocations and all(i.status == "Pending" for i in invocations):
        return "Pending", "Pending"
    if any(i.status not in TERMINAL for i in invocations):
        return "InProgress", "InProgress"
    if sum(i.is_error for i in invocations) > command.max_errors:
        if any(i.status == "Failed" for i in invocations):
            return "Failed", "Failed"
        return "TimedOut", "ExecutionTimedOut"
    if all(i.status == "Success" for i in invocations):
        return "Success", "Success"
    if all(i.details == "DeliveryTimedOut" for i in invocations):
        return "TimedOut", "DeliveryTimedOut"
    return "Failed", "Incomplete"


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
            "Comment": command.request.get("Comment", ""),
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
        "parameters": command.request.get("Parameters") or {},
        "timeout_seconds": command.execution_timeout,
        "cloudwatch_output": _cloudwatch_output(command),
    }


def _cloudwatch_output(command: Command) -> dict:
    """SendCommand's CloudWatchOutputConfig as the API returns it (disabled and empty when not given)."""
    config = command.request.get("CloudWatchOutputConfig") or {}
    return {
        "CloudWatchLogGroupName": config.get("CloudWatchLogGroupName", ""),
        "CloudWatchOutputEnabled": bool(config.get("CloudWatchOutputEnabled", False)),
    }


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


def _execution_timeout(content: dict, resolved: dict) -> int:
    """The document's `executionTimeout` parameter when it declares one, else SSM's 3600 s."""
    if "executionTimeout" not in (content.get("parameters") or {}):
        return DEFAULT_EXECUTION_TIMEOUT
    value = resolved.get("executionTimeout", "")
    value = value[0] if isinstance(value, list) else value
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_EXECUTION_TIMEOUT


def _string_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _elapsed(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    return f"PT{end - start:.3f}S"
