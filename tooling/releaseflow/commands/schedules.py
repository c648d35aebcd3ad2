"""`releaseflow schedules`: list or cancel deploys scheduled with `deploy --at`."""

from __future__ import annotations

import os

from releaseflow import schedules
from releaseflow.commands._aws import aws_errors, client
from releaseflow.commands._options import add_config, add_environment
from releaseflow.config import load_environment
from releaseflow.errors import UsageError

NAME = "schedules"
ORDER = 35
HELP = "list or cancel deploys scheduled with deploy --at"
EPILOG = """\
exit codes: 0 done; 1 AWS refused; 2 usage or configuration error."""


def register(parser) -> None:
    parser.add_argument("action", nargs="?", choices=["list", "cancel"], default="list")
    parser.add_argument("name", nargs="?", metavar="NAME", help="the schedule to cancel")
    parser.add_argument("--group", help="schedule group (default: the environment's, else default)")
    add_environment(parser)
    add_config(parser, help=None)
    parser.add_argument("--region", help="AWS region")


def run(args) -> int:
    with aws_errors():
        return _run(args)


def _run(args) -> int:
    group, region = args.group or "default", args.region
    if args.environment or os.path.exists(args.config):
        environment = load_environment(args.config, args.environment)
        group, region = args.group or environment.schedule_group, region or environment.region
    scheduler = client("scheduler", region)
    if args.action == "cancel":
        if not args.name:
            raise UsageError("cancel needs the schedule NAME (see `releaseflow schedules list`)")
        schedules.cancel(scheduler, args.name, group)
        print(f"cancelled {args.name}")
        return 0
    for entry in schedules.list_pending(scheduler, group):
        print(f"{entry['Name']}\t{entry['State']}\t{entry['ScheduleExpression']}")
    return 0
