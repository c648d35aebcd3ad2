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

from bench.stats import Summary, summarize
from releaseflow.config import MIGRATE_PARAMETER, load_environment
from releaseflow.documents import Document, load_document
from releaseflow.placeholders import Unresolved, interpolate
from releaseflow.rehearsal.command_document import plan_plugins, resolve_parameters
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from releaseflow.rehearsal.harness.provision import host_of
from releaseflow.rehearsal.host import shell_runner
from releaseflow.rehearsal.host.agent import Host
from releaseflow.rollout import DEPLOY_RUNBOOK, plan_rollout
from releaseflow.sources import resolve_root, runbook_file

# The runbook's host steps, in its order: PrepareHosts on every host, MigrateOnMigrationHost once,
# then per batch SwitchBatch, RestartBatch and HealthCheckBatch between DrainBatch and RegisterBatch.
PREPARE, MIGRATE = "PrepareRevision", "Migrate"
BATCH_DOCUMENTS = ("CheckoutRevision", "RestartServices", "HealthCheck")


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
    """The playbook, its inventory and one wrapper per host and document; (playbook, inventory).

    What the Deploy runbook does, in its order and with the parameters its runCommand steps pass: prepare
    every host, migrate once on the migration host, then batch by batch (the migration host alone, then
    the others by BatchSize, as the runbook's own PlanRollout script cuts them): drain, switch, restart,
    health check, back into service.
    """
    record = FleetRecord.load(state_dir)
    root = resolve_root()
    runbook = runbook_file(root, DEPLOY_RUNBOOK)
    deploy = load_document(runbook)
    # The runbook parameters the rehearsal's deploys use (its app user, ...), over the runbook's defaults.
    configured = load_environment(state_dir / "releaseflow.yaml", "local").parameters
    values = _runbook_values(deploy.content, {**configured, "Revision": [revision]})
    health_check = {name: str(values[name]) for name in ("HealthCheckRetries", "HealthCheckTimeoutSeconds")}
    plan = plan_rollout(
        record.instance_ids, batch_size=values["BatchSize"], runbook=runbook, health_check=health_check
    )
    # The one planning output a runCommand step passes on: the health check's bound.
    values["PlanRollout.HealthCheckSeconds"] = plan.health_check_seconds
    # The playbook waits for `unused` (the classic drain): no drain is left for the switch to end on the host.
    values["DrainBatch.DrainSeconds"] = "0"
    # The rehearsal's bench fleet is web hosts only: DrainBatch hands each batch the web role and Services.
    values["DrainBatch.Role"] = "web"
    values["DrainBatch.Services"] = values["Services"]
    step_parameters = _run_command_parameters(deploy, values, execution_id)
    batches = [[plan.migration_host], *(list(batch) for batch in plan.batches)]
    migrate = values.get(MIGRATE_PARAMETER) != "false"
    for host in record.hosts:
        for name in (PREPARE, MIGRATE, *BATCH_DOCUMENTS):
            document = root / "documents" / f"releaseflow-{name}.yaml"
            given = step_parameters[f"releaseflow-{name}"]
            _write_wrapper(work / host.instance_id, name, document, host_of(host.root), given, execution_id)
    inventory = work / "inventory.yaml"
    ordered = [host for batch in batches for host in batch]
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                    "children": {
                        "fleet": {"hosts": {name: {} for name in ordered}},
                        "migration": {"hosts": {plan.migration_host: {}}},
                    },
                }
            }
        )
    )
    lb = record.lb.target_group_arn
    # Like the runbook, each batch leaves the load balancer while it updates; an Ansible playbook without
    # the community.aws collection does that with the AWS CLI and `until` loops.
    out_of_service = [
        _target_group_task("deregister", "deregister-targets", lb),
        _target_group_task("wait drained", "describe-target-health", lb, until="unused"),
    ]
    back_in_service = [
        _target_group_task("register", "register-targets", lb),
        _target_group_task("wait healthy", "describe-target-health", lb, until="healthy"),
    ]
    plays = [_play("prepare every host while it serves", "fleet", _commands((PREPARE,), work))]
    if migrate:
        plays.append(_play("migrate once on the migration host", "migration", _commands((MIGRATE,), work)))
    plays.append(
        {
            **_play(
                "then batch by batch, the migration host first",
                "fleet",
                out_of_service + _commands(BATCH_DOCUMENTS, work) + back_in_service,
            ),
            # Ansible's serial list: the size of each batch in turn, the migration host's first.
            "serial": [len(batch) for batch in batches],
            "environment": fleet.env(state_dir),
        }
    )
    playbook = work / "rollout.yaml"
    playbook.write_text(json.dumps(plays))
    return playbook, inventory


def _runbook_values(runbook: dict, given: dict[str, list[str]]) -> dict[str, str | list[str]]:
    """The runbook's parameters as its steps see them: `given` (lists, as StartAutomationExecution takes
    them) over the defaults, a String as its one value, a StringList as a list."""
    values: dict[str, str | list[str]] = {}
    for name, spec in runbook["parameters"].items():
        value = given.get(name, spec.get("default"))
        if value is None:
            continue
        if spec.get("type") == "StringList":
            values[name] = list(value) if isinstance(value, list) else [value]
        else:
            values[name] = value[0] if isinstance(value, list) else str(value)
    return values


def _run_command_parameters(
    runbook: Document, values: dict[str, str | list[str]], execution_id: str
) -> dict[str, dict[str, list[str]]]:
    """Document name -> the Parameters its aws:runCommand step sends, placeholders filled as the runbook's."""

    def lookup(name: str):
        if name == "automation:EXECUTION_ID":
            return execution_id
        if name not in values:
            raise Unresolved(name)
        return values[name]

    sent = {}
    for _path, step in runbook.steps():
        inputs = step.get("inputs") or {}
        if step.get("action") == "aws:runCommand":
            parameters = interpolate(inputs.get("Parameters") or {}, lookup)
            sent[inputs["DocumentName"]] = {
                key: value if isinstance(value, list) else [value] for key, value in parameters.items()
            }
    return sent


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


def _write_wrapper(
    folder: Path, name: str, document: Path, host: Host, given: dict[str, list[str]], execution_id: str
) -> None:
    """A shell wrapper running the document's scripts as the agent does (Host.script_command: same
    environment, namespace, mounts, each within its timeoutSeconds), stopping at the first that fails."""
    content = load_document(document).content
    lines = ["#!/bin/sh"]
    for plugin in plan_plugins(content, resolve_parameters(content, given)):
        commands = plugin.inputs["runCommand"]
        script = folder / f"{name}-{plugin.name}.sh"
        shell_runner.write_script(script, commands if isinstance(commands, list) else commands.splitlines())
        # The agent kills a plugin past its timeoutSeconds (the executionTimeout): so does the peer.
        seconds = shell_runner.execution_timeout(plugin.inputs.get("timeoutSeconds"))
        command = host.script_command(plugin, script, execution_id)
        # timeout runs the command itself (a `( ... )` subshell cannot be its argument: sh refuses it).
        assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in command.environment.items())
        lines.append(
            f"cd {shlex.quote(command.cwd)} && timeout --signal=KILL {seconds} env -i {assignments} "
            f"{shlex.join(command.argv)} || exit $?"
        )
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
