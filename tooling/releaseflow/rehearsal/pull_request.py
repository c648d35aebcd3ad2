"""A pull request's rehearsal as a job summary: what deploying its head, then its base, did on each host."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from releaseflow.execution import Snapshot
from releaseflow.follow import fetch
from releaseflow.rehearsal.harness import fleet

DEPLOY_RUNBOOK = "releaseflow-Deploy"
# A host registered again at the end of a deploy needs a few HAProxy checks to read healthy.
SETTLE_SECONDS = 30


@dataclass(frozen=True)
class Verdict:
    """Whether the rehearsal showed the pull request safe to deploy, and the summary saying why."""

    passed: bool
    markdown: str


def judge(
    head: Snapshot | None,
    base: Snapshot | None,
    hosts: Sequence[fleet.HostStatus],
    head_revision: str,
    base_revision: str,
) -> Verdict:
    """The checks (the migration ran on one host, every host restarted on the head and passed its health
    check, the deploy of the base put every host back on it, serving and healthy) and a table per host."""
    checks: list[tuple[bool, str]] = []
    h, b = _short(head_revision), _short(base_revision)
    migrations = [i for i in head.invocations if i.phase == "Migrate"] if head else []
    if head is None:
        checks.append((False, f"No deploy of the head `{h}` was found."))
    else:
        checks.append(
            (head.succeeded, f"The deploy of the head `{h}` ({head.execution_id}) ended {head.status}.")
        )
        ran = [i for i in migrations if i.status == "Success"]
        if len(migrations) == 1 and ran:
            checks.append((True, f"The migration ran once, on `{ran[0].instance_id}`."))
        else:
            where = ", ".join(f"`{i.instance_id}` {i.status}" for i in migrations) or "on no host"
            checks.append((False, f"The migration did not run exactly once with success: {where}."))
        unproven = [
            host.instance_id
            for host in hosts
            if not (
                _ran(head, host.instance_id, "RestartServices")
                and _ran(head, host.instance_id, "HealthCheck")
            )
        ]
        checks.append(
            (
                not unproven,
                "Every host restarted on the head and passed its health check."
                if not unproven
                else f"Not restarted on the head or not healthy: {', '.join(f'`{i}`' for i in unproven)}.",
            )
        )
    if base is None:
        checks.append((False, f"The base `{b}` was not deployed again (the head's deploy did not succeed)."))
    else:
        checks.append(
            (base.succeeded, f"The deploy back to the base `{b}` ({base.execution_id}) ended {base.status}.")
        )
    away = [host.instance_id for host in hosts if not _back(host, base_revision)]
    checks.append(
        (
            not away,
            f"Every host is back on the base `{b}`: checked out, serving it, healthy in the load balancer."
            if not away
            else f"Not back on the base `{b}`: {', '.join(f'`{i}`' for i in away)}.",
        )
    )
    passed = all(ok for ok, _ in checks)
    migration_host = migrations[0].instance_id if migrations else ""
    lines = [
        f"### {'✅' if passed else '❌'} Rehearsal of `{h}` over `{b}`: {'passed' if passed else 'failed'}",
        "",
        f"{len(hosts)} local host(s) at the base behind HAProxy (`releaseflow local up`); the head "
        f"deployed with `{DEPLOY_RUNBOOK}`, then the base deployed again.",
        "",
        *[f"- {'✅' if ok else '❌'} {text}" for ok, text in checks],
        "",
        f"| Host | Migration | Head `{h}`: restart, health check | Now: checked out, serving, balancer |",
        "| --- | --- | --- | --- |",
    ]
    for host in hosts:
        migration = next((i.status for i in migrations if i.instance_id == host.instance_id), "-")
        head_cells = (
            ", ".join(_status(head, host.instance_id, phase) for phase in ("RestartServices", "HealthCheck"))
            if head
            else "-"
        )
        now = f"`{_short(host.revision)}`, `{_short(host.serving) or '-'}`, {host.lb_state}"
        role = " (migrate)" if host.instance_id == migration_host else ""
        lines.append(f"| `{host.instance_id}`{role} | {migration} | {head_cells} | {now} |")
    return Verdict(passed, "\n".join(lines) + "\n")


def report(
    ssm,
    state_dir: Path,
    head_revision: str,
    base_revision: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Verdict:
    """Judge the fleet in `state_dir`: its deploy of `head_revision`, the next one of `base_revision`, and
    its hosts now (given a few seconds to read healthy)."""
    snapshots = sorted(
        (fetch(ssm, execution_id) for execution_id in _deploys(ssm)),
        key=lambda snapshot: snapshot.start.timestamp() if snapshot.start else 0.0,
    )
    head = next((s for s in snapshots if s.parameters.get("Revision") == [head_revision]), None)
    after = snapshots[snapshots.index(head) + 1 :] if head else []
    base = next((s for s in after if s.parameters.get("Revision") == [base_revision]), None)
    deadline = clock() + SETTLE_SECONDS
    hosts = fleet.status(state_dir).hosts
    while not all(_back(host, base_revision) for host in hosts) and clock() < deadline:
        sleep(0.5)
        hosts = fleet.status(state_dir).hosts
    return judge(head, base, hosts, head_revision, base_revision)


def _deploys(ssm) -> list[str]:
    filters = [{"Key": "DocumentNamePrefix", "Values": [DEPLOY_RUNBOOK]}]
    return [
        execution["AutomationExecutionId"]
        for page in ssm.get_paginator("describe_automation_executions").paginate(Filters=filters)
        for execution in page.get("AutomationExecutionMetadataList", [])
        if execution.get("DocumentName") == DEPLOY_RUNBOOK
    ]


def _ran(snapshot: Snapshot, instance_id: str, phase: str) -> bool:
    statuses = [i.status for i in snapshot.invocations if i.instance_id == instance_id and i.phase == phase]
    return bool(statuses) and all(status == "Success" for status in statuses)


def _status(snapshot: Snapshot, instance_id: str, phase: str) -> str:
    statuses = [i.status for i in snapshot.invocations if i.instance_id == instance_id and i.phase == phase]
    return "/".join(statuses) or "not run"


def _back(host: fleet.HostStatus, revision: str) -> bool:
    return (host.revision, host.serving, host.running, host.lb_state) == (revision, revision, True, "healthy")


def _short(revision: str) -> str:
    return revision[:12]
