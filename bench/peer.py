"""peer.*: the same rollout as an Ansible playbook (local connection) on the same rehearsal hosts."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

from bench.stats import Summary, summarize
from releaseflow.config import load_environment
from releaseflow.rehearsal import fleet, shell_runner
from releaseflow.rehearsal.agent import DEFAULT_WORKING_DIRECTORY, Host
from releaseflow.rehearsal.command_document import plan_plugins, resolve_parameters
from releaseflow.rehearsal.fleet import repo_root
from releaseflow.rehearsal.fleet_record import FleetRecord
from releaseflow.rehearsal.provision import APP_DIR

# As the runbook: prepare (fetch, install beside the served tree), then switch.
MIGRATION_HOST_DOCUMENTS = (
    "PrepareRevision",
    "CheckoutRevision",
    "Migrate",
    "RestartServices",
    "HealthCheck",
)
OTHER_HOST_DOCUMENTS = ("PrepareRevision", "CheckoutRevision", "RestartServices", "HealthCheck")


def measure(state_dir: Path, revisions: list[str]) -> dict[str, Summary]:
    """Roll out each revision in turn with ansible-playbook; seconds per rollout, start to exit."""
    seconds = []
    for number, revision in enumerate(revisions, 1):
        with tempfile.TemporaryDirectory(prefix="rf-bench-ansible-") as work:
            playbook, inventory = write_rollout(state_dir, revision, f"ansible-bench-{number}", Path(work))
            started = time.perf_counter()
            _run_playbook(playbook, inventory)
            seconds.append(time.perf_counter() - started)
    return {"peer.ansible_s": summarize(seconds, 2)}


def write_rollout(state_dir: Path, revision: str, execution_id: str, work: Path) -> tuple[Path, Path]:
    """The playbook, its inventory and one wrapper per host and document; (playbook, inventory)."""
    record = FleetRecord.load(state_dir)
    hosts = sorted(record.hosts, key=lambda h: h.instance_id)
    # The runbook parameters the rehearsal's deploys use (its app user, ...), as the runbook passes them on.
    configured = load_environment(state_dir / "releaseflow.yaml", "local").parameters
    parameters = {**configured, "Revision": [revision], "ExecutionId": [execution_id]}
    for host in hosts:
        root = host.root
        agent_host = Host(
            instance_id=host.instance_id,
            root=root,
            binds=((str(root / "app"), APP_DIR),),
            path_prefix=str(root / "bin"),
        )
        for name in MIGRATION_HOST_DOCUMENTS:
            _write_wrapper(work / host.instance_id, name, agent_host, parameters, execution_id)
    # The migration host is the lowest instance id, as the runbook picks it on an untagged fleet.
    migration, others = hosts[0].instance_id, [h.instance_id for h in hosts[1:]]
    inventory = work / "inventory.yaml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                    "children": {
                        "migration": {"hosts": {migration: {}}},
                        "others": {"hosts": {name: {} for name in others}},
                    },
                }
            }
        )
    )
    lb = record.lb.target_group_arn
    # Like the runbook, each of the other hosts leaves the load balancer while it updates; an Ansible
    # playbook without the community.aws collection does that with the AWS CLI and `until` loops.
    out_of_service = [
        _target_group_task("deregister", "deregister-targets", lb),
        _target_group_task("wait drained", "describe-target-health", lb, until="unused"),
    ]
    back_in_service = [
        _target_group_task("register", "register-targets", lb),
        _target_group_task("wait healthy", "describe-target-health", lb, until="healthy"),
    ]
    playbook = work / "rollout.yaml"
    playbook.write_text(
        json.dumps(
            [
                _play(
                    "migrate once on the migration host",
                    "migration",
                    _commands(MIGRATION_HOST_DOCUMENTS, work),
                ),
                {
                    **_play(
                        "then one host at a time",
                        "others",
                        out_of_service + _commands(OTHER_HOST_DOCUMENTS, work) + back_in_service,
                    ),
                    "serial": 1,
                    "environment": fleet.env(state_dir),
                },
            ]
        )
    )
    return playbook, inventory


def _play(name: str, group: str, tasks: list[dict]) -> dict:
    return {"name": name, "hosts": group, "gather_facts": False, "tasks": tasks}


def _commands(documents: tuple[str, ...], work: Path) -> list[dict]:
    return [
        {"name": document, "command": f"{work}/{{{{ inventory_hostname }}}}/{document}.sh"}
        for document in documents
    ]


def _target_group_task(name: str, api: str, target_group_arn: str, until: str = "") -> dict:
    aws = str(Path(sys.executable).parent / "aws")
    argv = [
        aws,
        "elbv2",
        api,
        "--target-group-arn",
        target_group_arn,
        "--targets",
        "Id={{ inventory_hostname }}",
    ]
    if not until:
        return {"name": name, "command": {"argv": argv}}
    argv += ["--query", "TargetHealthDescriptions[0].TargetHealth.State", "--output", "text"]
    return {
        "name": name,
        "command": {"argv": argv},
        "register": "target",
        "until": f"target.stdout == '{until}'",
        "retries": 900,
        "delay": 1,
    }


def _write_wrapper(folder: Path, name: str, host: Host, parameters: dict, execution_id: str) -> None:
    """A shell wrapper running the document's scripts as the agent does: same env, namespace, mounts."""
    content = YAML(typ="safe").load((repo_root() / "documents" / f"releaseflow-{name}.yaml").read_text())
    given = {key: values for key, values in parameters.items() if key in content.get("parameters", {})}
    lines = ["#!/bin/sh"]
    for plugin in plan_plugins(content, resolve_parameters(content, given)):
        commands = plugin.inputs["runCommand"]
        script = folder / f"{name}-{plugin.name}.sh"
        shell_runner.write_script(script, commands if isinstance(commands, list) else commands.splitlines())
        environment = host.environment(execution_id, plugin.environment)
        ((source, target),) = host.binds
        inside = (
            f"mkdir -p {shlex.quote(target)} && mount --bind {shlex.quote(source)} {shlex.quote(target)}"
            f" && cd {DEFAULT_WORKING_DIRECTORY} && exec sh -c {shlex.quote(str(script))}"
        )
        assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in environment.items())
        namespace = f"unshare --mount --propagation private sh -c {shlex.quote(inside)}"
        lines.append(f"env -i {assignments} {namespace} || exit $?")
    wrapper = folder / f"{name}.sh"
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o700)


def _run_playbook(playbook: Path, inventory: Path) -> None:
    environment = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "LANG": "C.UTF-8",
    }
    playbook_command = Path(sys.executable).parent / "ansible-playbook"
    result = subprocess.run(
        [str(playbook_command), "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed ({result.returncode}):\n{result.stdout[-3000:]}")
