"""`releaseflow history`: a fleet's deploys and rollbacks from its executions, with a fake SSM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from releaseflow import history
from releaseflow.cli import main
from releaseflow.commands import history as history_command

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SCHEDULER = "arn:aws:sts::123456789012:assumed-role/releaseflow-SchedulerRole/session"


class FakeSSM:
    """DescribeAutomationExecutions, GetAutomationExecution and ListTagsForResource over `executions`:
    dicts with id, runbook, minute (start), status, parameters, steps, tags, executed_by."""

    def __init__(self, executions):
        self.executions = {e["id"]: e for e in executions}
        self.calls: list[str] = []
        self.meta = SimpleNamespace(region_name="eu-west-1")

    def get_paginator(self, name):
        assert name == "describe_automation_executions"
        ssm = self

        class Paginator:
            def paginate(self, Filters):
                ssm.calls.append("DescribeAutomationExecutions")
                [prefix] = [f["Values"][0] for f in Filters if f["Key"] == "DocumentNamePrefix"]
                rows = [
                    {
                        "AutomationExecutionId": e["id"],
                        "DocumentName": e["runbook"],
                        "ExecutionStartTime": T0 + timedelta(minutes=e["minute"]),
                        "AutomationExecutionStatus": e["status"],
                    }
                    for e in ssm.executions.values()
                    if e["runbook"].startswith(prefix)
                ]
                # Two pages, in no particular order: history sorts them itself.
                yield {"AutomationExecutionMetadataList": rows[::2]}
                yield {"AutomationExecutionMetadataList": rows[1::2]}

        return Paginator()

    def get_automation_execution(self, AutomationExecutionId):
        self.calls.append("GetAutomationExecution")
        if AutomationExecutionId not in self.executions:
            error = {"Code": "AutomationExecutionNotFoundException", "Message": "gone"}
            raise ClientError({"Error": error}, "GetAutomationExecution")
        e = self.executions[AutomationExecutionId]
        start = T0 + timedelta(minutes=e["minute"])
        return {
            "AutomationExecution": {
                "AutomationExecutionId": e["id"],
                "DocumentName": e["runbook"],
                "AutomationExecutionStatus": e["status"],
                "ExecutionStartTime": start,
                "ExecutionEndTime": start + timedelta(seconds=75),
                "Parameters": e.get("parameters", {}),
                "StepExecutions": e.get("steps", []),
                "ExecutedBy": e.get("executed_by", "arn:aws:iam::123456789012:user/ops"),
            }
        }

    def list_tags_for_resource(self, ResourceType, ResourceId):
        self.calls.append("ListTagsForResource")
        assert ResourceType == "Automation"
        tags = self.executions[ResourceId].get("tags", {})
        return {"TagList": [{"Key": k, "Value": v} for k, v in tags.items()]}


def _deploy(
    id, minute, status="Success", fleet="web", revision="a" * 40, runbook="releaseflow-Deploy", **more
):
    return {
        "id": id,
        "runbook": runbook,
        "minute": minute,
        "status": status,
        "parameters": {"Revision": [revision], "FleetTagValue": [fleet]},
        **more,
    }


def _rollback(id, minute, deploy, fleet=None, runbook="releaseflow-RollbackFleet"):
    parameters = {"ExecutionId": [deploy]} | ({"FleetTagValue": [fleet]} if fleet else {})
    return {"id": id, "runbook": runbook, "minute": minute, "status": "Success", "parameters": parameters}


def _started(step, rollback_id):
    return {"StepName": step, "StepStatus": "Success", "Outputs": {"RollbackExecutionId": [rollback_id]}}


FLEET = [
    _deploy("d-1", 1, tags={"releaseflow:actor": "ana"}),
    _deploy(
        "d-2",
        10,
        status="Failed",
        revision="b" * 40,
        steps=[_started("StartRollback", "r-2")],
        tags={"releaseflow:actor": "ben"},
    ),
    # Started by d-2's failure path: no fleet of its own, so it counts on d-2's.
    _rollback("r-2", 11, "d-2"),
    _deploy(
        "d-3",
        20,
        status="Cancelled",
        steps=[_started("RollBackOnCancel", "r-3")],
        tags={"releaseflow:actor": "ana", "releaseflow:schedule": "releaseflow-production-ccc"},
        executed_by=SCHEDULER,
    ),
    _rollback("r-3", 21, "d-3", fleet="web"),
    # An operator ran RollbackFleet again for d-1 from the console.
    _rollback("r-9", 30, "d-1"),
    _deploy("other-fleet", 25, fleet="api"),
    _deploy("other-prefix", 26, runbook="staging-releaseflow-Deploy"),
    {"id": "unrelated", "runbook": "releaseflow-Probe", "minute": 27, "status": "Success"},
]


def test_history_lists_the_fleets_deploys_and_rollbacks_newest_first():
    """Only executions of the runbook and of its RollbackFleet on this fleet (a rollback without a fleet
    counts on its deploy's), newest first; other fleets, prefixes and runbooks are left out."""
    runs = history.history(FakeSSM(FLEET), "releaseflow-Deploy", "web", "eu-west-1")
    assert [(run.execution_id, run.kind) for run in runs] == [
        ("r-9", "rollback"),
        ("r-3", "rollback"),
        ("d-3", "deploy"),
        ("r-2", "rollback"),
        ("d-2", "deploy"),
        ("d-1", "deploy"),
    ]


def test_each_deploy_names_the_rollbacks_it_started_or_that_were_started_for_it():
    """StartRollback and RollBackOnCancel outputs, and RollbackFleet runs whose ExecutionId is the deploy."""
    runs = {
        run.execution_id: run for run in history.history(FakeSSM(FLEET), "releaseflow-Deploy", "web", "x")
    }
    assert runs["d-2"].rollbacks == ("r-2",)
    assert runs["d-3"].rollbacks == ("r-3",)
    assert runs["d-1"].rollbacks == ("r-9",)
    assert (runs["r-2"].rolls_back, runs["r-2"].rollbacks) == ("d-2", ())


def test_who_started_it_is_the_actor_by_way_of_a_schedule_else_the_aws_identity():
    """started_by: the releaseflow:actor tag, '(schedule NAME)' for a scheduled deploy, else ExecutedBy."""
    runs = {
        run.execution_id: run for run in history.history(FakeSSM(FLEET), "releaseflow-Deploy", "web", "x")
    }
    assert runs["d-1"].started_by == "ana"
    assert runs["d-3"].started_by == "ana (schedule releaseflow-production-ccc)"
    assert runs["d-3"].executed_by == SCHEDULER
    assert runs["r-9"].started_by == "user/ops"


def test_history_reads_only_as_many_executions_as_the_limit_needs():
    """--limit 2: two runs, and no GetAutomationExecution/ListTagsForResource beyond what they needed."""
    ssm = FakeSSM(FLEET)
    runs = history.history(ssm, "releaseflow-Deploy", "web", "x", limit=2)
    assert [run.execution_id for run in runs] == ["r-9", "r-3"]
    assert ssm.calls.count("ListTagsForResource") == 2
    # r-9, d-1 (r-9's fleet), other-fleet (to learn its fleet), r-3; nothing older; the other prefix's
    # and the unrelated runbook's executions are skipped by name, unread.
    assert ssm.calls.count("GetAutomationExecution") == 4


def test_a_prefixed_runbook_reads_the_rollbacks_of_its_own_prefix():
    """staging-releaseflow-Deploy pairs with staging-releaseflow-RollbackFleet, not the unprefixed one."""
    executions = [
        _deploy("s-1", 1, runbook="staging-releaseflow-Deploy"),
        _rollback("s-r", 2, "s-1", runbook="staging-releaseflow-RollbackFleet"),
        _rollback("x-r", 3, "s-1"),
    ]
    runs = history.history(FakeSSM(executions), "staging-releaseflow-Deploy", "web", "x")
    assert [run.execution_id for run in runs] == ["s-r", "s-1"]


def test_a_rollback_whose_deploy_ssm_no_longer_keeps_is_left_out():
    """A RollbackFleet without a fleet of its own whose deploy is gone has no known fleet: not listed."""
    executions = [_deploy("d-1", 1), _rollback("r-old", 2, "gone")]
    runs = history.history(FakeSSM(executions), "releaseflow-Deploy", "web", "x")
    assert [run.execution_id for run in runs] == ["d-1"]


def test_json_has_times_revision_outcome_rollbacks_and_the_console_link():
    """as_json: ISO times, the full revision, status, started_by, rollbacks and the console URL."""
    [run] = [
        r
        for r in history.history(FakeSSM(FLEET), "releaseflow-Deploy", "web", "eu-west-1")
        if r.execution_id == "d-2"
    ]
    assert run.as_json() == {
        "execution_id": "d-2",
        "kind": "deploy",
        "runbook": "releaseflow-Deploy",
        "status": "Failed",
        "start": "2026-12-01T09:10:00+00:00",
        "end": "2026-12-01T09:11:15+00:00",
        "revision": "b" * 40,
        "executed_by": "arn:aws:iam::123456789012:user/ops",
        "actor": "ben",
        "schedule": None,
        "started_by": "ben",
        "rollbacks": ["r-2"],
        "rolls_back": None,
        "console_url": "https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/d-2"
        "?region=eu-west-1",
    }


CONFIG = """\
environments:
  production:
    region: eu-west-1
    parameters:
      FleetTagValue: web
  nofleet:
    region: eu-west-1
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """`releaseflow history` against FakeSSM(FLEET), with a releaseflow.yaml in the current folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "releaseflow.yaml").write_text(CONFIG)
    monkeypatch.delenv("RELEASEFLOW_ENVIRONMENT", raising=False)
    monkeypatch.delenv("RELEASEFLOW_CONFIG", raising=False)
    monkeypatch.setattr(history_command, "client", lambda service, region: FakeSSM(FLEET))


def test_cli_prints_one_line_per_run_and_its_console_link(cli, capsys):
    """The text table: newest first, kind, status, short revision, who started it, rollbacks, links."""
    assert main(["history", "--environment", "production", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["STARTED", "(UTC)", "DURATION", "KIND"]
    assert lines[1].split() == [
        "2026-12-01",
        "09:30:00",
        "1m15s",
        "rollback",
        "Success",
        "-",
        "user/ops",
        "undoes",
        "d-1",
    ]
    assert lines[2].strip().startswith("r-9  https://eu-west-1.console.aws.amazon.com/")
    assert lines[5].split()[2:] == [
        "1m15s",
        "deploy",
        "Cancelled",
        "aaaaaaaaaaaa",
        "ana",
        "(schedule",
        "releaseflow-production-ccc)",
        "r-3",
    ]
    assert len(lines) == 7


def test_cli_json_lists_the_runs(cli, capsys):
    """--json prints the runs as a JSON list, newest first."""
    assert main(["history", "--environment", "production", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [run["execution_id"] for run in runs] == ["r-9", "r-3", "d-3", "r-2", "d-2", "d-1"]


def test_cli_without_a_fleet_is_a_usage_error_naming_what_is_missing(cli, capsys):
    """An environment without FleetTagValue and no --fleet: exit 2 and the error says where to give it."""
    assert main(["history", "--environment", "nofleet"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Error: history needs the fleet: --fleet, or FleetTagValue in the environment's parameters"
    )


def test_cli_limit_must_be_at_least_one(cli, capsys):
    """--limit 0 is refused by the parser (exit 2) naming the value."""
    with pytest.raises(SystemExit) as exited:
        main(["history", "--environment", "production", "--limit", "0"])
    assert exited.value.code == 2
    assert "'0' is not a whole number of runs of at least 1" in capsys.readouterr().err
