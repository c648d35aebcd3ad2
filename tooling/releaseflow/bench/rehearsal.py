"""rehearsal.* and trigger.*: rolling deploys of 3 Rails hosts through `releaseflow deploy`, timed."""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

from releaseflow.bench.critical_path import critical_path_seconds
from releaseflow.bench.stats import Summary, summarize
from releaseflow.cli import main
from releaseflow.execution import Snapshot
from releaseflow.follow import fetch
from releaseflow.rehearsal import fleet, haproxy

# Deliberate waits of the release runbook, for each batch (the migration host is the first): each drain waits
# out the target group's deregistration delay, and a registered target is healthy after the load
# balancer's `rise` checks: the first may come at once, the others follow at HAProxy's fastinter, so at
# least (rise - 1) transition intervals.
DRAINED = fleet.DEREGISTRATION_DELAY
HEALTHY = (haproxy.RISE - 1) * haproxy.TRANSITION_INTERVAL_MS / 1000
WAITS = {
    "DrainBatch": DRAINED,
    "RegisterBatch": HEALTHY,
}


@dataclass(frozen=True)
class DeployRun:
    """One deploy as the trigger saw it and as the endpoint recorded it."""

    snapshot: Snapshot
    started: float
    exited: float
    calls: int

    @property
    def deploy_s(self) -> float:
        return (self.snapshot.end - self.snapshot.start).total_seconds()

    @property
    def steps_per_batch(self) -> float:
        """Sequential Automation steps per batch on this deploy: UpdateBatches' nested steps per iteration."""
        nested = [step for step in self.snapshot.steps if step.parent == "UpdateBatches"]
        return len(nested) / len({step.iteration for step in nested})

    @property
    def critical_path_s(self) -> float:
        return critical_path_seconds(self.snapshot.steps, self.snapshot.invocations, WAITS)

    @property
    def detect_latency_s(self) -> float:
        """From the execution's end (ExecutionEndTime) to the trigger returning."""
        return self.exited - self.snapshot.end.timestamp()

    @property
    def calls_per_min(self) -> float:
        return self.calls * 60 / (self.exited - self.started)


def deploy(state_dir: Path, revision: str) -> DeployRun:
    """Run `releaseflow deploy` in this process, counting its API calls; fails unless it succeeds."""
    os.environ.update(fleet.env(state_dir))
    # Clients the trigger creates from the default session inherit its handlers.
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    names: list[str] = []
    started_ids: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: names.append(model.name))
    session.events.register(
        "after-call.ssm.StartAutomationExecution",
        lambda parsed, **_: started_ids.append(parsed["AutomationExecutionId"]),
    )
    output = io.StringIO()
    started = time.time()
    with contextlib.redirect_stdout(output):
        code = main(["deploy", "--revision", revision, "--root", str(fleet.repo_root())])
    exited = time.time()
    if code != 0 or not started_ids:
        raise RuntimeError(f"the deploy of {revision} exited {code}:\n{output.getvalue()[-3000:]}")
    ssm = fleet.client("ssm", fleet.env(state_dir)["AWS_ENDPOINT_URL"])
    return DeployRun(fetch(ssm, started_ids[0]), started, exited, len(names))


def measure(state_dir: Path, revisions: list[str]) -> dict[str, Summary]:
    """Deploy each revision in turn; the figures are medians over the deploys."""
    runs = [deploy(state_dir, revision) for revision in revisions]
    return figures(runs)


def figures(runs: list[DeployRun]) -> dict[str, Summary]:
    """The rehearsal and trigger figures of these deploys."""
    return {
        "runbook.steps_per_batch": summarize([r.steps_per_batch for r in runs], 2),
        "rehearsal.deploy_s": summarize([r.deploy_s for r in runs], 2),
        "rehearsal.critical_path_s": summarize([r.critical_path_s for r in runs], 2),
        "rehearsal.overhead_ratio": summarize([r.deploy_s / r.critical_path_s for r in runs], 3),
        "trigger.detect_latency_s": summarize([r.detect_latency_s for r in runs], 2),
        "trigger.calls_per_min": summarize([r.calls_per_min for r in runs], 1),
    }
