"""engine.*: the runbook engine's own cost per step and per host, on light hosts at two fleet sizes."""

from __future__ import annotations

import json
import time

from bench.critical_path import command_steps, critical_path_seconds
from bench.fleets import LightFleet
from bench.stats import Summary, summarize
from releaseflow.follow import fetch

COMMAND = "releaseflow-bench-Trivial"
RUNBOOK = "releaseflow-bench-Steps"
TRIVIAL = {
    "schemaVersion": "2.2",
    "description": "Does nothing: the benchmark's light host command.",
    "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}],
}
_RUN = {"action": "aws:runCommand", "inputs": {"DocumentName": COMMAND, "InstanceIds": "{{ InstanceIds }}"}}
# A few command steps over every host, three of them in a loop: the shapes the release runbook uses.
STEPS_RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "Benchmark: command steps over all hosts and a loop.",
    "parameters": {"InstanceIds": {"type": "StringList"}},
    "mainSteps": [
        {"name": "First", **_RUN},
        {
            "name": "Repeat",
            "action": "aws:loop",
            "inputs": {"Iterators": ["1", "2", "3"], "Steps": [{"name": "Again", **_RUN}]},
        },
        {"name": "Last", **_RUN, "isEnd": True},
    ],
}
TIMEOUT = 300


def install(ssm) -> None:
    """Create the trivial command and the steps runbook on the endpoint."""
    ssm.create_document(Name=COMMAND, Content=json.dumps(TRIVIAL), DocumentType="Command")
    ssm.create_document(Name=RUNBOOK, Content=json.dumps(STEPS_RUNBOOK), DocumentType="Automation")


def run_once(light: LightFleet) -> tuple[float, float]:
    """One execution of the steps runbook: (overhead ms per command step, per step and host)."""
    ssm = light.client("ssm")
    execution_id = ssm.start_automation_execution(
        DocumentName=RUNBOOK, Parameters={"InstanceIds": list(light.instance_ids)}
    )["AutomationExecutionId"]
    deadline = time.monotonic() + TIMEOUT
    while True:
        snapshot = fetch(ssm, execution_id)
        if snapshot.finished:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_id} did not end within {TIMEOUT} s")
        time.sleep(0.5)
    if not snapshot.succeeded:
        raise RuntimeError(f"{execution_id} ended {snapshot.status}: {snapshot.failure}")
    overhead = (snapshot.end - snapshot.start).total_seconds() - critical_path_seconds(
        snapshot.steps, snapshot.invocations, {}
    )
    steps = command_steps(snapshot.steps)
    return overhead * 1000 / steps, overhead * 1000 / steps / len(light.instance_ids)


def measure(light: LightFleet, runs: int = 3) -> dict[str, Summary]:
    """Overhead per step and per host-step at this fleet size, keyed by the size."""
    install(light.client("ssm"))
    results = [run_once(light) for _ in range(runs)]
    size = len(light.instance_ids)
    return {
        f"engine.step_overhead_ms.{size}": summarize([r[0] for r in results], 1),
        f"engine.host_overhead_ms.{size}": summarize([r[1] for r in results], 2),
    }


def growth(figures: dict, small: int, large: int) -> float:
    """How much the per-step overhead grows from the small to the large fleet (1 = flat)."""
    return round(
        figures[f"engine.step_overhead_ms.{large}"].median
        / figures[f"engine.step_overhead_ms.{small}"].median,
        2,
    )
