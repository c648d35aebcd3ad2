"""Scenarios 5 and 6 on a rehearsal fleet: injected input never runs; of two deploys at once one runs and
the other is refused naming it; and the deploy's security properties (app user, 0600 env file, no secret in
any output). The lock's other proofs (--wait-lock, claim, a RollbackFleet holding the fleet) need no Rails
host and run on scripted agents: test_deploy_lock.py."""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from injection import (
    DOCUMENTS,
    MARKER,
    PAYLOADS,
    REPO,
    RUNBOOKS,
    base_value,
    host_parameters,
    payload,
    valid_values,
)
from releaseflow.rehearsal.harness import provision
from scenarios import (
    RELEASEFLOW,
    assert_fleet_consistent,
    client,
    execution_windows,
    executions,
    fleet_fixture,
)

pytestmark = pytest.mark.rehearsal
# One fleet (strict readings): what these tests prove (values refused before any host, one deploy of two
# at once) meets no open reading; the fixture checks that. The trigger's own refusal of injected values,
# before any AWS call, is a unit test (tests/unit/test_bad_input.py).
rehearsal = fleet_fixture(hosts=2)


def _commands(ssm) -> list[dict]:
    return [c for page in ssm.get_paginator("list_commands").paginate() for c in page["Commands"]]


def _assert_no_marker(rehearsal) -> None:
    name = Path(MARKER).name
    assert not Path(MARKER).exists()
    assert [str(p) for p in rehearsal.state_dir.rglob(f"*{name}*")] == []


def test_documents_refuse_injected_values_sent_directly(rehearsal):
    """SendCommand of each document with a payload in any parameter is refused with InvalidParameters."""
    ssm = client(rehearsal, "ssm")
    before = len(_commands(ssm))
    for document, content in DOCUMENTS.items():
        for name, spec in content["parameters"].items():
            for kind in PAYLOADS:
                parameters = {**valid_values(content), name: [payload(kind, base_value(spec, name))]}
                with pytest.raises(ClientError) as refused:
                    ssm.send_command(
                        DocumentName=document, InstanceIds=list(rehearsal.instance_ids), Parameters=parameters
                    )
                assert refused.value.response["Error"]["Code"] == "InvalidParameters", (document, name, kind)
                assert f'"{name}"' in refused.value.response["Error"]["Message"]
    assert len(_commands(ssm)) == before
    _assert_no_marker(rehearsal)


def test_runbooks_refuse_injected_values_at_start(rehearsal):
    """StartAutomationExecution with a payload in any parameter that reaches a host is refused; none starts."""
    ssm = client(rehearsal, "ssm")
    before = len(executions(ssm))
    for runbook, content in RUNBOOKS.items():
        for name in host_parameters(content):
            for kind in PAYLOADS:
                value = payload(kind, base_value(content["parameters"][name], name))
                parameters = {**valid_values(content), name: [value]}
                with pytest.raises(ClientError) as refused:
                    ssm.start_automation_execution(DocumentName=runbook, Parameters=parameters)
                error = refused.value.response["Error"]
                assert error["Code"] == "InvalidAutomationExecutionParametersException", (runbook, name, kind)
                assert f"Parameter {name} " in error["Message"]
    assert len(executions(ssm)) == before
    _assert_no_marker(rehearsal)
    assert_fleet_consistent(rehearsal.state_dir, rehearsal.revisions[0])


def _race(rehearsal, revisions, summaries=None):
    """Start one `releaseflow deploy` per revision at the same moment; (returncode, stdout, stderr) each."""
    processes = []
    for n, revision in enumerate(revisions):
        env = dict(rehearsal.environment)
        if summaries:
            env |= {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summaries[n])}
        processes.append(
            subprocess.Popen(
                [RELEASEFLOW, "deploy", "--revision", revision, "--root", str(REPO)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=300) for process in processes]
    return [(process.returncode, out, err) for process, (out, err) in zip(processes, outputs, strict=True)]


def test_two_deploys_at_once_one_runs_the_other_is_refused_naming_it(rehearsal, tmp_path):
    """Two triggers started together: one deploys (exit 0), the other exits 5 naming it and touched no host.

    The deploy that ran also shows the security properties: git, the migration and puma ran as the app
    user, the env file stayed 0600, and no secret from it reached any command output, log or summary.
    """
    ssm = client(rehearsal, "ssm")
    summaries = [tmp_path / "summary-0.md", tmp_path / "summary-1.md"]
    results = _race(rehearsal, [rehearsal.revisions[1]] * 2, summaries=summaries)
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 5], results
    (_, won, _), (_, _, refused) = sorted(results, key=lambda r: r[0])
    winner = won.split("started execution ", 1)[1].split()[0]
    assert f"execution {winner} of releaseflow-Deploy is still running on fleet local" in refused
    for row in executions(ssm):
        if row["AutomationExecutionId"] != winner and row["AutomationExecutionStatus"] == "Cancelled":
            # The loser may have started before it saw the winner: then it stopped itself before any host.
            assert execution_windows(ssm, row["AutomationExecutionId"])[1] == []
    assert_fleet_consistent(rehearsal.state_dir, rehearsal.revisions[1])
    _assert_deploy_kept_secrets(rehearsal, ssm, [won, refused], summaries)
    _assert_ran_as_the_app_user(rehearsal)


def _secrets(rehearsal) -> list[str]:
    """SECRET_KEY_BASE of every host and the database password, if the URL has one."""
    found = []
    for instance_id in rehearsal.instance_ids:
        for line in (rehearsal.host_root(instance_id) / "app" / ".env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "SECRET_KEY_BASE":
                found.append(value)
            if key == "DATABASE_URL" and urllib.parse.urlsplit(value).password:
                found.append(urllib.parse.urlsplit(value).password)
    assert found
    return found


def _assert_deploy_kept_secrets(rehearsal, ssm, outputs: list[str], summaries: list[Path]) -> None:
    secrets = _secrets(rehearsal)
    texts = list(outputs) + [path.read_text() for path in summaries if path.exists()]
    assert any(path.exists() and "| migrate |" in path.read_text() for path in summaries)
    for command in _commands(ssm):
        listed = ssm.list_command_invocations(CommandId=command["CommandId"], Details=True)
        for invocation in listed["CommandInvocations"]:
            # Each step by name: GetCommandInvocation needs PluginName for a document of several steps.
            for plugin in invocation["CommandPlugins"]:
                answer = ssm.get_command_invocation(
                    CommandId=command["CommandId"],
                    InstanceId=invocation["InstanceId"],
                    PluginName=plugin["Name"],
                )
                texts += [answer["StandardOutputContent"], answer["StandardErrorContent"]]
    texts += [path.read_text(errors="replace") for path in (rehearsal.state_dir / "logs").glob("*.log")]
    for secret in secrets:
        assert not [text[:200] for text in texts if secret in text]


def _assert_ran_as_the_app_user(rehearsal) -> None:
    """Checkout and record owned by the app user, puma running as it, .env still 0600."""
    user = provision.ensure_app_user()
    for instance_id in rehearsal.instance_ids:
        app = rehearsal.host_root(instance_id) / "app"
        tracked = subprocess.run(
            ["git", "-c", f"safe.directory={app}", "-C", str(app), "ls-files"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        record = app / ".git" / "releaseflow"
        paths = [app / name for name in tracked] + [app / ".git" / "HEAD", record, *record.iterdir()]
        assert {str(p): p.stat().st_uid for p in paths} == {str(p): user.pw_uid for p in paths}
        assert (app / ".env").stat().st_mode & 0o777 == 0o600
        pid = (rehearsal.host_root(instance_id) / "run" / f"{provision.SERVICE}.pid").read_text().strip()
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
        assert set(uids) == {str(user.pw_uid)}
