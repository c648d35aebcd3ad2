"""Each runbook's runCommand step timeout is what the catalogue's bounds make it.

A step waits the delivery timeout (TimeoutSeconds) plus the longest the command can run: the most the
executionTimeout it passes can be, or the document's own fixed bound. automation-src/ writes these as
numbers (SSM reads a number there, not an expression), and read_deploy.py copies the deploy's maxima
for deploys that predate a parameter; both are computed here from parameters.yaml and compared, so a
bound changed in the catalogue fails here until the steps and the scripts follow.
"""

from __future__ import annotations

import re

import pytest

from devtools.parameters import declaration, load_catalogue
from devtools.runbooks import ROOT, TARGET
from releaseflow.documents import load_document
from releaseflow.runbook_scripts import plan_rollout, read_deploy, shared

CATALOGUE = load_catalogue()
RUNBOOKS = {path.stem: load_document(path).content for path in sorted(TARGET.glob("*.yaml"))}


def most(name: str, document: str) -> int:
    """The largest number the parameter's pattern accepts where `document` declares it (up to 9999)."""
    pattern = declaration(CATALOGUE[name], document)["allowedPattern"]
    return max(n for n in range(1, 10000) if re.fullmatch(pattern, str(n)))


def fixed_bound(document: str) -> int:
    """A Command document's one step's timeoutSeconds, when it is a number and not its executionTimeout."""
    (step,) = load_document(ROOT / "documents" / f"{document}.yaml").content["mainSteps"]
    return int(step["inputs"]["timeoutSeconds"])


def longest_health_check() -> int:
    """The deploy's longest health check: every try at its most, as PlanRollout bounds it (its preflight
    refuses retries and timeouts that would need more than MAX_HEALTH_SECONDS)."""
    retries = most("HealthCheckRetries", "releaseflow-Deploy")
    each = most("HealthCheckTimeoutSeconds", "releaseflow-Deploy")
    return min(plan_rollout.MAX_HEALTH_SECONDS, shared.longest_health_check(retries, each))


def command_bound(runbook: str, step: dict) -> int:
    """The longest the step's command may run on a host."""
    passed = step["inputs"].get("Parameters", {}).get("executionTimeout")
    if passed is None:
        return fixed_bound(step["inputs"]["DocumentName"])
    source = passed.strip("{} ")
    if source == "PlanRollout.HealthCheckSeconds":
        return longest_health_check()
    if source == "ReadDeploy.RollbackSeconds":
        # At most the deploy's switch and restart bounds together; the step waits for the most the
        # Rollback document itself accepts, which holds them (checked below).
        return most("executionTimeout", "releaseflow-Rollback")
    return most(source, runbook)


def run_commands(content: dict) -> list[dict]:
    steps = []
    for step in content["mainSteps"]:
        steps += [step, *step.get("inputs", {}).get("Steps", [])]
    return [step for step in steps if step["action"] == "aws:runCommand"]


STEPS = [(runbook, step) for runbook, content in RUNBOOKS.items() for step in run_commands(content)]


@pytest.mark.parametrize(("runbook", "step"), STEPS, ids=[f"{r}-{s['name']}" for r, s in STEPS])
def test_a_run_command_step_waits_the_delivery_timeout_plus_its_commands_longest_run(runbook, step):
    """timeoutSeconds = TimeoutSeconds + the most the command's bound can be, from the catalogue."""
    expected = int(step["inputs"]["TimeoutSeconds"]) + command_bound(runbook, step)
    assert int(step["timeoutSeconds"]) == expected, step["name"]


def test_the_runbooks_have_the_run_command_steps_this_computes():
    """Every host command the runbooks send is covered above (a new one would need its bound here)."""
    assert sorted((runbook, step["name"]) for runbook, step in STEPS) == [
        ("releaseflow-Deploy", "HealthCheckBatch"),
        ("releaseflow-Deploy", "MigrateOnMigrationHost"),
        ("releaseflow-Deploy", "PrepareChunk"),
        ("releaseflow-Deploy", "RestartBatch"),
        ("releaseflow-Deploy", "SwitchBatch"),
        ("releaseflow-RollbackFleet", "HealthCheckBatch"),
        ("releaseflow-RollbackFleet", "RollBackBatch"),
    ]


def test_read_deploys_maxima_are_the_catalogues():
    """ReadDeploy's bounds for a deploy that lacks a parameter are the Deploy runbook's maxima."""
    for name, bound in {**read_deploy.ROLLBACK_BOUNDS, **read_deploy.HEALTH_CHECK_BOUNDS}.items():
        assert bound == most(name, "releaseflow-Deploy"), name
    assert sum(read_deploy.ROLLBACK_BOUNDS.values()) <= most("executionTimeout", "releaseflow-Rollback")


def test_the_health_checks_delay_is_the_documents_default():
    """The runbooks leave HealthCheckDelaySeconds at its default, the delay the bound counts between tries."""
    default = declaration(CATALOGUE["HealthCheckDelaySeconds"], "releaseflow-HealthCheck")["default"]
    assert int(default) == shared.HEALTH_DELAY_SECONDS
