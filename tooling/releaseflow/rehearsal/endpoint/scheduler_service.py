"""EventBridge Scheduler for the rehearsal: one-time `at()` schedules fire their universal target on time."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger("releaseflow.endpoint.scheduler")

# "arn:aws:scheduler:::aws-sdk:service:apiAction" (user guide, "Using universal targets").
_UNIVERSAL = re.compile(
    r"^arn:aws[a-z-]*:scheduler:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[a-zA-Z0-9]+)$"
)
# "at(yyyy-mm-ddThh:mm:ss)" (CreateSchedule, ScheduleExpression).
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
# Scheduler refuses targets that only read ("Unsupported actions" in the universal targets guide).
_READ_ONLY = (
    "get",
    "describe",
    "list",
    "poll",
    "receive",
    "search",
    "scan",
    "query",
    "select",
    "read",
    "lookup",
    "discover",
    "validate",
    "batchGet",
    "batchDescribe",
    "batchRead",
    "transactGet",
    "adminGet",
    "adminList",
    "retrieve",
)
# CreateSchedule's defaults when a target has no RetryPolicy (API reference, RetryPolicy).
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE = 86400
# The guide says only "exponential backoff": the rehearsal waits 1 s, then twice as long each time, up
# to a minute, so a test sees a retry within seconds.
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
# Errors worth another attempt: the target was throttled or failed on its side. A refusal of the input
# (validation, access) would fail the same way every time.
_RETRYABLE_CODES = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")


class TargetError(Exception):
    """The target API answered an error: `code`, `message`, and whether AWS-side (HTTP 5xx)."""

    def __init__(self, code: str, message: str, server_side: bool = False):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.server_side = server_side

    @property
    def retryable(self) -> bool:
        return self.server_side or self.code in _RETRYABLE_CODES


@dataclass(frozen=True)
class Schedule:
    """What firing a schedule needs, read from moto's scheduler backend."""

    arn: str
    group: str
    name: str
    expression: str
    timezone: str
    state: str
    target: dict
    action_after_completion: str

    @property
    def key(self) -> str:
        # Not the creation date: a restarted endpoint replays CreateSchedule, which dates it anew. A
        # schedule given another time (or made again with one) fires at that time.
        return f"{self.arn}|{self.expression}|{self.timezone}"


@dataclass
class _Pending:
    """A due schedule whose target has not been reached yet: its attempts so far and the next one."""

    due: float
    attempts: int = 0
    next_attempt: float = 0.0
    errors: list[str] = field(default_factory=list)


Invoke = Callable[[str, str, dict, str], dict]


class SchedulerService:
    """Fires ENABLED one-time schedules once their time has come, as EventBridge Scheduler does.

    `schedules()` lists the schedules (moto keeps them), `invoke(service, Operation, input, role_arn)`
    calls a universal target's API and raises TargetError, `delete(group, name)` deletes a schedule.
    Which schedules have fired is kept in `fired_file`, so a restarted endpoint does not fire them again.
    """

    def __init__(
        self,
        schedules: Callable[[], list[Schedule]],
        invoke: Invoke,
        delete: Callable[[str, str], object],
        fired_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._schedules = schedules
        self._invoke = invoke
        self._delete = delete
        self._fired_file = fired_file
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._fired: dict[str, dict] = self._load()

    def tick(self) -> None:
        """Fire or retry every schedule that is due now (called periodically)."""
        with self._lock:
            now = self._clock()
            for schedule in self._schedules():
                if schedule.key in self._fired or schedule.state != "ENABLED":
                    continue
                due = fire_time(schedule)
                if due is None or due > now:
                    continue
                pending = self._pending.setdefault(schedule.key, _Pending(due=due, next_attempt=due))
                if pending.next_attempt <= now:
                    self._attempt(schedule, pending, now)

    def fired(self) -> dict[str, dict]:
        """Each fired schedule's key with its outcome: the target's answer, or the errors it gave up on."""
        with self._lock:
            return dict(self._fired)

    def _attempt(self, schedule: Schedule, pending: _Pending, now: float) -> None:
        pending.attempts += 1
        try:
            service, operation = universal_target(schedule.target["Arn"])
            # The same Input on every attempt: a StartAutomationExecution retry carries the same ClientToken.
            request = target_input(schedule)
            answer = self._invoke(service, operation, request, schedule.target.get("RoleArn", ""))
        except TargetError as error:
            pending.errors.append(str(error))
            policy = schedule.target.get("RetryPolicy") or {}
            retries = int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS))
            age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE))
            delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (pending.attempts - 1))
            if error.retryable and pending.attempts <= retries and now + delay - pending.due <= age:
                pending.next_attempt = now + delay
                log.info("schedule %s: %s, retrying in %.0f s", schedule.name, error, delay)
                return
            log.warning("schedule %s: gave up after %d attempts: %s", schedule.name, pending.attempts, error)
            self._done(schedule, {"errors": pending.errors, "attempts": pending.attempts})
            return
        log.info("schedule %s called %s.%s: %s", schedule.name, service, operation, answer)
        self._done(schedule, {"answer": answer, "attempts": pending.attempts})

    def _done(self, schedule: Schedule, outcome: dict) -> None:
        self._pending.pop(schedule.key, None)
        self._fired[schedule.key] = outcome
        self._save()
        if schedule.action_after_completion == "DELETE":
            # "For one-time schedules, this occurs after the schedule has invoked its target once."
            try:
                self._delete(schedule.group, schedule.name)
            except Exception:
                log.exception("schedule %s: DELETE after completion failed", schedule.name)

    def _load(self) -> dict[str, dict]:
        if self._fired_file is None or not self._fired_file.exists():
            return {}
        return json.loads(self._fired_file.read_text())

    def _save(self) -> None:
        if self._fired_file is None:
            return
        temporary = self._fired_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._fired, default=str))
        temporary.replace(self._fired_file)


def fire_time(schedule: Schedule) -> float | None:
    """Epoch seconds of an `at()` schedule's time in its ScheduleExpressionTimezone; None for rate/cron."""
    match = _AT.match(schedule.expression)
    if not match:
        return None
    try:
        zone = ZoneInfo(schedule.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("schedule %s: unknown time zone %r, not fired", schedule.name, schedule.timezone)
        return None
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=zone).timestamp()


def universal_target(arn: str) -> tuple[str, str]:
    """(service, Operation) of a universal target ARN: `...:aws-sdk:ssm:startAutomationExecution` ->
    ("ssm", "StartAutomationExecution"). Other targets raise TargetError, never retried."""
    match = _UNIVERSAL.match(arn)
    if not match:
        raise TargetError("ValidationException", f"target {arn} is not a universal target the rehearsal runs")
    action = match.group("action")
    if action.startswith(_READ_ONLY):
        raise TargetError("ValidationException", f"target {arn}: Scheduler does not call read-only actions")
    return match.group("service"), action[0].upper() + action[1:]


def target_input(schedule: Schedule) -> dict:
    """The target's Input as the API request; not JSON (or absent) is a refusal, never retried."""
    try:
        request = json.loads(schedule.target.get("Input") or "{}")
    except ValueError as error:
        message = f"schedule {schedule.name}: Input is not JSON: {error}"
        raise TargetError("ValidationException", message) from error
    if not isinstance(request, dict):
        raise TargetError("ValidationException", f"schedule {schedule.name}: Input is not a JSON object")
    return request


def assumed_role(role_arn: str, session: str) -> str:
    """The STS identity a call made with `role_arn` shows as its caller (ExecutedBy); a value that is no
    role ARN is shown as it is (the rehearsal does not check roles)."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return role_arn
    return f"arn:aws:sts::{parts[4]}:assumed-role/{parts[5].rsplit('/', 1)[-1]}/{session}"
