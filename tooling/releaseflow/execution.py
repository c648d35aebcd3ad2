"""An Automation execution as plain values: parsed API answers, what changed, per-host summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from releaseflow.outcome import HostOutcome, classify
from releaseflow.result import Result
from releaseflow.rollout import PLANNING_STEP
from releaseflow.ssm import COMMAND_TERMINAL
from releaseflow.ssm import EXECUTION_SUCCESS as SUCCESS
from releaseflow.ssm import EXECUTION_TERMINAL as TERMINAL

# Worst first: a host's status is the worst of its commands'.
_SEVERITY = ["Failed", "TimedOut", "Cancelled", "Cancelling", "InProgress", "Pending", "Delayed", "Success"]


@dataclass(frozen=True)
class Step:
    """One step execution; loop iterations are separate steps with their parent's name and iteration."""

    key: str
    name: str
    action: str
    status: str
    start: datetime | None = None
    end: datetime | None = None
    failure: str = ""
    parent: str = ""
    iteration: int | None = None
    command_id: str = ""
    # Output name -> values, as DescribeAutomationStepExecutions lists them.
    outputs: dict[str, list[str]] = field(default_factory=dict, compare=False)
    # Input name -> value as DescribeAutomationStepExecutions lists them (lists JSON-encoded).
    inputs: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"{self.parent}[{self.iteration}].{self.name}" if self.parent else self.name


@dataclass(frozen=True)
class Invocation:
    """One host's run of one command."""

    command_id: str
    instance_id: str
    document: str
    status: str
    start: datetime | None = None
    end: datetime | None = None
    output: str = ""

    @property
    def phase(self) -> str:
        """The document's own name, without project prefixes: CheckoutRevision, Migrate, ..."""
        return self.document.rsplit("-", 1)[-1]


@dataclass(frozen=True)
class TriggeredAlarm:
    """A CloudWatch alarm that stopped the execution (TriggeredAlarms): ALARM, or UNKNOWN when unreadable."""

    name: str
    state: str

    @property
    def reason(self) -> str:
        if self.state == "ALARM":
            return f"CloudWatch alarm {self.name} went into ALARM and stopped the deploy"
        return (
            f"CloudWatch alarm {self.name} could not be read (state {self.state}) and stopped the deploy; "
            "IgnorePollAlarmFailure was false"
        )


@dataclass(frozen=True)
class Snapshot:
    execution_id: str
    runbook: str
    status: str
    parameters: dict[str, list[str]] = field(default_factory=dict)
    failure: str = ""
    start: datetime | None = None
    end: datetime | None = None
    steps: tuple[Step, ...] = ()
    invocations: tuple[Invocation, ...] = ()
    # AlarmConfiguration's alarm ("" without one), and the alarms that stopped the execution.
    alarm: str = ""
    triggered_alarms: tuple[TriggeredAlarm, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def migration_host(self) -> str:
        """The migration host the runbook planned (PlanRollout's output), or "" before it planned."""
        return next(
            (s.outputs.get("MigrationHost", [""])[0] for s in self.steps if s.name == PLANNING_STEP), ""
        )

    @property
    def rollback_ids(self) -> list[str]:
        """The releaseflow-RollbackFleet executions this deploy started (on failure or cancel)."""
        return [
            s.outputs["RollbackExecutionId"][0] for s in self.steps if s.outputs.get("RollbackExecutionId")
        ]

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS


@dataclass(frozen=True)
class HostFailure:
    """Where a failed deploy broke: the step, its message, and the failing host's output tails.

    The tails are the true last lines when read from CloudWatch Logs (`log_group`, `log_streams`: stdout
    then stderr); otherwise `output_note` says why they come from GetCommandInvocation's cut text."""

    step: str
    message: str
    instance_id: str = ""
    stdout: str = ""
    stderr: str = ""
    log_group: str = ""
    log_streams: tuple[str, ...] = ()
    output_note: str = ""


# An execution watched only until a timeout or a stop request, left running (a rollback): not an end.
UNFINISHED = Result.UNFINISHED


@dataclass(frozen=True)
class Outcome:
    """How following ended: success, failed, timed_out, cancelled (or UNFINISHED), and where it failed."""

    result: Result
    snapshot: Snapshot
    failure: HostFailure | None = None


@dataclass(frozen=True)
class HostSummary:
    """A host's row: revisions are None where no document said them; status is None for a host the
    deploy only prepared (or never touched), unless that failed."""

    instance_id: str
    role: str
    outcome: HostOutcome
    status: str | None
    start: datetime | None
    end: datetime | None

    @property
    def before(self) -> str | None:
        return self.outcome.before

    @property
    def after(self) -> str | None:
        return self.outcome.after

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start and self.end else None


def parse_execution(execution: dict[str, Any]) -> Snapshot:
    """A GetAutomationExecution answer (its AutomationExecution) without steps."""
    return Snapshot(
        execution_id=execution["AutomationExecutionId"],
        runbook=execution.get("DocumentName", ""),
        status=execution.get("AutomationExecutionStatus", "Pending"),
        parameters=execution.get("Parameters", {}),
        failure=execution.get("FailureMessage", ""),
        start=execution.get("ExecutionStartTime"),
        end=execution.get("ExecutionEndTime"),
        alarm=next((a["Name"] for a in (execution.get("AlarmConfiguration") or {}).get("Alarms", [])), ""),
        triggered_alarms=tuple(
            TriggeredAlarm(a["Name"], a.get("State", "")) for a in execution.get("TriggeredAlarms") or []
        ),
    )


def parse_step(step: dict[str, Any]) -> Step:
    """A DescribeAutomationStepExecutions entry; a runCommand step's CommandId comes from its outputs."""
    parent = step.get("ParentStepDetails") or {}
    command_ids = (step.get("Outputs") or {}).get("CommandId") or [""]
    return Step(
        key=step.get("StepExecutionId", step["StepName"]),
        name=step["StepName"],
        action=step.get("Action", ""),
        status=step.get("StepStatus", "Pending"),
        start=step.get("ExecutionStartTime"),
        end=step.get("ExecutionEndTime"),
        failure=step.get("FailureMessage", ""),
        parent=parent.get("StepName", ""),
        iteration=parent.get("Iteration"),
        command_id=command_ids[0] if step.get("Action") == "aws:runCommand" else "",
        outputs=dict(step.get("Outputs") or {}),
        inputs=dict(step.get("Inputs") or {}),
    )


def parse_invocation(invocation: dict[str, Any]) -> Invocation:
    """A ListCommandInvocations entry (with Details): times and output come from its plugins."""
    plugins = invocation.get("CommandPlugins") or []
    starts = [p["ResponseStartDateTime"] for p in plugins if p.get("ResponseStartDateTime")]
    ends = [p["ResponseFinishDateTime"] for p in plugins if p.get("ResponseFinishDateTime")]
    return Invocation(
        command_id=invocation["CommandId"],
        instance_id=invocation["InstanceId"],
        document=invocation.get("DocumentName", ""),
        status=invocation.get("Status", "Pending"),
        start=min(starts) if starts else invocation.get("RequestedDateTime"),
        end=max(ends) if ends and invocation.get("Status") in COMMAND_TERMINAL else None,
        output="\n".join(p.get("Output", "") for p in plugins),
    )


def changes(before: Snapshot | None, after: Snapshot) -> list[Step | Invocation]:
    """Steps and host invocations that are new or changed status since `before`."""
    seen_steps = {s.key: s.status for s in before.steps} if before else {}
    seen_hosts = {(i.command_id, i.instance_id): i.status for i in before.invocations} if before else {}
    found: list[Step | Invocation] = [s for s in after.steps if seen_steps.get(s.key) != s.status]
    found += [i for i in after.invocations if seen_hosts.get((i.command_id, i.instance_id)) != i.status]
    # One poll can see several transitions: tell them in the order they happened.
    return sorted(found, key=_moment)


def _moment(item: Step | Invocation) -> tuple:
    moment = item.end or item.start
    return (0, moment.timestamp()) if moment else (1, 0.0)


def host_summaries(snapshot: Snapshot) -> list[HostSummary]:
    """One row per host: migrate or rolling, its outcome (outcome.classify), worst status, time spent."""
    hosts: dict[str, list[Invocation]] = {}
    for invocation in snapshot.invocations:
        hosts.setdefault(invocation.instance_id, []).append(invocation)
    # The migration host is the one the runbook planned, so a failure before it migrated still shows it.
    # Executions of the first runbook version (still readable with `status`) checked it out in a
    # top-level step, the others inside the rolling loop.
    migration_host = snapshot.migration_host
    first_checkouts = {step.command_id for step in snapshot.steps if step.command_id and not step.parent}
    first_checkouts &= {i.command_id for i in snapshot.invocations if i.phase == "CheckoutRevision"}
    rows = []
    for instance_id, runs in hosts.items():
        outcome = classify(runs)
        status: str | None = min((run.status for run in runs), key=_severity)
        if not outcome.reached and status == "Success":
            status = None
        starts = [run.start for run in runs if run.start]
        ends = [run.end for run in runs if run.end]
        role = (
            "migrate"
            if instance_id == migration_host
            or any(run.phase == "Migrate" or run.command_id in first_checkouts for run in runs)
            else "rolling"
        )
        rows.append(
            HostSummary(
                instance_id,
                role,
                outcome,
                status,
                min(starts) if starts else None,
                max(ends) if ends else None,
            )
        )
    return rows


def _severity(status: str) -> int:
    return _SEVERITY.index(status) if status in _SEVERITY else len(_SEVERITY)
