"""Starting a deploy: the revision check, the start request, the fleet lock, and the start itself."""

from __future__ import annotations

import contextlib
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from releaseflow.config import Environment
from releaseflow.documents import load_document
from releaseflow.errors import ReleaseflowError, UsageError
from releaseflow.execution import Outcome, Snapshot
from releaseflow.follow import CallBudget, Metered, follow, follow_rollback
from releaseflow.goregexp import full_match
from releaseflow.result import Result, exit_code
from releaseflow.runbook_scripts import lock
from releaseflow.sources import runbook_file
from releaseflow.ssm import UNSUCCESSFUL

LOCK_POLL_SECONDS = 10.0
# The runbook's step that refuses to go on while another execution holds the fleet, and how its
# failure message names the holder (lock.held; the message may come with a traceback).
LOCK_STEP = "Lock"
_HELD = re.compile(r"execution \S+ of \S+ is still running on [^;]*")
# StartAutomationExecution errors that mean "this input can never start", as opposed to transient ones.
_REFUSALS = (
    "InvalidAutomationExecutionParametersException",
    "AutomationDefinitionNotFoundException",
    "AutomationDefinitionVersionNotFoundException",
    "ValidationException",
)


class RevisionRefused(UsageError):
    """The revision does not match the runbook's Revision pattern; nothing was started."""


class ParameterRefused(UsageError):
    """A parameter value the runbook would refuse, or could pass to a shell; nothing was started."""


class StartRefused(UsageError):
    """SSM refused to start the runbook with this input; nothing runs."""


class LockHeld(ReleaseflowError):
    """Another releaseflow-Deploy or releaseflow-RollbackFleet execution works on the same fleet."""

    exit_code = exit_code(Result.LOCKED)


@dataclass(frozen=True)
class StartRequest:
    """Everything StartAutomationExecution receives (and a schedule's target input)."""

    runbook: str
    parameters: dict[str, list[str]]
    client_token: str
    tags: tuple[tuple[str, str], ...]
    # The CloudWatch alarm that makes Automation stop the execution (AlarmConfiguration), if any.
    alarm: str | None = None
    ignore_alarm_poll_failure: bool = False

    @property
    def fleet(self) -> str | None:
        return next(iter(self.parameters.get("FleetTagValue", [])), None)

    @property
    def fleet_tag(self) -> tuple[str, str] | None:
        """(FleetTagKey, FleetTagValue) the deploy works on, the runbook's default key unless given."""
        if self.fleet is None:
            return None
        return ((self.parameters.get("FleetTagKey") or [lock.FLEET_TAG_KEY])[0], self.fleet)

    def api_input(self) -> dict:
        return {
            "DocumentName": self.runbook,
            "Parameters": self.parameters,
            "ClientToken": self.client_token,
            "Tags": [{"Key": key, "Value": value} for key, value in self.tags],
        } | self._alarm_configuration()

    def _alarm_configuration(self) -> dict:
        if not self.alarm:
            return {}
        alarms = {"IgnorePollAlarmFailure": self.ignore_alarm_poll_failure, "Alarms": [{"Name": self.alarm}]}
        return {"AlarmConfiguration": alarms}


def runbook_parameters(root: Path, runbook: str) -> dict:
    """The parameters of the runbook's source in root's automation/ (a prefixed name finds it too)."""
    return load_document(runbook_file(root, runbook)).content.get("parameters") or {}


def revision_pattern(root: Path, runbook: str) -> str:
    """The Revision allowedPattern of the runbook's source in automation/."""
    pattern = (runbook_parameters(root, runbook).get("Revision") or {}).get("allowedPattern")
    if not pattern:
        raise UsageError(f"{runbook}: the Revision parameter has no allowedPattern to check against")
    return pattern


def _matches(pattern: str, value: str) -> bool:
    # As a whole: SSM matches anywhere (Go's MatchString), so an unanchored pattern would let `x;y` in.
    return full_match(pattern, value)


def check_revision(revision: str, pattern: str) -> None:
    """Refuse a revision the pattern does not match as a whole (SSM itself would match anywhere)."""
    if not _matches(pattern, revision):
        raise RevisionRefused(
            f"parameter Revision: revision {revision!r} does not match the runbook's pattern {pattern}"
        )


def check_parameters(parameters: Mapping[str, list[str]], specs: Mapping[str, dict]) -> None:
    """Refuse, before any AWS call, a name the runbook does not declare (SSM would refuse it only after
    the fleet lock), and a value its allowedValues or allowedPattern (as a whole) does not admit: every
    value may end up in a host's shell."""
    for name, values in parameters.items():
        if name not in specs:
            raise ParameterRefused(_unknown_parameter(name, specs))
        spec = specs.get(name) or {}
        allowed, pattern = spec.get("allowedValues"), spec.get("allowedPattern")
        for value in values:
            if allowed is not None and value not in allowed:
                raise ParameterRefused(f"parameter {name}: value {value!r} is not one of {allowed}")
            if pattern and not _matches(pattern, value):
                raise ParameterRefused(
                    f"parameter {name}: value {value!r} does not match the runbook's pattern {pattern}"
                )


def _unknown_parameter(name: str, specs: Mapping[str, dict]) -> str:
    same = [known for known in specs if known.lower() == name.lower()]
    hint = f"did you mean {same[0]}? (names are case-sensitive)" if same else f"it has: {', '.join(specs)}"
    return f"parameter {name}: the runbook declares no such parameter; {hint}"


# SSM's Tag: "Value ... Length Constraints: Minimum length of 0. Maximum length of 256. Pattern:
# ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$" (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Tag.html).
TAG_VALUE_SYMBOLS = "_.:/=+-@"
TAG_VALUE_MAX = 256


def tag_value(text: str) -> str:
    """`text` as a tag value SSM takes: a character off the pattern becomes `_`. GitHub's app actors
    have brackets ("dependabot[bot]"), which would make StartAutomationExecution refuse the deploy."""
    kept = (c if c in TAG_VALUE_SYMBOLS or unicodedata.category(c)[0] in "LZN" else "_" for c in text)
    return "".join(kept)[:TAG_VALUE_MAX]


def start_request(
    environment: Environment, revision: str, overrides: Mapping[str, list[str]], github: Mapping[str, str]
) -> StartRequest:
    """The runbook input: configured parameters, then overrides, then the revision.

    Empty values are dropped so the runbook's defaults apply (SSM refuses empty strings). The client
    token is derived from revision, environment and the GitHub run and attempt, so retries of one run
    cannot start two deploys while a re-run starts a new one; outside Actions it is random per call.
    """
    parameters = {**environment.parameters, **overrides, "Revision": [revision]}
    parameters = {name: values for name, values in parameters.items() if any(values)}
    run_id = github.get("GITHUB_RUN_ID")
    if run_id:
        key = "|".join(
            [environment.runbook, revision, environment.name, run_id, github.get("GITHUB_RUN_ATTEMPT", "1")]
        )
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    else:
        token = str(uuid.uuid4())
    tags = [("releaseflow:commit", revision), ("releaseflow:environment", environment.name)]
    if github.get("GITHUB_ACTOR"):
        tags.append(("releaseflow:actor", github["GITHUB_ACTOR"]))
    if run_id and github.get("GITHUB_REPOSITORY"):
        server = github.get("GITHUB_SERVER_URL", "https://github.com")
        tags.append(("releaseflow:run", f"{server}/{github['GITHUB_REPOSITORY']}/actions/runs/{run_id}"))
    return StartRequest(
        environment.runbook,
        parameters,
        token,
        tuple((key, tag_value(value)) for key, value in tags),
        alarm=environment.alarm,
        ignore_alarm_poll_failure=environment.ignore_alarm_poll_failure,
    )


def lock_holders(ssm, request: StartRequest) -> list[tuple[str, str]]:
    """(execution id, runbook) of each execution holding the request's fleet, oldest first.

    The runbooks' own Lock step decides the same way (releaseflow.runbook_scripts.lock): executions
    of releaseflow-Deploy and releaseflow-RollbackFleet published beside the request's runbook (with
    its prefix), still running, on the same tag key and value; without a FleetTagValue, on any fleet.
    """
    names = lock.runbook_names(request.runbook)
    return [
        (execution_id, runbook) for _, execution_id, runbook in lock.holders(ssm, names, request.fleet_tag)
    ]


def acquire(
    ssm,
    request: StartRequest,
    *,
    wait: bool,
    notify: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    timeout: float | None = None,
) -> None:
    """Return once no other execution holds the fleet; raise LockHeld unless asked to wait."""
    started = clock()
    while True:
        holders = lock_holders(ssm, request)
        if not holders:
            return
        if not wait or (timeout is not None and clock() - started >= timeout):
            raise LockHeld(lock.held(*holders[0], request.fleet_tag))
        execution_id, runbook = holders[0]
        notify(f"waiting for execution {execution_id} of {runbook} on {_where(request)} to finish")
        sleep(LOCK_POLL_SECONDS)


def _where(request: StartRequest) -> str:
    return f"fleet {request.fleet}" if request.fleet else "any fleet"


def start(ssm, request: StartRequest) -> str:
    """Start the execution; the service refusing the runbook or its input is a refusal (exit 2)."""
    try:
        return ssm.start_automation_execution(**request.api_input())["AutomationExecutionId"]
    except ClientError as error:
        if error.response["Error"]["Code"] in _REFUSALS:
            raise StartRefused(
                f"{request.runbook}: {error.response['Error'].get('Message', error)}"
            ) from error
        raise


def claim(ssm, request: StartRequest, execution_id: str) -> None:
    """Keep the lock just taken, or give it back: the oldest running execution on the fleet wins.

    Two triggers can both find the fleet free and both start. Each then lists the running executions
    on the fleet, ordered by start time and id, so both see the same order: the older one goes on, the
    younger stops itself at once, while its runbook is still listing the fleet, and raises LockHeld.
    An execution the listing does not show yet counts as the youngest: when in doubt, both stop.
    """
    holders = lock_holders(ssm, request)
    ids = [execution_id for execution_id, _ in holders]
    older = holders[: ids.index(execution_id)] if execution_id in ids else holders
    if older:
        try:
            ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
        except ClientError as error:
            # The runbook's own Lock step may have ended it first: it yielded all the same.
            if error.response["Error"]["Code"] != "InvalidAutomationStatusUpdateException":
                raise
        raise LockHeld(
            f"{lock.held(*older[0], request.fleet_tag)}; "
            f"execution {execution_id}, started at the same time, was stopped"
        )


def refused_by_lock(outcome: Outcome) -> str | None:
    """Who held the fleet when the runbook's own Lock step refused to go on (an execution that started
    after the trigger's check), else None: a Lock step that failed for another reason is a failure."""
    if outcome.result != Result.FAILED:
        return None
    for step in outcome.snapshot.steps:
        if step.name == LOCK_STEP and not step.parent and step.status in UNSUCCESSFUL:
            found = _HELD.search(" ".join(step.failure.split()))
            return found[0] if found else None
    return None


def retry_request(request: StartRequest) -> StartRequest:
    """The same request with a new client token derived from the old one, so a retry can start anew."""
    return replace(request, client_token=str(uuid.uuid5(uuid.NAMESPACE_URL, request.client_token)))


def console_url(region: str, execution_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/systems-manager/automation/execution/"
        f"{execution_id}?region={region}"
    )


# --- the whole deploy, as the CLI, the demo and the bench run it ----------------------------------


class LostTrack(ReleaseflowError):
    """Started, then AWS stopped answering while following: the execution may still run (exit 1)."""


class Progress(Protocol):
    """What run_deploy tells its caller as it goes: phases (Lock, Start), lines, and each poll's changes."""

    def phase(self, name: str) -> None: ...

    def line(self, text: str) -> None: ...

    def progress(self, snapshot: Snapshot, changed: list) -> None: ...


class Stopper(Protocol):
    """Asked between polls whether to stop the execution; `pause` sleeps, cut short by a stop request."""

    def is_set(self) -> bool: ...

    def requests(self) -> int:
        """How many stop requests came (signals): one after the first stops waiting for a rollback."""
        ...

    def pause(self, seconds: float) -> None: ...


class _Quiet:
    def phase(self, name: str) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def progress(self, snapshot: Snapshot, changed: list) -> None:
        pass


class _NeverStop:
    def is_set(self) -> bool:
        return False

    def requests(self) -> int:
        return 0

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)


@contextlib.contextmanager
def _never_stopped() -> Iterator[Stopper]:
    yield _NeverStop()


@dataclass(frozen=True)
class Deployment:
    """A started deploy: its execution, its console URL, and how it ended (None when not waited for);
    after a cancel, how the releaseflow-RollbackFleet execution it started ended (or was left)."""

    request: StartRequest
    execution_id: str
    url: str
    outcome: Outcome | None = None
    rollback: Outcome | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcome.result if self.outcome else Result.SUCCESS)


def prepare_request(
    environment: Environment,
    revision: str,
    overrides: Mapping[str, list[str]],
    root: Path,
    github: Mapping[str, str],
) -> StartRequest:
    """The checked start request: revision and every parameter against the runbook's patterns, before any
    AWS call (RevisionRefused, ParameterRefused)."""
    check_revision(revision, revision_pattern(root, environment.runbook))
    request = start_request(environment, revision, overrides, github)
    check_parameters(request.parameters, runbook_parameters(root, environment.runbook))
    return request


def run_deploy(
    ssm,
    request: StartRequest,
    *,
    wait: bool = True,
    wait_lock: bool = False,
    timeout: float | None = None,
    progress: Progress | None = None,
    stopping: Callable[[], contextlib.AbstractContextManager[Stopper]] = _never_stopped,
    clock: Callable[[], float] = time.monotonic,
    logs=None,
) -> Deployment:
    """Take the fleet lock, start the runbook, claim the fleet, and follow the execution to its end.

    `logs`, a CloudWatch Logs client, reads a failed host's true last lines (follow.follow).

    LockHeld when another deploy or fleet rollback holds the fleet, seen here or by the runbook's Lock
    step (with wait_lock: wait for it, and start again when an execution started at the same instant
    wins the claim or the runbook yields). `stopping` is entered from just before the
    start to the end of following (the CLI makes SIGINT/SIGTERM stop the execution there); a stop
    request or `timeout` stops the execution. With wait=False it returns once started.

    A cancelled deploy (stopped here, elsewhere, or by its alarm) has only started its rollback: that
    releaseflow-RollbackFleet execution is followed to its end, within what is left of `timeout`; a
    further stop request stops waiting for it, never the rollback itself.
    """
    out = progress or _Quiet()
    # One budget for every call of this deploy, the lock's and the rollback's included (follow.CallBudget).
    ssm = Metered(ssm, CallBudget(clock))
    out.phase("Lock")
    while True:
        acquire(ssm, request, wait=wait_lock, notify=out.line, timeout=timeout)
        out.phase("Start")
        with stopping() as stop:
            # Waiting for room in the budget is a pause a signal cuts short, like the polls' pauses.
            ssm.budget.sleep = stop.pause
            execution_id = start(ssm, request)
            try:
                claim(ssm, request, execution_id)
            except LockHeld as lost:
                if not wait_lock:
                    raise
                out.line(str(lost))
                request = retry_request(request)
                continue
            url = console_url(ssm.meta.region_name, execution_id)
            out.line(f"started execution {execution_id} of {request.runbook}\n  {url}")
            if not wait:
                return Deployment(request, execution_id, url)
            followed = clock()
            try:
                outcome = follow(
                    ssm,
                    execution_id,
                    listener=out.progress,
                    clock=clock,
                    sleep=stop.pause,
                    timeout=timeout,
                    stop_requested=stop.is_set,
                    budget=ssm.budget,
                    logs=logs,
                )
                rollback = None
                if _cancelled(outcome):
                    left = None if timeout is None else max(0.0, timeout - (clock() - followed))
                    outcome, rollback = _follow_rollback(ssm, outcome, out, stop, clock, left, logs)
            except (BotoCoreError, ClientError) as error:
                # Started: no longer "refused before anything started"; the execution runs on.
                raise LostTrack(
                    f"lost track of execution {execution_id}, which may still run: {error}"
                ) from error
            refusal = refused_by_lock(outcome)
            if refusal is None:
                return Deployment(request, execution_id, url, outcome, rollback)
            # Another execution took the fleet between the check and the start: the same refusal as the
            # check's (LockHeld, exit 5), whichever of the two saw it.
            held = LockHeld(
                f"execution {execution_id} of {request.runbook} yielded in its Lock step: {refusal}"
            )
            if not wait_lock:
                raise held
            out.line(str(held))
            request = retry_request(request)


def _cancelled(outcome: Outcome) -> bool:
    # A failed deploy waited for its own rollback (AwaitRollback); a cancelled one only started it.
    return outcome.result in (Result.CANCELLED, Result.TIMED_OUT) or outcome.snapshot.status == "Cancelled"


def _follow_rollback(ssm, outcome, out, stop, clock, timeout, logs=None) -> tuple[Outcome, Outcome | None]:
    seen = stop.requests()
    out.phase("Rollback")
    if timeout != 0:
        out.line(
            f"following the rollback the cancel of {outcome.snapshot.execution_id} started "
            "(a further SIGINT/SIGTERM stops waiting; the rollback runs on)"
        )
    return follow_rollback(
        ssm,
        outcome,
        listener=out.progress,
        clock=clock,
        sleep=stop.pause,
        timeout=timeout,
        stop_requested=lambda: stop.requests() > seen,
        budget=ssm.budget,
        logs=logs,
    )
