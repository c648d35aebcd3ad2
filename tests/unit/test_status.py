"""`releaseflow status`: an execution's steps and hosts, the runbook's latest by default."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from document_outputs import outputs
from releaseflow.cli import main
from releaseflow.commands import status as status_command
from releaseflow.commands.status import latest_execution
from test_deploy import ALARM, REVISION, FakeSSM, alarm_scenario, scenario


@pytest.fixture
def ssm(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RELEASEFLOW_ENVIRONMENT", raising=False)
    monkeypatch.delenv("RELEASEFLOW_CONFIG", raising=False)
    fake = FakeSSM(scenario("Failed"), lambda: 10)
    monkeypatch.setattr(status_command, "client", lambda service, region: fake)
    return fake


def test_status_shows_steps_hosts_and_revisions(ssm, capsys):
    """The text view lists every step with its status and each host with revision before -> after."""
    assert main(["status", "exec-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("execution exec-1 of releaseflow-Deploy: Failed\n")
    assert f"Revision: {REVISION}" in out
    assert "  Rolling[0].Restart" in out
    switched = outputs()
    assert f"i-1                   migrate  {switched.old[:12]} -> {switched.new[:12]}" in out


def test_status_json(ssm, capsys):
    """--json gives the steps and hosts as data."""
    assert main(["status", "exec-1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "Failed"
    assert [s["name"] for s in data["steps"]] == ["Checkout", "Rolling", "Rolling[0].Restart"]
    assert {h["instance_id"]: h["status"] for h in data["hosts"]} == {"i-1": "Success", "i-2": "Failed"}
    # i-2 only restarted: no document said its revision, so it is null, never "?".
    hosts = {h["instance_id"]: h for h in data["hosts"]}
    assert (hosts["i-1"]["outcome"], hosts["i-1"]["after"]) == ("switched", outputs().new)
    assert (hosts["i-2"]["outcome"], hosts["i-2"]["before"], hosts["i-2"]["after"]) == (
        "not-switched",
        None,
        None,
    )


def test_status_names_the_alarm_that_stopped_the_execution(ssm, capsys):
    """--json and the text view give the watched alarm and TriggeredAlarms; none without an alarm."""
    assert main(["status", "exec-1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["alarm"], data["triggered_alarms"]) == (None, [])
    ssm.timeline = alarm_scenario()
    assert main(["status", "exec-1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "Cancelled"
    assert data["alarm"] == ALARM
    assert data["triggered_alarms"] == [{"name": ALARM, "state": "ALARM"}]
    assert main(["status", "exec-1"]) == 0
    out = capsys.readouterr().out
    assert f"alarm: {ALARM}\nstopped by: CloudWatch alarm {ALARM} went into ALARM" in out


def test_status_without_id_shows_the_latest_execution_of_the_runbook(ssm, monkeypatch, capsys):
    """Without an id, the most recently started execution of exactly that runbook is shown."""
    listing = [
        {
            "AutomationExecutionId": "old",
            "DocumentName": "releaseflow-Deploy",
            "ExecutionStartTime": datetime(2026, 1, 1, tzinfo=UTC),
        },
        {
            "AutomationExecutionId": "new",
            "DocumentName": "releaseflow-Deploy",
            "ExecutionStartTime": datetime(2026, 1, 2, tzinfo=UTC),
        },
        {
            "AutomationExecutionId": "other",
            "DocumentName": "releaseflow-DeployOther",
            "ExecutionStartTime": datetime(2026, 1, 3, tzinfo=UTC),
        },
    ]
    monkeypatch.setattr(
        ssm, "describe_automation_executions", lambda Filters: {"AutomationExecutionMetadataList": listing}
    )
    assert main(["status"]) == 0
    assert capsys.readouterr().out.startswith("execution new of releaseflow-Deploy")
    # One just started is Pending, without a start time yet: it is the latest.
    listing.append({"AutomationExecutionId": "pending", "DocumentName": "releaseflow-Deploy"})
    assert latest_execution(ssm, "releaseflow-Deploy") == "pending"


def test_status_without_executions_is_an_error(ssm, capsys):
    """No execution of the runbook: exit 1 with a message naming the runbook."""
    assert main(["status", "--runbook", "releaseflow-RollbackFleet"]) == 1
    assert "Error: no execution of releaseflow-RollbackFleet found" in capsys.readouterr().err


def test_aws_refusal_is_one_error_line(ssm, monkeypatch, capsys):
    """An execution id AWS does not know gives exit 1 and an `Error:` line, not a traceback."""

    def unknown(**_):
        raise ClientError(
            {"Error": {"Code": "AutomationExecutionNotFoundException", "Message": "not found"}},
            "GetAutomationExecution",
        )

    monkeypatch.setattr(ssm, "get_automation_execution", unknown)
    assert main(["status", "nope"]) == 1
    assert capsys.readouterr().err.startswith(
        "Error: An error occurred (AutomationExecutionNotFoundException)"
    )
