"""`releaseflow history`: a fleet's last deploys and rollbacks, newest first."""

from __future__ import annotations

import argparse
import json
import os

from releaseflow import history, report
from releaseflow.commands._aws import aws_errors, client
from releaseflow.commands._options import add_config, add_environment
from releaseflow.config import DEFAULT_RUNBOOK, load_environment
from releaseflow.errors import UsageError

NAME = "history"
ORDER = 45
HELP = "a fleet's last deploys and rollbacks"
DESCRIPTION = """\
The last executions of the environment's deploy runbook and of releaseflow-RollbackFleet (with the
same publish prefix) on its fleet (FleetTagValue), newest first: start, duration, kind, outcome,
revision, who or what started it (the releaseflow:actor tag, a schedule, else ExecutedBy), the
rollbacks a deploy started or that were started for it, and the console link."""
EPILOG = """\
exit codes: 0 shown (also when there is nothing to show); 1 AWS refused; 2 usage or configuration error."""


def register(parser) -> None:
    add_environment(parser, "environment whose runbook, fleet and region to read")
    parser.add_argument(
        "--limit", type=_positive, default=10, help="how many deploys and rollbacks (default 10)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--fleet", help="FleetTagValue (default: the environment's)")
    parser.add_argument("--runbook", help="deploy runbook (default: the environment's)")
    add_config(parser)
    parser.add_argument("--region", help="AWS region")


def run(args) -> int:
    with aws_errors():
        return _run(args)


def _run(args) -> int:
    runbook, fleet, region = args.runbook or DEFAULT_RUNBOOK, args.fleet, args.region
    if args.environment or os.path.exists(args.config):
        environment = load_environment(args.config, args.environment)
        runbook = args.runbook or environment.runbook
        fleet = fleet or next(iter(environment.parameters.get("FleetTagValue", [])), None)
        region = region or environment.region
    if not fleet:
        raise UsageError("history needs the fleet: --fleet, or FleetTagValue in the environment's parameters")
    ssm = client("ssm", region)
    runs = history.history(ssm, runbook, fleet, ssm.meta.region_name, args.limit)
    if args.json:
        print(json.dumps([run.as_json() for run in runs], indent=2))
    else:
        print(report.history_text(runs, fleet), end="")
    return 0


def _positive(text: str) -> int:
    """--limit: a whole number of runs, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs of at least 1")
    return value
