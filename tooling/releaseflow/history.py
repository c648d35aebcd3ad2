"""A fleet's last deploys and rollbacks, read from its Automation executions (`releaseflow history`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from botocore.exceptions import ClientError

from releaseflow.deploy import console_url
from releaseflow.schedules import SCHEDULE_TAG

DEPLOY = "releaseflow-Deploy"
ROLLBACK = "releaseflow-RollbackFleet"
ACTOR_TAG = "releaseflow:actor"
# The deploy's steps whose RollbackExecutionId output names the RollbackFleet execution they started.
ROLLBACK_STEPS = ("StartRollback", "RollBackOnCancel")


@dataclass(frozen=True)
class Run:
    """One execution of the fleet's deploy or rollback runbook, as `history` shows it."""

    execution_id: str
    kind: str  # "deploy" or "rollback"
    runbook: str
    status: str
    start: datetime | None
    end: datetime | None
    revision: str
    executed_by: str
    actor: str
    schedule: str
    # A deploy: the RollbackFleet executions it started (or that were started for it); a rollback: none.
    rollbacks: tuple[str, ...]
    # A rollback: the deploy it undoes.
    rolls_back: str
    url: str

    @property
    def started_by(self) -> str:
        """Who or what started it: the actor tag, by way of a schedule, else the AWS identity."""
        who = self.actor or self.executed_by.rsplit(":", 1)[-1] or "unknown"
        return f"{who} (schedule {self.schedule})" if self.schedule else who

    def as_json(self) -> dict:
        return {
            "execution_id": self.execution_id,
            "kind": self.kind,
            "runbook": self.runbook,
            "status": self.status,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "revision": self.revision or None,
            "executed_by": self.executed_by or None,
            "actor": self.actor or None,
            "schedule": self.schedule or None,
            "started_by": self.started_by,
            "rollbacks": list(self.rollbacks),
            "rolls_back": self.rolls_back or None,
            "console_url": self.url,
        }


def history(ssm, runbook: str, fleet: str, region: str, limit: int = 10) -> list[Run]:
    """The `limit` latest executions of `runbook` and of the RollbackFleet with its publish prefix on
    `fleet` (FleetTagValue; a rollback without its own fleet counts on its deploy's), newest first."""
    prefix = runbook[: -len(DEPLOY)] if runbook.endswith(DEPLOY) else ""
    names = {runbook: "deploy", prefix + ROLLBACK: "rollback"}
    details: dict[str, dict] = {}

    def detail(execution_id: str) -> dict:
        if execution_id not in details:
            answer = ssm.get_automation_execution(AutomationExecutionId=execution_id)
            details[execution_id] = answer["AutomationExecution"]
        return details[execution_id]

    def fleet_of(execution: dict) -> str:
        own = (execution.get("Parameters", {}).get("FleetTagValue") or [""])[0]
        deploy = (execution.get("Parameters", {}).get("ExecutionId") or [""])[0]
        if own or not deploy:
            return own
        try:
            return fleet_of(detail(deploy))
        except ClientError as error:
            # SSM keeps executions for a while only: a rollback can outlive the deploy it undid.
            if error.response.get("Error", {}).get("Code") != "AutomationExecutionNotFoundException":
                raise
            return ""

    runs: list[Run] = []
    for row in _newest_first(ssm, prefix + "releaseflow-"):
        if row.get("DocumentName") not in names:
            continue
        execution = detail(row["AutomationExecutionId"])
        if fleet_of(execution) != fleet:
            continue
        runs.append(_run(ssm, row, execution, names[row["DocumentName"]], region))
        if len(runs) == limit:
            break
    # A rollback an operator started for a deploy (its ExecutionId parameter) belongs to that deploy too.
    started_for: dict[str, list[str]] = {}
    for run in runs:
        if run.rolls_back:
            started_for.setdefault(run.rolls_back, []).append(run.execution_id)
    return [
        _with_rollbacks(run, started_for.get(run.execution_id, [])) if run.kind == "deploy" else run
        for run in runs
    ]


def _newest_first(ssm, name_prefix: str) -> Iterator[dict]:
    """Executions whose runbook starts with `name_prefix`, newest first (the API promises no order)."""
    filters = [{"Key": "DocumentNamePrefix", "Values": [name_prefix]}]
    rows = [
        row
        for page in ssm.get_paginator("describe_automation_executions").paginate(Filters=filters)
        for row in page.get("AutomationExecutionMetadataList", [])
    ]
    rows.sort(key=lambda row: (_seconds(row.get("ExecutionStartTime")), row["AutomationExecutionId"]))
    return reversed(rows)


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


def _run(ssm, row: dict, execution: dict, kind: str, region: str) -> Run:
    execution_id = row["AutomationExecutionId"]
    parameters = execution.get("Parameters", {})
    tags = {
        tag["Key"]: tag["Value"]
        for tag in ssm.list_tags_for_resource(ResourceType="Automation", ResourceId=execution_id).get(
            "TagList", []
        )
    }
    started = [
        value
        for step in execution.get("StepExecutions", [])
        if step.get("StepName") in ROLLBACK_STEPS
        for value in (step.get("Outputs") or {}).get("RollbackExecutionId", [])
    ]
    return Run(
        execution_id=execution_id,
        kind=kind,
        runbook=row["DocumentName"],
        status=execution.get("AutomationExecutionStatus", row.get("AutomationExecutionStatus", "")),
        start=execution.get("ExecutionStartTime") or row.get("ExecutionStartTime"),
        end=execution.get("ExecutionEndTime") or row.get("ExecutionEndTime"),
        revision=(parameters.get("Revision") or [""])[0],
        executed_by=execution.get("ExecutedBy") or row.get("ExecutedBy", ""),
        actor=tags.get(ACTOR_TAG, ""),
        schedule=tags.get(SCHEDULE_TAG, ""),
        rollbacks=tuple(dict.fromkeys(started)) if kind == "deploy" else (),
        rolls_back=(parameters.get("ExecutionId") or [""])[0] if kind == "rollback" else "",
        url=console_url(region, execution_id),
    )


def _with_rollbacks(run: Run, more: list[str]) -> Run:
    merged = tuple(dict.fromkeys([*run.rollbacks, *more]))
    return replace(run, rollbacks=merged)
