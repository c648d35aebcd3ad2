"""Run Command's state for the rehearsal: commands and their invocations, rate control, timeouts and the
agents' queue. What the API takes and shows of them is commands_responses.py's."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.changes import Changes
from releaseflow.rehearsal.endpoint.instances_service import InstancesService
from releaseflow.rehearsal.endpoint.moto_state import StoredDocument
from releaseflow.ssm import COMMAND_TERMINAL as TERMINAL

DEFAULT_EXECUTION_TIMEOUT = 3600
# The agent enforces the execution timeout itself and reports TimedOut; the endpoint only steps in
# when that report does not come, so it waits a little longer than the agent would.
EXECUTION_TIMEOUT_GRACE = 5


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


@dataclass(frozen=True)
class CloudWatchOutput:
    """Where the agent sends a command's output: SendCommand's CloudWatchOutputConfig, off when not given."""

    log_group: str = ""
    enabled: bool = False


@dataclass(frozen=True)
class CommandOptions:
    """What SendCommand was given, as given: the agent runs with it and the API shows it back."""

    comment: str
    parameters: dict[str, list[str]]
    instance_ids: list[str]
    targets: list[dict]
    max_concurrency: str
    max_errors: str
    service_role: str | None
    cloudwatch: CloudWatchOutput


@dataclass
class Command:
    """One SendCommand and its invocations, in target order."""

    command_id: str
    document: StoredDocument
    options: CommandOptions
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

    def status(self) -> tuple[str, str]:
        """The command's Status and StatusDetails, aggregated from its invocations as SSM does."""
        invocations = self.invocations
        if self.cancelled:
            done = all(i.status in TERMINAL for i in invocations)
            return ("Cancelled", "Cancelled") if done else ("Cancelling", "Cancelling")
        if invocations and all(i.status == "Pending" for i in invocations):
            return "Pending", "Pending"
        if any(i.status not in TERMINAL for i in invocations):
            return "InProgress", "InProgress"
        if sum(i.is_error for i in invocations) > self.max_errors:
            if any(i.status == "Failed" for i in invocations):
                return "Failed", "Failed"
            return "TimedOut", "ExecutionTimedOut"
        if all(i.status == "Success" for i in invocations):
            return "Success", "Success"
        if all(i.details == "DeliveryTimedOut" for i in invocations):
            return "TimedOut", "DeliveryTimedOut"
        return "Failed", "Incomplete"


class CommandsBackend:
    """Commands and invocations; agents long-poll for their work and report results back."""

    def __init__(
        self,
        documents: Callable[[str, str | None], StoredDocument],
        instances: InstancesService,
        clock: Callable[[], float] = time.time,
        changes: Changes | None = None,
    ):
        self._documents = documents
        self._instances = instances
        self._clock = clock
        # Held by whoever reads or changes the commands (a response takes it to read them at one
        # moment); agents' polls wait on it for new work.
        self.lock = threading.Condition()
        # The endpoint's change count, which its engine's aws:runCommand steps wait on between polls.
        self._changes = changes or Changes()
        self._commands: dict[str, Command] = {}
        self._cancels: dict[str, list[str]] = {}

    def command_document(self, name: str, version: str | None, document_hash: str | None) -> StoredDocument:
        """The Command document a SendCommand runs; a pinned hash must be that of the version."""
        document = self._documents(name, version)
        if document.document_type != "Command":
            raise ApiError("InvalidDocument", f"{document.name} is not a Command document.")
        if document_hash and document_hash != document.hash:
            # The strict reading: a pinned hash that is not the version about to run is refused.
            raise ApiError(
                "InvalidDocument",
                f"Document {document.name} version {document.version} does not match DocumentHash "
                f"{document_hash}.",
            )
        return document

    def resolve_targets(self, instance_ids: list[str] | None, targets: list[dict] | None) -> list[str]:
        return self._instances.resolve_targets(instance_ids, targets)

    def send(
        self,
        document: StoredDocument,
        resolved: dict,
        options: CommandOptions,
        instance_ids: list[str],
        delivery_timeout: int,
        concurrency: int,
        max_errors: int,
    ) -> Command:
        """Queue one invocation per instance; rate control releases the first ones now."""
        command = Command(
            command_id=str(uuid.uuid4()),
            document=document,
            options=options,
            requested=self._clock(),
            delivery_timeout=delivery_timeout,
            execution_timeout=_execution_timeout(document.content, resolved),
            concurrency=concurrency,
            max_errors=max_errors,
            invocations=[InvocationRecord(instance_id) for instance_id in instance_ids],
        )
        with self.lock:
            self._commands[command.command_id] = command
            self._advance(command)
            self._announce()
        return command

    def _announce(self) -> None:
        """Wake whoever waits for a change (agents for work, the engine for a status); under the lock."""
        self.lock.notify_all()
        self._changes.announce()

    def command(self, command_id: str) -> Command:
        command = self._commands.get(command_id)
        if command is None:
            raise ApiError("InvalidCommandId", f"Command {command_id} does not exist.")
        return command

    def commands(self, command_id: str | None) -> list[Command]:
        """The one command named, else all of them, newest first."""
        if command_id:
            return [self.command(command_id)]
        return sorted(self._commands.values(), key=lambda command: command.requested, reverse=True)

    def cancel(self, command_id: str, instance_ids: list[str] | None) -> None:
        """Undelivered invocations end Cancelled, running ones are Cancelling; without instance ids the
        command itself is cancelled (no further target gets it)."""
        with self.lock:
            command = self.command(command_id)
            now = self._clock()
            for instance_id in instance_ids or [i.instance_id for i in command.invocations]:
                invocation = command.invocation(instance_id)
                if invocation.status in TERMINAL:
                    continue
                if invocation.delivered is None:
                    invocation.finish("Cancelled", "Cancelled", now)
                else:
                    invocation.status = invocation.details = "Cancelling"
                    self._cancels.setdefault(instance_id, []).append(command.command_id)
            if not instance_ids:
                command.cancelled = True
            self._advance(command)
            self._announce()

    def poll(
        self, instance_id: str, wait: float, session: str | None = None
    ) -> tuple[list[Command], list[str]]:
        """The agent's released commands and the ids of those to cancel, waiting up to `wait` seconds.

        An agent polling with a new `session` was restarted. As in SSM, what the old process was running
        stays InProgress: the new one takes it up from its state folder and reports it (the agent's
        processInProgressDocuments), and the report of any agent process for the instance is accepted.
        One it never takes up ends as a silent agent's does, at the command's timeouts (_advance).
        """
        deadline = self._clock() + wait
        with self._instances.connected(instance_id), self.lock:
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
                self.lock.wait(remaining)
            now = self._clock()
            for _command, invocation in ready:
                invocation.delivered = now
                invocation.session = session
                invocation.status = invocation.details = "InProgress"
        return [command for command, _ in ready], cancels

    def report(
        self,
        command_id: str,
        instance_id: str,
        status: str,
        response_code: int,
        start: float | None,
        end: float | None,
        plugins: list[PluginResult],
    ) -> None:
        """An agent's progress report: InProgress when a command starts, the outcome when it ends."""
        with self.lock:
            command = self.command(command_id)
            invocation = command.invocation(instance_id)
            if invocation.status in TERMINAL:
                # The endpoint already decided (timeout, cancel before delivery): the late word loses.
                return
            invocation.start = start or invocation.start
            invocation.plugins = plugins
            invocation.response_code = response_code
            if status in TERMINAL:
                details = "ExecutionTimedOut" if status == "TimedOut" else status
                invocation.finish(status, details, end or self._clock())
            elif invocation.status != "Cancelling":
                invocation.status = invocation.details = status
            self._advance(command)
            self._announce()

    def tick(self) -> None:
        """Apply timeouts and rate control to every unfinished command (called periodically)."""
        with self.lock:
            changed = False
            for command in self._commands.values():
                if command.status()[0] not in TERMINAL:
                    before = _snapshot(command)
                    self._advance(command)
                    changed = changed or _snapshot(command) != before
            if changed:
                self._announce()

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


def _snapshot(command: Command) -> list[tuple]:
    return [(i.status, i.released) for i in command.invocations]


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
