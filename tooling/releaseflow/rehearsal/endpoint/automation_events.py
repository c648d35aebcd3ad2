"""The EventBridge events Automation sends when an execution's status changes, as AWS's examples show them."""

from __future__ import annotations

import json
from datetime import datetime

# monitoring-systems-manager-event-examples, "Automation Execution Status-change Notification".
SOURCE = "aws.ssm"
DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"


def status_change_entry(execution: dict, account: str, region: str) -> dict:
    """A PutEvents entry for `execution` (as GetAutomationExecution returns it) in its current status.

    AWS's example detail: {"ExecutionId", "Definition", "DefinitionVersion": 1.0, "Status",
    "EndTime": "Nov 29, 2024 7:43:25 PM", "StartTime": ..., "Time": 2630.0}; resources name the
    execution and the runbook version."""
    execution_id, name = execution["AutomationExecutionId"], execution["DocumentName"]
    version = execution.get("DocumentVersion") or "1"
    start, end = execution.get("ExecutionStartTime"), execution.get("ExecutionEndTime")
    detail = {
        "ExecutionId": execution_id,
        "Definition": name,
        "DefinitionVersion": float(version),
        "Status": execution["AutomationExecutionStatus"],
        "StartTime": _shown(start),
        "EndTime": _shown(end),
        "Time": (end - start).total_seconds() * 1000 if start and end else 0.0,
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [
            f"arn:aws:ssm:{region}:{account}:automation-execution/{execution_id}",
            f"arn:aws:ssm:{region}:{account}:automation-definition/{name}:{version}",
        ],
        "Detail": json.dumps(detail),
    }


def _shown(moment: datetime | None) -> str:
    # "Nov 29, 2024 7:43:25 PM", the example's form (no leading zero on the day or the hour).
    if moment is None:
        return ""
    return f"{moment:%b} {moment.day}, {moment.year} {moment.hour % 12 or 12}:{moment:%M:%S %p}"
