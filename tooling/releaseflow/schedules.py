"""One-time EventBridge Scheduler schedules that start a deploy later (`deploy --at`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from releaseflow.deploy import StartRequest
from releaseflow.errors import UsageError

# Scheduler's universal target: the schedule calls StartAutomationExecution with the runbook input.
TARGET_ARN = "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution"
NAME_PREFIX = "releaseflow-"
# Tags the execution a schedule starts with the schedule's name: `releaseflow history` shows it.
SCHEDULE_TAG = "releaseflow:schedule"
_UNSAFE = re.compile(r"[^0-9a-zA-Z\-_.]")


def at_expression(when: str, now: datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC for an ISO 8601 time (no zone = UTC); it must lie ahead."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError as error:
        raise UsageError(f"--at {when!r}: expected an ISO 8601 time such as 2026-01-31T22:00Z") from error
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if moment <= now:
        raise UsageError(f"--at {when!r} is in the past")
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


def schedule_name(request: StartRequest, environment: str) -> str:
    """releaseflow-ENV-REVISION: one pending schedule per environment and revision (<= 64 chars)."""
    revision = request.parameters["Revision"][0]
    return _UNSAFE.sub("-", f"{NAME_PREFIX}{environment}-{revision}")[:64]


def create(
    scheduler, request: StartRequest, *, name: str, expression: str, role_arn: str, group: str = "default"
) -> str:
    """Create the schedule (deleted by Scheduler once it has run) and return its ARN.

    The input keeps the client token, so Scheduler's own retries cannot start two deploys.
    """
    target_input = request.api_input()
    target_input["Tags"] = [*target_input["Tags"], {"Key": SCHEDULE_TAG, "Value": name}]
    answer = scheduler.create_schedule(
        Name=name,
        GroupName=group,
        ScheduleExpression=expression,
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Description=f"releaseflow: start {request.runbook} for revision {request.parameters['Revision'][0]}",
        Target={"Arn": TARGET_ARN, "RoleArn": role_arn, "Input": json.dumps(target_input)},
    )
    return answer["ScheduleArn"]


def list_pending(scheduler, group: str = "default") -> list[dict]:
    """releaseflow's schedules in the group: Name, State, and when they fire."""
    found = []
    for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group, NamePrefix=NAME_PREFIX):
        for entry in page.get("Schedules", []):
            detail = scheduler.get_schedule(Name=entry["Name"], GroupName=group)
            found.append(
                {
                    "Name": entry["Name"],
                    "State": entry.get("State", ""),
                    "ScheduleExpression": detail.get("ScheduleExpression", ""),
                }
            )
    return found


def cancel(scheduler, name: str, group: str = "default") -> None:
    scheduler.delete_schedule(Name=name, GroupName=group)
