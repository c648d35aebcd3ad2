"""Issue 18: the host agent restarted mid-command, against the real endpoint process.

The SSM agent keeps a state file per document in document/state/current and, started again, takes every
one up (processor.go processInProgressDocuments, at most CommandRetryLimit 15 times); the document
worker it left running survives the restart (outofproc: its own process group, the unit's
KillMode=process) and the new agent waits for it (master.go `initialize`: "found orphan process"). A
restart here is what the harness does to a host's agent (tests/support/scenarios.py kill_agent): SIGKILL,
then a new agent process on the same host root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

from releaseflow.rehearsal.host import power
from releaseflow.rehearsal.host.agent import COMMAND_RETRY_LIMIT

DEADLINE = 30


def _document(endpoint, steps: list[tuple[str, list[str]]]) -> str:
    name = f"restart-{uuid.uuid4().hex[:10]}"
    content = {
        "schemaVersion": "2.2",
        "mainSteps": [
            {"action": "aws:runShellScript", "name": step, "inputs": {"runCommand": lines}}
            for step, lines in steps
        ],
    }
    endpoint.client("ssm").create_document(
        Name=name, Content=yaml.safe_dump(content), DocumentType="Command", DocumentFormat="YAML"
    )
    return name


def _instance(endpoint) -> str:
    reservation = endpoint.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    return reservation["Instances"][0]["InstanceId"]


def _start_agent(endpoint, instance_id: str, root: Path) -> subprocess.Popen:
    """A new agent process for the host (logging to ROOT/../agent-N.log), once it polls and SSM lists it."""
    root.mkdir(exist_ok=True)
    log_path = root.parent / f"agent-{len(list(root.parent.glob('agent-*.log')))}.log"
    with log_path.open("w") as log:
        agent = subprocess.Popen(
            [
                *(sys.executable, "-m", "releaseflow.rehearsal.host.agent", "--endpoint", endpoint.url),
                *("--instance-id", instance_id, "--host-root", str(root), "--poll-wait", "2"),
            ],
            stderr=log,
            start_new_session=True,  # as `local up` starts it (provision.start_agent)
        )
    _wait(lambda: "polling" in log_path.read_text(), root)
    _wait(
        lambda: endpoint.client("ssm").describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
        )["InstanceInformationList"],
        root,
    )
    return agent


def _wait(condition, root: Path, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "\n".join(
            p.read_text() for p in sorted(root.parent.glob("agent-*.log"))
        )
        time.sleep(0.1)
    return value


def _kill(agent: subprocess.Popen) -> None:
    """What the harness's kill_agent does: SIGKILL the agent process alone."""
    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=10)


def _stop(agent: subprocess.Popen) -> None:
    agent.terminate()
    assert agent.wait(timeout=10) == 0


def _invocation(endpoint, command_id: str, instance_id: str, step: str | None = None) -> dict:
    extra = {"PluginName": step} if step else {}
    return endpoint.client("ssm").get_command_invocation(
        CommandId=command_id, InstanceId=instance_id, **extra
    )


def _ended(endpoint, command_id: str, instance_id: str, root: Path) -> dict:
    """The invocation (ListCommandInvocations, with its plugins) once it has ended."""

    def row():
        [invocation] = endpoint.client("ssm").list_command_invocations(
            CommandId=command_id, InstanceId=instance_id, Details=True
        )["CommandInvocations"]
        return invocation["Status"] not in ("Pending", "InProgress") and invocation

    return _wait(row, root)


def _taken_up(endpoint, command_id: str, instance_id: str, root: Path, *steps: str | None) -> list[dict]:
    """Start an agent for the host, wait for it to end the command, then stop it: the whole invocation
    (ListCommandInvocations' row), then GetCommandInvocation for each of `steps` (None: the command's)."""
    agent = _start_agent(endpoint, instance_id, root)
    try:
        whole = _ended(endpoint, command_id, instance_id, root)
        return [whole, *(_invocation(endpoint, command_id, instance_id, step) for step in steps)]
    finally:
        _stop(agent)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _state(root: Path, instance_id: str, folder: str) -> Path:
    return root / "var/lib/amazon/ssm" / instance_id / "document/state" / folder


def _send(endpoint, name: str, instance_id: str) -> str:
    return endpoint.client("ssm").send_command(DocumentName=name, InstanceIds=[instance_id])["Command"][
        "CommandId"
    ]


def test_a_script_outlives_an_agent_restart_and_the_new_agent_reports_it(endpoint_server, tmp_path):
    """Killed mid-script, the agent leaves the script running (its worker holds the output, so nothing
    dies of a broken pipe); the new agent waits for that run and reports it: Success, run once."""
    instance_id, root, counter = _instance(endpoint_server), tmp_path / "host", tmp_path / "runs"
    name = _document(
        endpoint_server, [("Slow", [f"echo run >> {counter}", "sleep 3", "echo after the restart"])]
    )
    agent = _start_agent(endpoint_server, instance_id, root)
    command_id = _send(endpoint_server, name, instance_id)
    _wait(lambda: _lines(counter), root)
    _kill(agent)
    _, result = _taken_up(endpoint_server, command_id, instance_id, root, None)

    assert (result["Status"], result["ResponseCode"]) == ("Success", 0), result
    # The output written after the old agent died reached the report.
    assert result["StandardOutputContent"] == "after the restart\n"
    # The reading the source gives: the old run was taken up, not started again beside itself.
    assert _lines(counter) == ["run"]
    assert [p.name for p in _state(root, instance_id, "completed").iterdir()] == [command_id]
    assert not list(_state(root, instance_id, "current").iterdir())


def test_a_step_that_ended_before_the_restart_keeps_its_result_and_is_not_run_again(
    endpoint_server, tmp_path
):
    """RunPlugins skips a plugin that already ended: the first step ran once, its output is the old run's."""
    instance_id, root = _instance(endpoint_server), tmp_path / "host"
    first, second = tmp_path / "first", tmp_path / "second"
    name = _document(
        endpoint_server,
        [("First", [f"echo run >> {first}", "echo first"]), ("Second", [f"echo run >> {second}", "sleep 3"])],
    )
    agent = _start_agent(endpoint_server, instance_id, root)
    command_id = _send(endpoint_server, name, instance_id)
    _wait(lambda: _lines(second), root)
    _kill(agent)
    _, result, first_result = _taken_up(endpoint_server, command_id, instance_id, root, "Second", "First")

    assert result["Status"] == "Success", result
    assert (first_result["Status"], first_result["StandardOutputContent"]) == ("Success", "first\n")
    assert (_lines(first), _lines(second)) == (["run"], ["run"])


def test_a_step_whose_worker_died_with_the_agent_fails_and_later_steps_still_run(endpoint_server, tmp_path):
    """An agent that comes back to an in-progress step whose worker is gone (killed with it, as when the
    host goes down) fails the step as outofproc reports a lost worker; a later step runs as usual."""
    instance_id, root, counter = _instance(endpoint_server), tmp_path / "host", tmp_path / "runs"
    name = _document(
        endpoint_server, [("Slow", [f"echo run >> {counter}", "sleep 300"]), ("Next", ["echo next"])]
    )
    agent = _start_agent(endpoint_server, instance_id, root)
    command_id = _send(endpoint_server, name, instance_id)
    _wait(lambda: _lines(counter), root)
    state = json.loads((_state(root, instance_id, "current") / command_id).read_text())
    worker = state["plugins"][0]["worker"]["pid"]
    _kill(agent)
    script_group = os.getpgid(int(_children(worker)[0]))
    os.kill(worker, signal.SIGKILL)
    os.killpg(script_group, signal.SIGKILL)
    whole, result, following = _taken_up(endpoint_server, command_id, instance_id, root, "Slow", "Next")

    assert result["Status"] == "Failed", result
    assert "document process failed unexpectedly" in result["StandardErrorContent"]
    assert (following["Status"], following["StandardOutputContent"]) == ("Success", "next\n")
    assert whole["Status"] == "Failed"
    assert _lines(counter) == ["run"]


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def test_a_command_taken_up_more_than_the_retry_limit_is_moved_to_corrupt_and_failed(
    endpoint_server, tmp_path
):
    """processInProgressDocuments: RunCount at CommandRetryLimit (15) moves the document to `corrupt`
    instead of running it; the rehearsal reports it Failed (the SSM agent sends nothing, so AWS would
    end it at the command's timeouts)."""
    instance_id, root, counter = _instance(endpoint_server), tmp_path / "host", tmp_path / "runs"
    name = _document(endpoint_server, [("Slow", [f"echo run >> {counter}", "sleep 2"])])
    agent = _start_agent(endpoint_server, instance_id, root)
    command_id = _send(endpoint_server, name, instance_id)
    _wait(lambda: _lines(counter), root)
    _kill(agent)
    path = _state(root, instance_id, "current") / command_id
    state = json.loads(path.read_text())
    # Taken up 14 times already: one more restart is allowed.
    state["run_count"] = COMMAND_RETRY_LIMIT - 1
    path.write_text(json.dumps(state))
    agent = _start_agent(endpoint_server, instance_id, root)
    _wait(lambda: json.loads(path.read_text())["run_count"] == COMMAND_RETRY_LIMIT, root)
    _kill(agent)
    _, result = _taken_up(endpoint_server, command_id, instance_id, root, None)

    assert (result["Status"], result["ResponseCode"]) == ("Failed", 1), result
    assert "CommandRetryLimit 15" in result["StandardErrorContent"]
    assert [p.name for p in _state(root, instance_id, "corrupt").iterdir()] == [command_id]
    assert _lines(counter) == ["run"]


def test_stop_instances_kills_the_agent_its_workers_and_their_scripts_and_the_booted_agent_fails_it(
    endpoint_server, tmp_path
):
    """power_off (EC2 StopInstances) kills the agent, the plugin's worker and the script unreported; the
    agent of the booted host finds the step's worker gone and reports it Failed, as outofproc does."""
    instance_id, root, child = _instance(endpoint_server), tmp_path / "host", tmp_path / "child.pid"
    name = _document(endpoint_server, [("Slow", [f"sleep 300 & echo $! > {child}", "wait"])])
    agent = _start_agent(endpoint_server, instance_id, root)
    (root / "agent.pid").write_text(f"{agent.pid}\n")
    command_id = _send(endpoint_server, name, instance_id)
    _wait(lambda: child.exists() and child.read_text().strip(), root)
    state = json.loads((_state(root, instance_id, "current") / command_id).read_text())
    worker = state["plugins"][0]["worker"]["pid"]

    power.power_off(root)
    agent.wait(timeout=10)
    _wait(lambda: not _alive(int(child.read_text())) and not _alive(worker), root)
    assert _invocation(endpoint_server, command_id, instance_id)["Status"] == "InProgress"

    _, result = _taken_up(endpoint_server, command_id, instance_id, root, None)
    assert result["Status"] == "Failed", result
    assert "document process failed unexpectedly" in result["StandardErrorContent"]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
