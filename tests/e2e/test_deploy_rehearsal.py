"""`releaseflow deploy` as a subprocess against the rehearsal: failure report and SIGTERM. (The lock's
proofs run on scripted agents: test_deploy_lock.py.)"""

from __future__ import annotations

import os
import signal
import subprocess

import boto3
import pytest

from releaseflow.cli import main
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from scenarios import RELEASEFLOW, fleet_state_dir

pytestmark = pytest.mark.rehearsal


@pytest.fixture(scope="module")
def rehearsal():
    """Two hosts at revision 1; yields the environment that points releaseflow at them, and the revisions."""
    with fleet_state_dir("rf-trigger-") as state_dir:
        assert main(["local", "up", "--hosts", "2", "--state-dir", str(state_dir)]) == 0
        revisions = list(FleetRecord.load(state_dir).revisions)
        yield {**os.environ, **fleet.env(state_dir)}, revisions


def _deploy(environment, *args, **kwargs):
    return subprocess.run(
        [RELEASEFLOW, "deploy", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,
    )


def _ssm(environment):
    return boto3.client(
        "ssm",
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def test_failed_deploy_in_actions_names_host_and_step_and_writes_outputs(rehearsal, tmp_path):
    """A revision the hosts do not have fails: exit 1, ::error:: on the prepare step and host, outputs written."""
    environment, _ = rehearsal
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    github = {
        **environment,
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = _deploy(github, "--revision", "0" * 40)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    error = next(line for line in result.stdout.splitlines() if line.startswith("::error"))
    assert "step PrepareHosts[1].PrepareChunk on host i-" in error
    assert "is not a commit" in result.stdout
    assert "status=Failed\n" in output.read_text()
    assert "| migrate |" in summary.read_text()
    assert ":crit, " in summary.read_text()


def test_sigterm_stops_the_execution_and_exits_4(rehearsal):
    """SIGTERM to a following deploy stops its execution (Cancelled) and exits 4."""
    environment, revisions = rehearsal
    process = subprocess.Popen(
        [RELEASEFLOW, "deploy", "--revision", revisions[1]],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("step ") and "InProgress" in line:
            process.send_signal(signal.SIGTERM)
            break
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 4, "".join(lines) + out
    execution_id = "".join(lines).split("started execution ", 1)[1].split()[0]
    status = _ssm(environment).get_automation_execution(AutomationExecutionId=execution_id)
    assert status["AutomationExecution"]["AutomationExecutionStatus"] == "Cancelled"
