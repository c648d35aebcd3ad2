"""What an action sees while it runs: the AWS caller, the clock, interpolation, cancel and timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from releaseflow.rehearsal.engine.errors import StepCancelled, StepTimedOut
from releaseflow.rehearsal.engine.limits import AWS_LIMITS, Limits

# Short, because the rehearsal measures engine overhead and the local endpoint answers in milliseconds:
# at 0.25 s, noticing each command's end cost a deploy of 3 hosts 2 s (docs/benchmarks.md).
POLL_INTERVAL = 0.05
# A step polling the endpoint's state (poll_until) asks again after FIRST_POLL, then after twice as long
# each time: up to POLL_INTERVAL, or where the endpoint signals its changes (ActionContext.changes), up to
# CHANGE_POLL_INTERVAL, since a change ends the pause at once. At a fixed 50 ms the engine asked
# ListCommands 934 times in test_acceptance's module; an AwaitRollback asked GetAutomationExecution 20
# times a second for a whole rollback.
FIRST_POLL = 0.02
CHANGE_POLL_INTERVAL = 1.0

AwsCaller = Callable[[str, str, dict], dict]
T = TypeVar("T")


class ChangeSignal(Protocol):
    """What the endpoint offers a step that polls its state: a mark of that state, and a wait for it to
    move (releaseflow.rehearsal.endpoint.changes), so that polls can be spaced without noticing an end
    late."""

    def seen(self) -> int: ...

    def wait_past(self, seen: int, timeout: float) -> bool: ...


@dataclass(frozen=True)
class NestedOutcome:
    """How a loop's nested steps ended: None when they all succeeded, else the failed step's record."""

    failed: dict | None = None
    on_failure: str = "Abort"
    is_critical: bool = True


@dataclass(frozen=True)
class ActionResult:
    """What an action returns: the response selectors read, its built-in outputs, and a branch's choice."""

    response: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None
    response_code: str | None = None


@dataclass(frozen=True)
class ActionContext:
    """The engine's services for one step; `wait` is the only way an action should pass time."""

    step: dict
    execution_id: str
    aws: AwsCaller
    script_env: dict[str, str]
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    cancel_event: threading.Event
    deadline: float | None
    interpolate: Callable[[Any], Any]
    context_variables: dict[str, str]
    set_outputs: Callable[[dict[str, Any]], None]
    run_nested: Callable[[list, int, Any], NestedOutcome]
    limits: Limits = AWS_LIMITS
    # The open readings in force (releaseflow.readings), by name.
    readings: Mapping[str, str] = field(default_factory=dict)
    # When a cancellation workflow runs: the moment AWS stops it (the step then ends Cancelled).
    stop_at: float | None = None
    # The runbook's name, for messages and the ledger of open readings met.
    document_name: str = ""
    # The endpoint's changes (its commands' and executions'), where the engine runs inside it; None
    # elsewhere, and `wait` then only sleeps.
    changes: ChangeSignal | None = None

    @property
    def name(self) -> str:
        return self.step.get("name", "")

    @property
    def where(self) -> str:
        """This step, as the ledger of open readings met names a place."""
        return f"{self.document_name} step {self.name}"

    def check(self) -> None:
        """Raise StepCancelled or StepTimedOut when the step must stop now."""
        if self.cancel_event.is_set():
            raise StepCancelled()
        if self.stop_at is not None and self.clock() >= self.stop_at:
            raise StepCancelled()
        if self.deadline is not None and self.clock() >= self.deadline:
            raise StepTimedOut()

    def remaining(self) -> float | None:
        """Seconds left before the step's timeout, or None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    def poll_until(self, answer: Callable[[], T | None]) -> T:
        """Call `answer` until it returns something other than None, pausing between calls (FIRST_POLL,
        doubling up to POLL_INTERVAL, or CHANGE_POLL_INTERVAL where a change of the endpoint's state
        ends the pause); a cancel or timeout stops it as `wait` does. State the endpoint does not count
        (an ELB target's health, an EC2 instance's state) is then seen up to CHANGE_POLL_INTERVAL late."""
        pause = FIRST_POLL
        longest = POLL_INTERVAL if self.changes is None else CHANGE_POLL_INTERVAL
        while True:
            # The mark is taken before the call: a change between its answer and the pause ends the pause.
            seen = self.changes.seen() if self.changes is not None else None
            found = answer()
            if found is not None:
                return found
            self.wait(pause, changes_seen=seen)
            pause = min(longest, pause * 2)

    def wait(self, seconds: float, changes_seen: int | None = None) -> None:
        """Pass `seconds` in short slices, stopping early on cancel or timeout, and with `changes_seen`
        (a mark of `changes`) as soon as the endpoint's state changed since it was taken."""
        end = self.clock() + seconds
        while True:
            self.check()
            now = self.clock()
            if now >= end:
                return
            slice_ = min(POLL_INTERVAL, end - now)
            for limit in (self.deadline, self.stop_at):
                if limit is not None:
                    slice_ = min(slice_, max(limit - now, 0.0))
            if changes_seen is not None and self.changes is not None:
                if self.changes.wait_past(changes_seen, slice_):
                    return
            else:
                self.sleep(slice_)
