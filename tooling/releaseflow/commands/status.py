"""`releaseflow status`: an execution's steps, hosts and revisions (the runbook's latest by default)."""

from __future__ import annotations

import json
import os

from releaseflow import report
from releaseflow.commands._aws import aws_errors, client
from releaseflow.commands._options import add_config, add_environment
from releaseflow.config import DEFAULT_RUNBOOK, load_environment
from releaseflow.errors import ReleaseflowError
from releaseflow.follow import fetch
from releaseflow.runbook_scripts.lock import order

NAME = "status"
ORDER = 40
HELP = "show an execution: its steps, hosts and revisions"
DESCRIPTION = """\
Show one Automation execution: status, steps (loop iterations included), and per host its role,
revision before -> after, status and duration. Without EXECUTION_ID, the latest execution of the
runbook (--runbook, else the configured environment's, else releaseflow-Deploy)."""
EPILOG = """\
exit codes: 0 shown; 1 no such execution; 2 usage or configuration error."""


class NoExecution(ReleaseflowError):
    """The runbook has no execution to show."""


def register(parser) -> None:
    parser.add_argument("execution_id", nargs="?", metavar="EXECUTION_ID")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--runbook", help="runbook whose latest execution to show")
    add_environment(parser, "environment whose runbook and region to use")
    add_config(parser)
    parser.add_argument("--region", help="AWS region")


def run(args) -> int:
    with aws_errors():
        return _run(args)


def _run(args) -> int:
    runbook, region = args.runbook or DEFAULT_RUNBOOK, args.region
    if args.environment or os.path.exists(args.config):
        environment = load_environment(args.config, args.environment)
        runbook, region = args.runbook or environment.runbook, region or environment.region
    ssm = client("ssm", region)
    execution_id = args.execution_id or latest_execution(ssm, runbook)
    snapshot = fetch(ssm, execution_id)
    if args.json:
        print(json.dumps(report.status_json(snapshot), indent=2))
    else:
        print(report.status_text(snapshot), end="")
    return 0


def latest_execution(ssm, runbook: str) -> str:
    """The most recently started execution of exactly this runbook."""
    filters = [{"Key": "DocumentNamePrefix", "Values": [runbook]}]
    found = [
        execution
        for page in ssm.get_paginator("describe_automation_executions").paginate(Filters=filters)
        for execution in page.get("AutomationExecutionMetadataList", [])
        if execution.get("DocumentName") == runbook
    ]
    if not found:
        raise NoExecution(f"no execution of {runbook} found")
    # A Pending execution has no ExecutionStartTime yet: it counts as the youngest (the lock's order).
    return max(found, key=order)["AutomationExecutionId"]
