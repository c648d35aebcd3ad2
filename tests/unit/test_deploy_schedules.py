"""`deploy --at` and `releaseflow schedules` against moto's EventBridge Scheduler."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from releaseflow import schedules
from releaseflow.cli import main
from releaseflow.deploy import StartRequest
from releaseflow.errors import UsageError
from test_deploy import REVISION
from test_deploy_cli import CONFIG, RUNBOOK

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/releaseflow-scheduler"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-01-01T22:00", "at(2026-01-01T22:00:00)"),
        ("2026-01-01T23:30:00+01:00", "at(2026-01-01T22:30:00)"),
        ("2026-01-02T00:00:00Z", "at(2026-01-02T00:00:00)"),
    ],
)
def test_at_expression_is_in_utc(given, expected):
    """--at accepts ISO 8601 with or without a zone and yields Scheduler's at() in UTC."""
    assert schedules.at_expression(given, NOW) == expected


@pytest.mark.parametrize("given", ["2025-12-31T23:59", "tomorrow"])
def test_at_in_the_past_or_unparsable_is_refused(given):
    """A time in the past or not ISO 8601 is a usage error."""
    with pytest.raises(UsageError):
        schedules.at_expression(given, NOW)


def test_schedule_targets_start_automation_execution_and_can_be_listed_and_cancelled(monkeypatch):
    """The schedule's target is SSM's universal StartAutomationExecution with the runbook input."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    request = StartRequest(
        "releaseflow-Deploy",
        {"Revision": [REVISION], "FleetTagValue": ["web"]},
        "00000000-0000-0000-0000-000000000000",
        (("releaseflow:commit", REVISION),),
    )
    with mock_aws():
        scheduler = boto3.client("scheduler")
        name = schedules.schedule_name(request, "production")
        schedules.create(scheduler, request, name=name, expression="at(2026-01-01T22:00:00)", role_arn=ROLE)
        target = scheduler.get_schedule(Name=name)["Target"]
        assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution"
        assert json.loads(target["Input"])["DocumentName"] == "releaseflow-Deploy"
        assert json.loads(target["Input"])["Parameters"]["Revision"] == [REVISION]
        assert [s["Name"] for s in schedules.list_pending(scheduler)] == [name]
        schedules.cancel(scheduler, name)
        assert schedules.list_pending(scheduler) == []


def test_schedule_name_is_short_and_valid():
    """Schedule names stay within Scheduler's 64 characters and allowed characters."""
    request = StartRequest("releaseflow-Deploy", {"Revision": [REVISION]}, "t", ())
    name = schedules.schedule_name(request, "production/eu")
    assert len(name) <= 64
    assert name.startswith("releaseflow-production-eu-")


def test_schedules_cancel_without_a_name_is_a_usage_error(tmp_path, monkeypatch, capsys):
    """`schedules cancel` without NAME exits 2 and says what is missing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("RELEASEFLOW_ENVIRONMENT", raising=False)
    with mock_aws():
        assert main(["schedules", "cancel"]) == 2
    assert "Error: cancel needs the schedule NAME" in capsys.readouterr().err


def test_deploy_at_creates_a_schedule_instead_of_starting(tmp_path, monkeypatch, capsys):
    """`deploy --at` exits 0 after creating the schedule; no execution is started."""
    (tmp_path / "automation").mkdir()
    (tmp_path / "automation" / "releaseflow-Deploy.yaml").write_text(RUNBOOK)
    (tmp_path / "releaseflow.yaml").write_text(
        CONFIG.replace(
            "    runbook: releaseflow-Deploy\n",
            f"    runbook: releaseflow-Deploy\n    scheduler_role_arn: {ROLE}\n",
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    with mock_aws():
        assert (
            main(
                ["deploy", "--revision", REVISION, "--environment", "production", "--at", "2099-01-01T06:00Z"]
            )
            == 0
        )
        scheduler = boto3.client("scheduler", region_name="eu-west-1")
        (entry,) = schedules.list_pending(scheduler)
        assert entry["ScheduleExpression"] == "at(2099-01-01T06:00:00)"
    assert f"scheduled releaseflow-Deploy for revision {REVISION}: {entry['Name']}" in capsys.readouterr().out


def test_the_started_execution_is_tagged_with_its_schedule(monkeypatch):
    """The target input keeps the request's tags and adds releaseflow:schedule=NAME (history shows it)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    request = StartRequest(
        "releaseflow-Deploy", {"Revision": [REVISION]}, "t", (("releaseflow:actor", "ana"),)
    )
    with mock_aws():
        scheduler = boto3.client("scheduler")
        schedules.create(
            scheduler, request, name="releaseflow-p-1", expression="at(2026-01-01T22:00:00)", role_arn=ROLE
        )
        tags = json.loads(scheduler.get_schedule(Name="releaseflow-p-1")["Target"]["Input"])["Tags"]
    assert tags == [
        {"Key": "releaseflow:actor", "Value": "ana"},
        {"Key": "releaseflow:schedule", "Value": "releaseflow-p-1"},
    ]
