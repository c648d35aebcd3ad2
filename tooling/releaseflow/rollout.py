"""The rollout plan (migration host, then batches), computed by the runbooks' own planning module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from releaseflow.documents import load_document
from releaseflow.errors import ReleaseflowError
from releaseflow.runbook_scripts import plan_rollout as planning
from releaseflow.sources import packaged_root, runbook_file

DEPLOY_RUNBOOK = "releaseflow-Deploy"
PLANNING_STEP = "PlanRollout"


class PlanError(ReleaseflowError):
    """The fleet or the batch size cannot be planned (the runbook would fail the same way)."""


@dataclass(frozen=True)
class Plan:
    """Which host migrates, and the batches the other hosts follow in."""

    migration_host: str
    batches: tuple[tuple[str, ...], ...]
    # The health check's execution timeout the runbook passes (PlanRollout's HealthCheckSeconds): derived
    # from the health parameters, not part of which host goes when, so plans compare without it.
    health_check_seconds: str = field(default="", compare=False)
    # The batches (counted as `batches` counts them, from 1) of worker hosts (releaseflow:role=worker).
    worker_batches: tuple[int, ...] = ()
    migration_host_is_a_worker: bool = False


def plan_rollout(
    hosts: Sequence[str],
    *,
    migration_hosts: Sequence[str] = (),
    batch_size: str = "1",
    runbook: Path | None = None,
    health_check: dict[str, str] | None = None,
    workers: Sequence[str] = (),
) -> Plan:
    """Plan a deploy to online `hosts`, with `migration_hosts` tagged as migration host, offline.

    Calls the handler of PlanRollout's script module (what `make runbooks` writes into the runbooks)
    with the payload the runbook would hand it, so the CLI and the runbook cannot disagree. The
    runbook (default: the packaged releaseflow-Deploy) gives the parameters' defaults: MigrationTagKey,
    and HealthCheckRetries and HealthCheckTimeoutSeconds where `health_check` gives none.
    """
    if runbook is None:
        runbook = runbook_file(packaged_root(), DEPLOY_RUNBOOK)
    unknown = sorted(set(migration_hosts) - set(hosts))
    if unknown:
        raise PlanError(f"migration host {', '.join(unknown)} is not one of the hosts")
    unknown = sorted(set(workers) - set(hosts))
    if unknown:
        raise PlanError(f"worker {', '.join(unknown)} is not one of the hosts")
    parameters = _planning_parameters(runbook)
    tag_key = parameters["MigrationTagKey"]["default"]
    # As ListFleet hands them over: instance ids as JSON text.
    payload = {
        "Hosts": json.dumps(list(hosts)),
        "Offline": "[]",
        "Tagged": json.dumps([host for host in hosts if host in migration_hosts]),
        "Workers": json.dumps([host for host in hosts if host in workers]),
        "MigrationTagKey": tag_key,
        "BatchSize": batch_size,
        **{
            name: (health_check or {}).get(name, parameters[name]["default"])
            for name in ("HealthCheckRetries", "HealthCheckTimeoutSeconds")
        },
    }
    try:
        result = planning.handler(payload, None)
    except ValueError as error:
        # The script's ValueErrors are its refusals (the runbook step fails with the same message).
        raise PlanError(str(error)) from error
    # The runbook's first batch is the migration host alone; the plan shows it on its own line.
    batches = json.loads(result["Batches"])[1:]
    worker_batches = json.loads(result["WorkerBatches"])
    return Plan(
        result["MigrationHost"],
        tuple(tuple(batch) for batch in batches),
        result["HealthCheckSeconds"],
        tuple(n for n in worker_batches if n),
        0 in worker_batches,
    )


def _planning_parameters(runbook: Path) -> dict:
    content = load_document(runbook).content
    if not any(step.get("name") == PLANNING_STEP for step in content["mainSteps"]):
        raise PlanError(f"{runbook}: no step named {PLANNING_STEP}")
    return content["parameters"]


def render(plan: Plan) -> str:
    """The plan as operators read it: one line for the migration host, one a batch."""
    worker = " (a worker host)" if plan.migration_host_is_a_worker else ""
    lines = [
        f"migration host: {plan.migration_host}{worker} (checks out, migrates, restarts and is checked first)"
    ]
    lines += [
        f"batch {number}{' (workers)' if number in plan.worker_batches else ''}: {', '.join(batch)}"
        for number, batch in enumerate(plan.batches, start=1)
    ]
    if not plan.batches:
        lines.append("no other hosts")
    return "\n".join(lines)
