"""Following an Automation execution to its end: polling with backoff, stopping it, finding the failure."""

from __future__ import annotations

import contextlib
import json
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

from releaseflow.execution import (
    UNFINISHED,
    HostFailure,
    Invocation,
    Outcome,
    Snapshot,
    Step,
    changes,
    parse_execution,
    parse_invocation,
    parse_step,
)
from releaseflow.result import Result
from releaseflow.ssm import UNSUCCESSFUL as _FAILED

# The end must be noticed within 2 s: GetAutomationExecution is asked this often, start to start.
MAX_DELAY = 1.9
# SSM's rate limits are per account, shared with other deploys and the console: the trigger makes at most
# CALLS_PER_MINUTE calls in any 60 s, start, lock, claim, rollback and final report included. The status
# polls are spaced POLL_SPACING apart (at most 32 in 60 s); every other call comes from what is left.
CALLS_PER_MINUTE = 60
WINDOW = 60.0
POLL_SPACING = MAX_DELAY
# 60 / 1.9 = 31.6: a 60 s window holds at most 32 polls.
POLLS_PER_MINUTE = 32
OTHER_CALLS_PER_MINUTE = CALLS_PER_MINUTE - POLLS_PER_MINUTE
# While following, steps and hosts leave this many of those calls for the end: the final fetch, the
# failure's host (its command, its output and the two GetLogEvents of its log streams) and the
# rollback's commands then fit at once, so the end is reported within 2 s.
END_RESERVE = 10
# While hosts run a command and nothing else changes, their status is refreshed after this long at
# first, then half as often each time up to HOST_REFRESH_MAX: a long migration costs little to watch.
HOST_REFRESH = 5.0
HOST_REFRESH_MAX = 30.0
SETTLE_SECONDS = 15.0
# How long the poll rides out an unreachable endpoint (beyond botocore's own retries) before giving up:
# the execution runs on in AWS whether or not this command can see it.
UNREACHABLE_SECONDS = 120.0
TAIL_LINES = 20
# GetCommandInvocation's StandardOutputContent and StandardErrorContent keep only this much of a
# plugin's output (API reference: "The first 24,000 characters", "The first 8,000 characters").
INVOCATION_STDOUT_CHARS = 24000
INVOCATION_STDERR_CHARS = 8000
# Events read from the end of a log stream: the agent packs whole lines into events of up to 200 KB,
# so the last few hold the last TAIL_LINES lines.
TAIL_EVENTS = 25


Listener = Callable[[Snapshot, list[Step | Invocation]], None]


class _Counted:
    """Counts the calls made through it, so a fetch's cost is charged to the minute's budget."""

    def __init__(self, ssm):
        self.ssm = ssm
        self.calls = 0
        self.pages = 1  # DescribeAutomationStepExecutions pages the last fetch took
        self.skipped = False  # the last fetch left commands unlisted for lack of budget

    def __getattr__(self, name):
        method = getattr(self.ssm, name)

        def counted(**kwargs):
            self.calls += 1
            return method(**kwargs)

        return counted


class CallBudget:
    """The trigger's calls in the last WINDOW seconds, never more than CALLS_PER_MINUTE: status polls kept
    POLL_SPACING apart, every other call waiting (`sleep`) for room among OTHER_CALLS_PER_MINUTE, which
    keeps the polls' share free for them. The reads of an end (`ending()`) take whatever the window has
    left instead, and do not count against the other calls' share: no poll of that execution follows
    them, and a short deploy, its cancel and its rollback, all within one minute, would otherwise wait up
    to a minute to report an end seen within 2 s."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep
    ):
        self.clock = clock
        self.sleep = sleep
        self.last_poll = float("-inf")
        self.polls: deque[float] = deque()
        self.others: deque[float] = deque()
        self.ends: deque[float] = deque()
        self.at_end = False

    def _free(self) -> int:
        """Calls of any kind the window has room for now (those that left it are forgotten first)."""
        now = self.clock()
        for calls in (self.polls, self.others, self.ends):
            while calls and calls[0] <= now - WINDOW:
                calls.popleft()
        return CALLS_PER_MINUTE - len(self.polls) - len(self.others) - len(self.ends)

    def room(self) -> int:
        """Calls other than polls that can be made now."""
        free = self._free()
        return free if self.at_end else min(OTHER_CALLS_PER_MINUTE - len(self.others), free)

    def take(self, poll: bool = False) -> None:
        """Account for one call about to be made, first waiting until it fits."""
        if poll:
            wait = self.last_poll + POLL_SPACING - self.clock()
            if wait > 0:
                self.sleep(wait)
            # Only after an end's reads took the polls' share can the window be full for a poll.
            while self._free() < 1:
                self._wait_for_oldest()
            self.last_poll = self.clock()
            self.polls.append(self.last_poll)
        else:
            while self.room() < 1:
                self._wait_for_oldest()
            (self.ends if self.at_end else self.others).append(self.clock())

    @contextlib.contextmanager
    def ending(self) -> Iterator[None]:
        """The calls made inside read an execution that has ended."""
        before, self.at_end = self.at_end, True
        try:
            yield
        finally:
            self.at_end = before

    def _wait_for_oldest(self) -> None:
        oldest = min(calls[0] for calls in (self.polls, self.others, self.ends) if calls)
        self.sleep(max(oldest + WINDOW - self.clock(), 0.01))


class Metered:
    """An SSM client whose every call is taken from a CallBudget; `poll()` marks the next as a status poll."""

    def __init__(self, ssm, budget: CallBudget):
        self.ssm: Any = ssm.ssm if isinstance(ssm, Metered) else ssm
        self.budget = budget
        self.meta = getattr(self.ssm, "meta", None)
        self._poll = False

    def poll(self) -> Metered:
        self._poll = True
        return self

    def get_paginator(self, name: str):
        inner = self.ssm.get_paginator(name)
        budget = self.budget

        class Paginator:
            def paginate(self, **kwargs):
                pages = iter(inner.paginate(**kwargs))
                while True:
                    # Taken before each page, the one that finds no more included: counting high is safe.
                    budget.take()
                    try:
                        yield next(pages)
                    except StopIteration:
                        return

        return Paginator()

    def __getattr__(self, name):
        method = getattr(self.ssm, name)

        def metered(**kwargs):
            poll, self._poll = self._poll, False
            self.budget.take(poll)
            return method(**kwargs)

        return metered


def busiest_minute(times: list[float]) -> int:
    """The most calls made in any WINDOW seconds, from the times (seconds) they were made at."""
    ordered = sorted(times)
    return max((bisect_left(ordered, start + WINDOW) - n for n, start in enumerate(ordered)), default=0)


def metered(ssm, budget: CallBudget | None, clock, sleep) -> Metered:
    """`ssm` within `budget` (a new one on `clock` and `sleep` when None)."""
    if isinstance(ssm, Metered) and budget in (None, ssm.budget):
        return ssm
    return Metered(ssm, budget or CallBudget(clock, sleep))


def fetch(
    ssm,
    execution_id: str,
    previous: Snapshot | None = None,
    execution: dict | None = None,
    max_calls: int | None = None,
    rollbacks: Mapping[str, Snapshot] | None = None,
) -> Snapshot:
    """The execution with its steps and host invocations; finished commands are not asked again.

    `execution` is a GetAutomationExecution answer the caller already has. With `max_calls`, commands
    beyond it keep what `previous` knew of them (the caller fetches again later to catch up).
    `rollbacks` are the finished snapshots of rollbacks the caller followed: their hosts are not asked again.
    """
    counted = ssm if isinstance(ssm, _Counted) else _Counted(ssm)
    counted.skipped = False
    pages = 0
    snapshot = parse_execution(
        execution
        or counted.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    )
    steps = []
    token = None
    while True:
        page = counted.describe_automation_step_executions(
            AutomationExecutionId=execution_id, **({"NextToken": token} if token else {})
        )
        pages += 1
        steps += [parse_step(step) for step in page.get("StepExecutions", [])]
        token = page.get("NextToken")
        if not token:
            break
    known: dict[str, list[Invocation]] = {}
    finished_steps = {s.command_id for s in previous.steps if s.command_id and s.end} if previous else set()
    for invocation in previous.invocations if previous else ():
        known.setdefault(invocation.command_id, []).append(invocation)
    invocations: list[Invocation] = []
    for step in steps:
        if not step.command_id:
            continue
        if step.command_id in finished_steps and step.command_id in known:
            invocations += known[step.command_id]
            continue
        if max_calls is not None and counted.calls >= max_calls:
            counted.skipped = True
            invocations += known.get(step.command_id, [])
            continue
        answer = counted.list_command_invocations(CommandId=step.command_id, Details=True)
        invocations += [parse_invocation(entry) for entry in answer.get("CommandInvocations", [])]
    counted.pages = pages
    snapshot = replace(snapshot, steps=tuple(steps), invocations=tuple(invocations))
    if snapshot.finished:
        later: list[Invocation] = []
        # A failed aws:runCommand step may have no CommandId (failed_run_command_outputs): read its hosts.
        for step in steps:
            if step.action == "aws:runCommand" and not step.command_id and step.status in _FAILED:
                later += _sent_hosts_invocations(counted, step)
        # The fleet rollback the deploy started is an execution of its own: its host commands (read
        # once, at the end) belong in the deploy's host summary, after the deploy's own.
        for rollback_id in snapshot.rollback_ids:
            followed = (rollbacks or {}).get(rollback_id)
            if followed is not None and followed.finished:
                later += followed.invocations
            else:
                later += _invocations_of(counted, rollback_id)
        # Each invocation once, where it first came: a host's outcome is read from its runs in order, so a
        # deploy command listed again after the rollback's would undo the rollback in the report.
        seen = {(i.command_id, i.instance_id) for i in invocations}
        for invocation in later:
            if (invocation.command_id, invocation.instance_id) not in seen:
                seen.add((invocation.command_id, invocation.instance_id))
                invocations.append(invocation)
        snapshot = replace(snapshot, invocations=tuple(invocations))
    return snapshot


def _invocations_of(ssm, execution_id: str) -> list[Invocation]:
    """Every host invocation of an execution's runCommand steps."""
    found: list[Invocation] = []
    token = None
    while True:
        page = ssm.describe_automation_step_executions(
            AutomationExecutionId=execution_id, **({"NextToken": token} if token else {})
        )
        for step in (parse_step(step) for step in page.get("StepExecutions", [])):
            if step.command_id:
                answer = ssm.list_command_invocations(CommandId=step.command_id, Details=True)
                found += [parse_invocation(entry) for entry in answer.get("CommandInvocations", [])]
        token = page.get("NextToken")
        if not token:
            return found


def follow(
    ssm,
    execution_id: str,
    *,
    listener: Listener,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    timeout: float | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    leave_running: bool = False,
    budget: CallBudget | None = None,
    logs=None,
) -> Outcome:
    """Poll until the execution ends, telling `listener` what changed; stop it on timeout or request.

    `logs` (a CloudWatch Logs client) reads a failing host's true last lines from the log streams its
    command's CloudWatchOutputConfig sent them to, within the same budget.

    With leave_running, a timeout or request only stops watching: the execution (a rollback, say) runs
    on, and the outcome is UNFINISHED with what was last seen.

    Each poll asks GetAutomationExecution, every MAX_DELAY seconds, so the end is seen within 2 s.
    Steps and hosts are fetched again when it shows progress, or now and then while a command runs,
    and only as far as `budget` (the caller's, shared with its other calls; else a new one) leaves room
    beyond END_RESERVE: what finds no room is fetched at a later poll, and the final fetch catches up on
    everything.
    """
    counted = _Counted(metered(ssm, budget, clock, sleep))
    budget = counted.ssm.budget
    logs = None if logs is None else Metered(logs, budget)
    started = clock()
    snapshot: Snapshot | None = None
    marker = None
    refresh = HOST_REFRESH
    last_details = float("-inf")
    behind = False
    unreachable_since: float | None = None
    while True:
        timed_out = timeout is not None and clock() - started >= timeout
        if leave_running and (timed_out or stop_requested()):
            return Outcome(UNFINISHED, snapshot or fetch(counted, execution_id))
        if stop_requested():
            return _stopped(counted, execution_id, snapshot, Result.CANCELLED, clock, sleep, listener, logs)
        if timed_out:
            return _stopped(counted, execution_id, snapshot, Result.TIMED_OUT, clock, sleep, listener, logs)
        try:
            execution = counted.ssm.poll().get_automation_execution(AutomationExecutionId=execution_id)[
                "AutomationExecution"
            ]
        except AwsConnectionError:
            failed = clock()
            unreachable_since = failed if unreachable_since is None else unreachable_since
            if failed - unreachable_since >= UNREACHABLE_SECONDS:
                raise
            sleep(MAX_DELAY)
            continue
        # When the poll was made (it may first have waited for its spacing): the next is MAX_DELAY later.
        polled = budget.last_poll
        unreachable_since = None
        new_marker = _marker(execution)
        running = [s for s in snapshot.steps if s.command_id and not s.end] if snapshot else []
        finished = parse_execution(execution).finished
        due = new_marker != marker or behind or (running and clock() - last_details >= refresh)
        room = budget.room() - END_RESERVE
        # Worth it only when the describe pages leave room for at least one ListCommandInvocations.
        if snapshot is None or finished or (due and room > counted.pages):
            counted.calls = 0
            # The first and the last fetch are complete (the report needs every host): they wait for room
            # when there is none, which the reserve makes rare at the end.
            cap = None if snapshot is None or finished else room
            with budget.ending() if finished else contextlib.nullcontext():
                fresh = fetch(counted, execution_id, snapshot, execution, max_calls=cap)
            behind = counted.skipped
            last_details = clock()
            refresh = HOST_REFRESH if new_marker != marker else min(HOST_REFRESH_MAX, refresh * 2)
            listener(fresh, changes(snapshot, fresh))
            snapshot, marker = fresh, new_marker
        if snapshot.finished:
            with budget.ending():
                return _outcome(counted, snapshot, logs)
        sleep(max(0.0, MAX_DELAY - (clock() - polled)))


def stop(
    ssm,
    execution_id: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    settle: float = SETTLE_SECONDS,
    budget: CallBudget | None = None,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Cancel the execution and wait up to `settle` seconds for it to reach a final status.

    `previous` is what the caller last saw: its finished commands are not asked again."""
    ssm = metered(ssm.ssm if isinstance(ssm, _Counted) else ssm, budget, clock, sleep)
    try:
        ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    except ClientError as error:
        # It ended between the last poll and the stop: its own final status stands.
        if error.response["Error"]["Code"] != "InvalidAutomationStatusUpdateException":
            raise
    deadline = clock() + settle
    # Only the execution's status until it settles (one call a poll), then steps and hosts once.
    while True:
        execution = ssm.poll().get_automation_execution(AutomationExecutionId=execution_id)[
            "AutomationExecution"
        ]
        finished = parse_execution(execution).finished
        if finished or clock() >= deadline:
            with ssm.budget.ending() if finished else contextlib.nullcontext():
                return fetch(ssm, execution_id, previous, execution=execution)
        sleep(MAX_DELAY)


def _stopped(ssm, execution_id, snapshot, result, clock, sleep, listener, logs=None) -> Outcome:
    final = stop(ssm, execution_id, clock=clock, sleep=sleep, previous=snapshot)
    listener(final, changes(snapshot, final))
    budget = (ssm.ssm if isinstance(ssm, _Counted) else ssm).budget
    with budget.ending() if final.finished else contextlib.nullcontext():
        if final.finished and final.status != "Cancelled":
            return _outcome(ssm, final, logs)  # it ended on its own before the stop took effect
        return Outcome(result, final, _failure(ssm, final, logs))


def _outcome(ssm, snapshot: Snapshot, logs=None) -> Outcome:
    if snapshot.succeeded:
        return Outcome(Result.SUCCESS, snapshot)
    if snapshot.triggered_alarms and snapshot.status == "Cancelled":
        # Automation cancelled it for its alarm: the new revision is bad, a failure and not a cancel.
        stopped = [s for s in snapshot.steps if s.status == "Cancelled" and s.action != "aws:loop"]
        step = stopped[0].label if stopped else ""
        return Outcome(Result.FAILED, snapshot, HostFailure(step, snapshot.triggered_alarms[0].reason))
    result = {"TimedOut": Result.TIMED_OUT, "Cancelled": Result.CANCELLED}.get(snapshot.status, Result.FAILED)
    return Outcome(result, snapshot, _failure(ssm, snapshot, logs))


def _failure(ssm, snapshot: Snapshot, logs=None) -> HostFailure | None:
    """The step that broke the deploy, and a failed host of its command with its output's last lines.

    That is the first step to fail: later failures belong to the runbook's failure path (its final
    ReportFailure always fails). A loop step only carries its failing iteration's step, so it is skipped.
    The last lines come from the end of the host's CloudWatch Logs streams when its command sent them
    there (and `logs` can read them), else from GetCommandInvocation, whose text is only the output's head.
    """
    failed_steps = [s for s in snapshot.steps if s.status in _FAILED and s.action != "aws:loop"]
    if not failed_steps:
        return HostFailure("", snapshot.failure) if snapshot.failure else None
    order = {step.key: index for index, step in enumerate(snapshot.steps)}
    step = min(failed_steps, key=lambda s: (s.start is None, s.start or 0, order[s.key]))
    hosts = [i for i in snapshot.invocations if i.status in _FAILED and i.command_id == step.command_id]
    if not hosts and step.action == "aws:runCommand" and not step.command_id:
        hosts = [i for i in _sent_hosts_invocations(ssm, step) if i.status in _FAILED]
    message = step.failure or snapshot.failure
    if not hosts:
        return HostFailure(step.label, message)
    host = hosts[0]
    plugin, several = _failed_plugin(ssm, host)
    answer = ssm.get_command_invocation(
        CommandId=host.command_id,
        InstanceId=host.instance_id,
        **({"PluginName": plugin} if several else {}),
    )
    stdout = answer.get("StandardOutputContent", "")
    stderr = answer.get("StandardErrorContent", "")
    config = answer.get("CloudWatchOutputConfig") or {}
    group = config.get("CloudWatchLogGroupName", "") if config.get("CloudWatchOutputEnabled") else ""
    if not group:
        why = "its command was sent without CloudWatchOutputConfig"
    elif logs is None:
        why = f"CloudWatch Logs ({group}) not read"
    elif not (name := plugin or answer.get("PluginName", "")):
        why = f"its step, which names its log streams in {group}, is not listed"
    else:
        streams = tuple(_stream(host, name, output) for output in ("stdout", "stderr"))
        try:
            logged = [_logged_tail(logs, group, stream) for stream in streams]
        except ClientError as error:
            why = f"GetLogEvents on {group}: {error.response['Error'].get('Code', 'refused')}"
        else:
            if any(text is not None for text in logged):
                out, err = (text or "" for text in logged)
                return HostFailure(
                    step.label, message, host.instance_id, out, err, log_group=group, log_streams=streams
                )
            why = f"no log stream of it in {group}: can the host's role write there (HostLogsPolicy)?"
    cut = len(stdout) >= INVOCATION_STDOUT_CHARS or len(stderr) >= INVOCATION_STDERR_CHARS
    note = (
        f"GetCommandInvocation keeps only the first {INVOCATION_STDOUT_CHARS} characters of stdout and "
        f"{INVOCATION_STDERR_CHARS} of stderr ({why}): "
        + ("the output is cut, these are not its last lines" if cut else "this output is within them, whole")
    )
    return HostFailure(step.label, message, host.instance_id, _tail(stdout), _tail(stderr), output_note=note)


def _stream(host: Invocation, plugin: str, output: str) -> str:
    """The agent's log stream of a plugin's output: `<CommandId>/<InstanceId>/<PluginID>/stdout|stderr`,
    ':' and '*' made '-' (agent: messageutil.go, runpluginutil.go, iohandler.go)."""
    prefix = f"{host.command_id}/{host.instance_id}/{plugin}".replace(":", "-").replace("*", "-")
    return f"{prefix}/{output}"


def _logged_tail(logs, group: str, stream: str) -> str | None:
    """The last TAIL_LINES lines of a log stream, read from its end (one GetLogEvents call); None when
    the stream does not exist (the agent makes one only for output there is)."""
    try:
        answer = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=False, limit=TAIL_EVENTS
        )
    except ClientError as error:
        if error.response["Error"].get("Code") != "ResourceNotFoundException":
            raise
        # A missing group is the old stack's case: say so. A missing stream is output there never was.
        if "group" in str(error.response["Error"].get("Message", "")).lower():
            raise
        return None
    # The agent cuts a file into events at line ends: joined, they are the stream's text.
    return _tail("".join(event.get("message", "") for event in answer.get("events", [])))


def _failed_plugin(ssm, host: Invocation) -> tuple[str, bool]:
    """The failed step (plugin) of the host's command, and whether the document has several: then
    GetCommandInvocation requires its PluginName ("If the document contains more than one step, you
    must specify the name of the step"). ListCommandInvocations with Details names the plugins in order."""
    listed = ssm.list_command_invocations(
        CommandId=host.command_id, InstanceId=host.instance_id, Details=True
    )
    plugins = [p for i in listed.get("CommandInvocations", []) for p in i.get("CommandPlugins") or []]
    if not plugins:
        return "", False
    failed = [plugin for plugin in plugins if plugin.get("Status") in _FAILED]
    return (failed[0] if failed else plugins[-1])["Name"], len(plugins) > 1


def _sent_hosts_invocations(ssm, step) -> list[Invocation]:
    """The invocations, while it ran, on the hosts an aws:runCommand step without a CommandId was sent to.

    Whether a failed aws:runCommand step keeps its outputs (CommandId) is an open reading
    (docs/aws-semantics.md, failed_run_command_outputs): without it, its hosts' invocations tell.
    """
    try:
        sent = json.loads(step.inputs.get("InstanceIds") or "[]")
    except ValueError:
        return []
    if not step.start or not isinstance(sent, list):
        return []
    window = [{"key": "InvokedAfter", "value": step.start.isoformat()}]
    if step.end:
        window.append({"key": "InvokedBefore", "value": step.end.isoformat()})
    document = _text_input(step.inputs.get("DocumentName"))
    found = []
    for host in sent:
        answer = ssm.list_command_invocations(InstanceId=str(host), Filters=window, Details=True)
        # The step sent its host one command, of its document: the host's first in the window. The
        # listing is newest first and may hold later commands (the fleet rollback's), which must not
        # come before it: a host's outcome is read from its runs in order.
        rows = [
            row
            for row in answer.get("CommandInvocations", [])
            if (row.get("DocumentName") == document or not document) and _within(row, step)
        ]
        rows.sort(key=lambda row: row.get("RequestedDateTime") or datetime.max.replace(tzinfo=UTC))
        found += [parse_invocation(row) for row in rows[:1]]
    # In the order the step sent them, as ListCommandInvocations lists a command's hosts.
    return found


def _within(row: dict, step) -> bool:
    """Requested while the step ran (the window the listing was asked for, checked here again)."""
    requested = row.get("RequestedDateTime")
    if not isinstance(requested, datetime):
        return True
    return step.start <= requested and (step.end is None or requested <= step.end)


def _text_input(value: str | None) -> str:
    """A step input as DescribeAutomationStepExecutions lists it (JSON-encoded), as plain text."""
    try:
        decoded = json.loads(value or '""')
    except ValueError:
        return value or ""
    return decoded if isinstance(decoded, str) else ""


def _marker(execution: dict) -> tuple:
    """What GetAutomationExecution shows of progress; when it changes, steps are fetched again."""
    steps = tuple((s.get("StepName"), s.get("StepStatus")) for s in execution.get("StepExecutions", []))
    return execution.get("AutomationExecutionStatus"), execution.get("CurrentStepName"), steps


def _tail(text: str) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-TAIL_LINES:])


def follow_rollback(
    ssm,
    cancelled: Outcome,
    *,
    listener: Listener,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    timeout: float | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    budget: CallBudget | None = None,
    logs=None,
) -> tuple[Outcome, Outcome | None]:
    """After a cancel, follow the releaseflow-RollbackFleet execution its onCancel step started.

    The deploy ends Cancelled within seconds; its RollBackOnCancel step only starts the rollback, which
    then puts the switched hosts back on their own time. Wait for the deploy to end if the stop's
    settle wait did not see it, follow the rollback to its end (never stopping it: a timeout or a stop
    request only stops watching), then read the deploy again so its hosts include what the rollback
    did. Returns the deploy's outcome with that final snapshot, and the rollback's (None when the
    cancel started none: a cancel while preparing or migrating just stops).
    """
    ssm = metered(ssm, budget, clock, sleep)
    started = clock()

    def watch(execution_id: str) -> Outcome:
        # Both executions share the one timeout; watching never stops either of them.
        left = None if timeout is None else max(0.0, timeout - (clock() - started))
        return follow(
            ssm,
            execution_id,
            listener=listener,
            clock=clock,
            sleep=sleep,
            timeout=left,
            stop_requested=stop_requested,
            leave_running=True,
            budget=ssm.budget,
            logs=logs,
        )

    deploy_id = cancelled.snapshot.execution_id
    snapshot = cancelled.snapshot
    if not snapshot.finished:
        snapshot = watch(deploy_id).snapshot
    if not snapshot.rollback_ids:
        return replace(cancelled, snapshot=snapshot), None
    rollback = watch(snapshot.rollback_ids[-1])
    # A finished deploy's snapshot lists its rollback's host commands after its own (fetch); its own
    # finished commands are not asked again.
    with ssm.budget.ending():
        final = fetch(ssm, deploy_id, snapshot, rollbacks={rollback.snapshot.execution_id: rollback.snapshot})
    return replace(cancelled, snapshot=final), rollback
