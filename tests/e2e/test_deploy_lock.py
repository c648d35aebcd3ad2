"""The deploy lock end to end: `releaseflow deploy` as a subprocess, and the trigger's own lock calls,
against the published runbooks on the rehearsal endpoint with scripted agents instead of Rails hosts
(tests/support/scripted_agents.py).

What these tests prove is the lock's, not Rails': a deploy refused (exit 5) naming the execution that
holds the fleet, a deploy or a releaseflow-RollbackFleet; --wait-lock waiting for it; two deploys never
working on the fleet at the same time; claim keeping only the older of two starts. The agents hold the
holder's commands until the test has seen the other side of the lock, so each overlap is made, not
hoped for. Two deploys at once on real hosts, with the deploy's security properties, and the injection
refusals stay on a Rails fleet (test_failures_input.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releaseflow.config import load_environment
from releaseflow.deploy import LockHeld, claim, lock_holders, start_request
from releaseflow.deploy import start as start_execution
from scenarios import (
    READINGS_VARIABLE,
    RELEASEFLOW,
    assert_depends_on_no_reading,
    execution_id,
    execution_windows,
    executions,
    wait_until,
)
from scripted_agents import (
    ENDPOINT_OFFLINE_AFTER,  # noqa: F401 (the endpoint_server fixture reads the module's threshold)
    ROLE,
    ROOT,
    Agents,
    launch,
    wait_online,
)

pytestmark = pytest.mark.rehearsal
# The open readings the endpoint plays: those of the scenario fleets (RELEASEFLOW_AWS_READINGS, else the
# strict ones, which hurt; `make test-default` runs this module again under default).
ENDPOINT_READINGS = os.environ.get(READINGS_VARIABLE) or "strict"

REVISIONS = ("1" * 40, "2" * 40)
# Each command runs this long on its scripted agent: a deploy's commands take time, as on a host.
COMMAND_SECONDS = 0.5
CHECKOUT = "releaseflow-CheckoutRevision"


@pytest.fixture(scope="module", autouse=True)
def _depends_on_no_reading(published):
    """After the module, as after a scenario fleet's: the lock's proofs met no open reading that the
    proven settings play differently (scenarios.assert_depends_on_no_reading)."""
    yield
    assert_depends_on_no_reading(published.url)


@dataclass(frozen=True)
class LockFleet:
    """Two scripted hosts tagged with a fleet of their own, and the environment that points
    `releaseflow deploy` at them (configuration environment `lock`)."""

    name: str
    hosts: list[str]
    agents: Agents
    config: Path
    environment: dict[str, str]
    folder: Path
    # Every trigger started on the fleet: one still running when the test ends is killed.
    triggers: list[_Trigger] = field(default_factory=list)


@contextmanager
def _fleet(endpoint, folder: Path, hold) -> Iterator[LockFleet]:
    """A LockFleet whose agents hold the commands `hold(document, instance)` names until released."""
    name = f"lock-{uuid.uuid4().hex[:6]}"
    hosts = sorted(launch(endpoint, 2, name))
    config = folder / "releaseflow.yaml"
    parameters = {"FleetTagValue": name, "AutomationAssumeRole": ROLE}
    environments = {
        "lock": {"region": "us-east-1", "runbook": "releaseflow-Deploy", "parameters": parameters}
    }
    # JSON is YAML: the file `releaseflow deploy` reads.
    config.write_text(json.dumps({"environments": environments}))
    agents = Agents(endpoint, hosts, delay=lambda document, instance: COMMAND_SECONDS, hold=hold)
    environment = {
        **endpoint.environment(),
        "AWS_REGION": "us-east-1",
        "RELEASEFLOW_CONFIG": str(config),
        "RELEASEFLOW_ENVIRONMENT": "lock",
    }
    running = LockFleet(name, hosts, agents, config, environment, folder)
    try:
        wait_online(endpoint, hosts)
        yield running
    finally:
        for trigger in running.triggers:
            if trigger.process.poll() is None:
                trigger.process.kill()
                trigger.process.wait()
        agents.stop()


class _Trigger:
    """`releaseflow deploy ARGS` on the fleet as a subprocess; its stdout and stderr go to files, which the
    test can read while it runs (the trigger flushes each line)."""

    def __init__(self, fleet: LockFleet, *args: str):
        self.out = fleet.folder / f"deploy-{uuid.uuid4().hex[:8]}"
        with (
            self.out.with_suffix(".out").open("w") as stdout,
            self.out.with_suffix(".err").open("w") as stderr,
        ):
            self.process = subprocess.Popen(
                [RELEASEFLOW, "deploy", *args, "--root", str(ROOT)],
                env=fleet.environment,
                cwd=ROOT,
                stdout=stdout,
                stderr=stderr,
                text=True,
            )
        fleet.triggers.append(self)

    def stdout(self) -> str:
        return self.out.with_suffix(".out").read_text()

    def wait(self, timeout: float = 300) -> subprocess.CompletedProcess:
        self.process.wait(timeout=timeout)
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode,
            self.stdout(),
            self.out.with_suffix(".err").read_text(),
        )


def _ids(ssm) -> set[str]:
    return {row["AutomationExecutionId"] for row in executions(ssm)}


def _spans(fleet: LockFleet, commands) -> list[list[float]]:
    """When each command of `commands` ((start, end, CommandId) of execution_windows) ran on its agents."""
    ids = {command_id for _, _, command_id in commands}
    with fleet.agents.lock:
        return [span for (command_id, _), span in fleet.agents.spans.items() if command_id in ids]


def _checkouts(fleet: LockFleet, host: str) -> tuple[str, ...]:
    """The revisions releaseflow-CheckoutRevision switched `host` to, in order: where the host ends."""
    with fleet.agents.lock:
        return tuple(
            parameters["Revision"][0]
            for name, on, parameters in fleet.agents.ran
            if (name, on) == (CHECKOUT, host)
        )


def test_two_deploys_at_once_with_wait_lock_run_one_after_the_other_and_one_without_is_refused(
    published, tmp_path
):
    """Two triggers with --wait-lock started together: one takes the fleet, the other waits for it, naming
    it. Meanwhile a third trigger without --wait-lock exits 5 naming the holder and starts nothing. Both
    waiting triggers succeed, one after the other: execution windows and command times never overlap,
    and every host ends on the later one's revision."""
    ssm = published.client("ssm")
    with _fleet(published, tmp_path, hold=lambda document, instance: True) as fleet:
        already = _ids(ssm)
        racers = [_Trigger(fleet, "--revision", revision, "--wait-lock") for revision in REVISIONS]
        wait_until(
            lambda: any("waiting for execution " in racer.stdout() for racer in racers),
            120,
            "one of the two triggers waits for the other's deploy",
        )
        # The holder's commands are held: it runs on until released, and the other trigger waits.
        waiting = next(racer for racer in racers if "waiting for execution " in racer.stdout())
        holder = waiting.stdout().split("waiting for execution ", 1)[1].split()[0]
        before = _ids(ssm)
        refused = _Trigger(fleet, "--revision", REVISIONS[0]).wait()
        assert refused.returncode == 5, refused.stdout + refused.stderr
        assert (
            f"execution {holder} of releaseflow-Deploy is still running on fleet {fleet.name}"
            in refused.stderr
        )
        assert _ids(ssm) == before  # the refused trigger started nothing
        fleet.agents.release()
        results = [racer.wait() for racer in racers]
        assert [result.returncode for result in results] == [0, 0], results
        finished = [
            row
            for row in executions(ssm)
            if row["AutomationExecutionId"] not in already and row["AutomationExecutionStatus"] == "Success"
        ]
        assert len(finished) == 2
        windows = [execution_windows(ssm, row["AutomationExecutionId"]) for row in finished]
        (first, first_commands), (second, second_commands) = sorted(
            windows, key=lambda w: w[0]["ExecutionStartTime"]
        )
        assert first["AutomationExecutionId"] == holder
        assert (
            f"waiting for execution {holder} of releaseflow-Deploy on fleet {fleet.name}" in waiting.stdout()
        )
        assert first["ExecutionEndTime"] <= second["ExecutionStartTime"]
        for execution, commands in ((first, first_commands), (second, second_commands)):
            assert commands
            for began, ended, _ in commands:
                assert execution["ExecutionStartTime"] <= began <= ended <= execution["ExecutionEndTime"]
        # On the hosts too: every command of the first had ended before any of the second began.
        assert max(ended for _, ended in _spans(fleet, first_commands)) <= min(
            began for began, _ in _spans(fleet, second_commands)
        )
        last = second["Parameters"]["Revision"][0]
        assert {host: _checkouts(fleet, host)[-1] for host in fleet.hosts} == dict.fromkeys(fleet.hosts, last)


def test_starts_that_both_found_the_fleet_free_keep_only_the_older(published, tmp_path):
    """Two starts past the lock check at once: claim stops the younger before it reaches a host; the older deploys."""
    ssm = published.client("ssm")
    # The older's commands are held until both claims have run: it is surely still running for the second.
    with _fleet(published, tmp_path, hold=lambda document, instance: True) as fleet:
        environment = load_environment(fleet.config, "lock")
        requests = [start_request(environment, REVISIONS[0], {}, {}) for _ in range(2)]
        assert lock_holders(ssm, requests[0]) == []
        older, younger = (start_execution(ssm, request) for request in requests)
        claim(ssm, requests[0], older)
        with pytest.raises(LockHeld, match=f"execution {older} of"):
            claim(ssm, requests[1], younger)
        fleet.agents.release()
        wait_until(lambda: not lock_holders(ssm, requests[0]), 240, "no execution holds the fleet")
        status = {
            execution: ssm.get_automation_execution(AutomationExecutionId=execution)["AutomationExecution"][
                "AutomationExecutionStatus"
            ]
            for execution in (older, younger)
        }
        # Two guards race for the younger one: claim's StopAutomationExecution (Cancelled) and the runbook's
        # own Lock step (Failed, naming the older). Either may end it first; neither lets it reach a host.
        assert status[older] == "Success"
        assert status[younger] in ("Cancelled", "Failed"), status
        execution, commands = execution_windows(ssm, younger)
        if status[younger] == "Failed":
            assert f"execution {older} of releaseflow-Deploy" in execution["FailureMessage"], execution[
                "FailureMessage"
            ]
        assert commands == []
        # Every command an agent ran was the older's, and it switched each host once, to its revision.
        _, older_commands = execution_windows(ssm, older)
        with fleet.agents.lock:
            ran = {command_id for command_id, _ in fleet.agents.spans}
        assert ran == {command_id for _, _, command_id in older_commands}
        assert {host: _checkouts(fleet, host) for host in fleet.hosts} == dict.fromkeys(
            fleet.hosts, (REVISIONS[0],)
        )


def test_a_deploy_while_a_fleet_rollback_runs_exits_5_or_waits_for_it_with_wait_lock(published, tmp_path):
    """A releaseflow-RollbackFleet working on the fleet holds it as a deploy does: `releaseflow deploy`
    exits 5 naming it and starts nothing; with --wait-lock it starts once the rollback has ended."""
    ssm = published.client("ssm")
    revision = REVISIONS[1]
    # The rollback's commands are held until the waiting trigger has said whom it waits for.
    with _fleet(
        published, tmp_path, hold=lambda document, instance: document == "releaseflow-Rollback"
    ) as fleet:
        first = _Trigger(fleet, "--revision", revision).wait()
        assert first.returncode == 0, first.stdout + first.stderr
        deployed = execution_id(first.stdout)
        parameters = ssm.get_automation_execution(AutomationExecutionId=deployed)["AutomationExecution"][
            "Parameters"
        ]
        # An operator rolls that deploy back from the console: only ExecutionId and the role.
        rollback = ssm.start_automation_execution(
            DocumentName="releaseflow-RollbackFleet",
            Parameters={
                "ExecutionId": [deployed],
                "AutomationAssumeRole": parameters["AutomationAssumeRole"],
            },
        )["AutomationExecutionId"]
        before = _ids(ssm)
        refused = _Trigger(fleet, "--revision", revision).wait()
        assert refused.returncode == 5, refused.stdout + refused.stderr
        assert (
            f"execution {rollback} of releaseflow-RollbackFleet is still running on fleet {fleet.name}"
            in refused.stderr
        )
        assert _ids(ssm) == before  # nothing was started
        waiting = _Trigger(fleet, "--revision", revision, "--wait-lock")
        waits = f"waiting for execution {rollback} of releaseflow-RollbackFleet on fleet {fleet.name}"
        wait_until(lambda: waits in waiting.stdout(), 120, "the trigger waits for the rollback")
        fleet.agents.release()
        waited = waiting.wait()
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert waits in waited.stdout
        ended, rollback_commands = execution_windows(ssm, rollback)
        started, started_commands = execution_windows(ssm, execution_id(waited.stdout))
        assert ended["AutomationExecutionStatus"] == "Success", ended.get("FailureMessage")
        assert ended["ExecutionEndTime"] <= started["ExecutionStartTime"]
        # On the hosts: the rollback reverted both, and had ended there before the waiting deploy's first
        # command, which switched every host to the revision again.
        assert sorted(fleet.agents.sent("releaseflow-Rollback")) == fleet.hosts
        assert max(ended for _, ended in _spans(fleet, rollback_commands)) <= min(
            began for began, _ in _spans(fleet, started_commands)
        )
        assert {host: _checkouts(fleet, host) for host in fleet.hosts} == dict.fromkeys(
            fleet.hosts, (revision, revision)
        )
