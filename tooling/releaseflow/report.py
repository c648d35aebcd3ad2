"""Rendering publish plans and deploy reports as terminal text and GitHub markdown (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from releaseflow import outcome as host_outcome
from releaseflow.execution import (
    UNFINISHED,
    HostFailure,
    HostSummary,
    Invocation,
    Outcome,
    Snapshot,
    Step,
    host_summaries,
)
from releaseflow.result import Result
from releaseflow.ssm import UNSUCCESSFUL

if TYPE_CHECKING:  # publish and history talk to AWS; rendering only needs their results' shape
    from releaseflow.history import Run
    from releaseflow.publish import PublishResult


def publish_text(result: PublishResult) -> str:
    """One line per document, then the diffs of what changes."""
    verb = "would publish" if result.dry_run else "published"
    lines = [f"{d.action:<9} {d.name} -> version {d.version}" for d in result.documents]
    summary = f"{len(result.changed)} of {len(result.documents)} document(s) {verb}"
    diffs = [d.diff for d in result.changed if d.diff]
    return "\n".join([*lines, summary, *diffs]).rstrip("\n") + "\n"


def publish_markdown(result: PublishResult) -> str:
    """The plan as a job summary: a table, then one collapsible diff per changed document."""
    title = "Publish plan (dry run)" if result.dry_run else "Published documents"
    rows = [f"| `{d.name}` | {d.document_type} | {d.action} | {d.version} |" for d in result.documents]
    parts = [f"### {title}", "", "| Document | Type | Action | Version |", "| --- | --- | --- | --- |", *rows]
    for document in result.changed:
        parts += [
            "",
            f"<details><summary>{document.name}: {document.action}</summary>",
            "",
            "```diff",
            document.diff.rstrip("\n"),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(parts) + "\n"


# --- deploys ------------------------------------------------------------------------------------


def event_line(item: Step | Invocation) -> str:
    """One line per step transition or host status change, as they happen."""
    if isinstance(item, Step):
        failure = f": {item.failure}" if item.failure and item.status in UNSUCCESSFUL else ""
        return f"step {item.label} ({item.action}): {item.status}{failure}"
    return f"  host {item.instance_id} {item.phase}: {item.status}"


def status_line(snapshot: Snapshot) -> str:
    """The terminal's live line: execution status, current step, hosts by status."""
    current = next((s.label for s in reversed(snapshot.steps) if s.status == "InProgress"), "-")
    counts: dict[str, int] = {}
    for host in host_summaries(snapshot):
        status = host.status or NOT_REACHED
        counts[status] = counts.get(status, 0) + 1
    hosts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no hosts yet"
    return f"[{snapshot.status}] step {current}; hosts: {hosts}"


def error_annotation(outcome: Outcome) -> str:
    """A GitHub ::error:: naming the failing step and host."""
    failure = outcome.failure
    where = (
        f"step {failure.step}" if failure and failure.step else f"execution {outcome.snapshot.execution_id}"
    )
    host = f" on host {failure.instance_id}" if failure and failure.instance_id else ""
    message = failure.message if failure and failure.message else outcome.snapshot.status
    return f"::error title=Deploy {outcome.result}::{_escape(f'{where}{host}: {message}')}"


def failure_text(failure: HostFailure) -> str:
    """The failed step, its message, the host, and the last lines of its output with where they come
    from: the log group and streams (the true end), or why only GetCommandInvocation's cut text."""
    lines = [f"failed step: {failure.step or '-'}", f"message: {failure.message or '-'}"]
    if failure.instance_id:
        lines.append(f"host: {failure.instance_id}")
    if failure.log_group:
        lines.append(f"whole output: CloudWatch Logs group {failure.log_group}")
        lines += [f"  stream {stream}" for stream in failure.log_streams]
        source = "last lines, CloudWatch Logs"
    else:
        if failure.output_note and (failure.stdout or failure.stderr):
            lines.append(f"output: {failure.output_note}")
        source = "tail"
    for title, text in (("stdout", failure.stdout), ("stderr", failure.stderr)):
        if text:
            lines += [f"--- {title} ({source}) ---", text]
    return "\n".join(lines) + "\n"


# How each outcome reads in the text and markdown tables.
OUTCOME_LABELS = {
    host_outcome.SWITCHED: "switched",
    host_outcome.NOT_SWITCHED: "not switched",
    host_outcome.ROLLED_BACK: "rolled back",
    host_outcome.ROLLBACK_FAILED: "rollback failed",
    host_outcome.NOT_REACHED: "not reached",
}


@dataclass(frozen=True)
class HostRow:
    """A host as the reports show it: a host the deploy never reached is not passed off as a success."""

    host: HostSummary

    @property
    def reached(self) -> bool:
        return self.host.outcome.reached

    @property
    def rolled_back(self) -> bool:
        return self.host.outcome.rolled_back

    @property
    def revision(self) -> str:
        return f"{_short(self.host.before)} -> {_short(self.host.after)}" if self.reached else NOT_REACHED

    @property
    def status(self) -> str:
        """The worst command status and, where it says more, what happened to the host."""
        label = OUTCOME_LABELS[self.host.outcome.outcome]
        if not self.reached:
            return self.host.status or "-"
        if self.host.outcome.outcome in (host_outcome.ROLLED_BACK, host_outcome.ROLLBACK_FAILED):
            return label if self.host.status == "Success" else f"{self.host.status}, {label}"
        return self.host.status or "-"

    @property
    def duration(self) -> str:
        return _duration(self.host.seconds) if self.reached else "-"


def host_rows(snapshot: Snapshot) -> list[HostRow]:
    """host_summaries as the reports show them."""
    return [HostRow(host) for host in host_summaries(snapshot)]


def hosts_text(snapshot: Snapshot) -> str:
    rows = [f"{'HOST':<21} {'ROLE':<8} {'REVISION':<30} {'STATUS':<20} DURATION"]
    for row in host_rows(snapshot):
        host = row.host
        rows.append(
            f"{host.instance_id:<21} {host.role:<8} {row.revision:<30} {row.status:<20} {row.duration}"
        )
    return "\n".join(rows) + "\n"


def rollback_text(deploy: Snapshot, rollback: Outcome) -> str:
    """How the fleet rollback a cancel started ended, and the hosts (of the deploy's, which include the
    rollback's commands) not back on the revision they had: every host, or which did not make it."""
    rows = [row for row in host_rows(deploy) if row.reached]
    left = [
        row
        for row in rows
        if row.host.outcome.outcome in (host_outcome.SWITCHED, host_outcome.ROLLBACK_FAILED)
    ]
    # A host not switched whose revision no document said (its switch stopped before it moved) is
    # where it was: the revisions the others are back on tell which.
    back = {row.host.after for row in rows if row not in left and row.host.after}
    where = f"revision {_short(back.pop())}" if len(back) == 1 else "its previous revision"
    named = ", ".join(f"{row.host.instance_id} ({OUTCOME_LABELS[row.host.outcome.outcome]})" for row in left)
    rollback_id = rollback.snapshot.execution_id
    execution = f"rollback {rollback_id} ({rollback.snapshot.runbook or 'releaseflow-RollbackFleet'})"
    if rollback.result == UNFINISHED:
        return (
            f"{execution} is still {rollback.snapshot.status}: stopped waiting for it; "
            f"not back yet: {named or 'none'}; follow it with `releaseflow status {rollback_id}`"
        )
    if not left:
        return f"{execution} ended {rollback.snapshot.status}: every host is back on {where}"
    return f"{execution} ended {rollback.snapshot.status}: not back on the previous revision: {named}"


def status_text(snapshot: Snapshot) -> str:
    """`releaseflow status`: the execution, its steps, then its hosts."""
    lines = [f"execution {snapshot.execution_id} of {snapshot.runbook}: {snapshot.status}"]
    if snapshot.failure:
        lines.append(f"failure: {snapshot.failure}")
    if snapshot.alarm:
        lines.append(f"alarm: {snapshot.alarm}")
    lines += [f"stopped by: {alarm.reason}" for alarm in snapshot.triggered_alarms]
    for name, values in sorted(snapshot.parameters.items()):
        if name in ("Revision", "FleetTagValue"):
            lines.append(f"{name}: {', '.join(values)}")
    lines += ["", "STEPS"]
    lines += [
        f"  {step.label:<40} {step.status:<12} {_duration(_seconds(step.start, step.end))}"
        for step in snapshot.steps
    ]
    return "\n".join(lines) + "\n\n" + hosts_text(snapshot)


def history_text(runs: list[Run], fleet: str) -> str:
    """`releaseflow history`: one line per deploy or rollback, newest first, with its console link."""
    if not runs:
        return f"no deploy or rollback of fleet {fleet} found\n"
    lines = [
        f"{'STARTED (UTC)':<19} {'DURATION':<8} {'KIND':<8} {'STATUS':<10} {'REVISION':<12} "
        f"{'STARTED BY':<28} ROLLBACK"
    ]
    for run in runs:
        started = run.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if run.start else "-"
        if run.kind == "deploy":
            rollback = ", ".join(run.rollbacks) or "-"
        else:
            rollback = f"undoes {run.rolls_back}" if run.rolls_back else "-"
        lines.append(
            f"{started:<19} {_duration(_seconds(run.start, run.end)):<8} {run.kind:<8} {run.status:<10} "
            f"{_short(run.revision) if run.revision else '-':<12} {run.started_by:<28} {rollback}"
        )
        lines.append(f"  {run.execution_id}  {run.url}")
    return "\n".join(lines) + "\n"


def status_json(snapshot: Snapshot) -> dict:
    return {
        "execution_id": snapshot.execution_id,
        "runbook": snapshot.runbook,
        "status": snapshot.status,
        "failure": snapshot.failure,
        "alarm": snapshot.alarm or None,
        "triggered_alarms": [{"name": a.name, "state": a.state} for a in snapshot.triggered_alarms],
        "parameters": snapshot.parameters,
        "steps": [
            {
                "name": s.label,
                "action": s.action,
                "status": s.status,
                "failure": s.failure,
                "start": _iso(s.start),
                "end": _iso(s.end),
            }
            for s in snapshot.steps
        ],
        "hosts": [
            {
                "instance_id": row.host.instance_id,
                "role": row.host.role,
                "before": row.host.before,
                "after": row.host.after,
                "status": row.host.status,
                "outcome": row.host.outcome.outcome,
                "seconds": row.host.seconds,
                "reached": row.reached,
                "rolled_back": row.rolled_back,
            }
            for row in host_rows(snapshot)
        ],
    }


def deploy_markdown(outcome: Outcome, environment: str, url: str, rollback: str = "") -> str:
    """The job summary: outcome, a table per host, the failure, and a gantt chart of host phases."""
    snapshot = outcome.snapshot
    revision = (snapshot.parameters.get("Revision") or ["?"])[0]
    icon = "✅" if outcome.result == Result.SUCCESS else "❌"
    parts = [
        f"### {icon} Deploy of `{revision}` to {environment}: {outcome.result}",
        "",
        f"Execution [`{snapshot.execution_id}`]({url}) of `{snapshot.runbook}`: {snapshot.status}",
        "",
        *[f"**Stopped by an alarm:** {alarm.reason}\n" for alarm in snapshot.triggered_alarms],
        *([f"**Rollback:** {_escape(rollback)}\n"] if rollback else []),
        "| Host | Role | Revision | Status | Duration |",
        "| --- | --- | --- | --- | --- |",
    ]
    parts += [
        f"| `{row.host.instance_id}` | {row.host.role} | {_revision_markdown(row)} | {row.status} "
        f"| {row.duration} |"
        for row in host_rows(snapshot)
    ]
    if outcome.failure:
        parts += ["", "#### Failure", "", "```text", failure_text(outcome.failure).rstrip("\n"), "```"]
    parts += ["", gantt(snapshot)]
    return "\n".join(parts)


def gantt(snapshot: Snapshot) -> str:
    """A Mermaid gantt chart: a section per host, a bar per phase, failures marked crit."""
    lines = [
        "```mermaid",
        "gantt",
        f"  title {snapshot.runbook} {snapshot.execution_id}",
        "  dateFormat X",
        "  axisFormat %H:%M:%S",
    ]
    hosts: dict[str, list[Invocation]] = {}
    for invocation in snapshot.invocations:
        hosts.setdefault(invocation.instance_id, []).append(invocation)
    fallback_end = snapshot.end
    for instance_id, runs in hosts.items():
        lines.append(f"  section {instance_id}")
        for run in runs:
            if run.start is None:
                continue
            start = int(run.start.timestamp())
            end = max(start + 1, int((run.end or fallback_end or run.start).timestamp()))
            tag = "crit, " if run.status in UNSUCCESSFUL else ("active, " if run.end is None else "done, ")
            lines.append(f"  {run.phase} :{tag}{start}, {end}")
    lines.append("```")
    return "\n".join(lines) + "\n"


NOT_REACHED = OUTCOME_LABELS[host_outcome.NOT_REACHED]
ROLLED_BACK = OUTCOME_LABELS[host_outcome.ROLLED_BACK]


def _revision_markdown(row: HostRow) -> str:
    return f"`{_short(row.host.before)}` → `{_short(row.host.after)}`" if row.reached else NOT_REACHED


def _short(revision: str | None) -> str:
    return revision[:12] if revision else "?"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _escape(message: str) -> str:
    """GitHub's workflow-command escaping."""
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
