"""`releaseflow local`: bring the local rehearsal fleet up, show it, point a shell at it, take it down."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from releaseflow import readings
from releaseflow.commands import _rehearsal
from releaseflow.commands._aws import aws_errors, client

NAME = "local"
ORDER = 60
HELP = "the local rehearsal: endpoint, hosts running the Rails app, HAProxy"
DESCRIPTION = """\
Run the real documents and runbooks on this machine: a local AWS endpoint (moto plus Automation
and Run Command), N hosts (a checkout of the app in a private mount namespace at /srv/app, puma
under a systemctl stand-in, an agent), one shared database and HAProxy in front, driven by the
ELBv2 calls the runbook makes. Needs root and the Debian packages of `make system-packages`.

  releaseflow local up --hosts 3       bring it up (prints the revisions it built)
  eval "$(releaseflow local env)"      point boto3, the AWS CLI and releaseflow at it
  releaseflow deploy --revision REV    deploy, with the environment `local`
  releaseflow local status             checkout, serving commit and LB state of each host
  releaseflow local down               stop everything it started"""
EPILOG = """\
exit codes: 0 ok; 1 the rehearsal failed to start or is not running; 2 usage error."""


def register(parser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the endpoint, the hosts, the database and HAProxy")
    up.add_argument("--hosts", type=_positive, default=3, help="number of hosts (default 3)")
    up.add_argument("--app-repo", type=Path, help="deploy this git repository instead of the bundled app")
    up.add_argument("--revision", help="commit the hosts start at (default: the first revision / HEAD)")
    up.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="the shared database")
    up.add_argument(
        "--offline-after",
        type=float,
        default=None,
        metavar="SECONDS",
        # The rehearsal's OFFLINE_AFTER (fleet_record.py; a unit test keeps the two the same).
        help="seconds without its agent before a host is ConnectionLost (default 10)",
    )
    up.add_argument(
        "--aws-readings",
        default="default",
        metavar="default|strict|FILE",
        help="which reading of each behaviour AWS leaves open the rehearsal plays: default, strict (the "
        "least favourable to a runbook relying on it), or a JSON file {NAME: READING} "
        "(docs/aws-semantics.md, Open readings)",
    )
    up.add_argument(
        "--foreign-instances",
        type=int,
        default=0,
        metavar="N",
        help="N online managed nodes of another fleet, listed before this fleet's (default 0)",
    )
    up.add_argument(
        "--worker-hosts",
        type=int,
        default=0,
        metavar="N",
        help="the last N hosts are worker hosts: tagged releaseflow:role=worker, running the app's worker "
        "(unit `worker`) instead of puma, outside the load balancer (default 0)",
    )
    status = actions.add_parser("status", help="show each host's checkout, serving commit and LB state")
    status.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser("env", help="print `export` lines that point AWS tools and releaseflow at it")
    actions.add_parser("down", help="stop everything `up` started (idempotent)")
    report = actions.add_parser(
        "report",
        help="a pull request's rehearsal as markdown: the deploy of --head, then of --base, the hosts now",
        description="Exit 1 unless the deploy of HEAD migrated on one host and restarted and health-checked "
        "every host, and the next deploy of BASE left every host checked out at and serving BASE, healthy.",
    )
    report.add_argument("--head", required=True, metavar="REV", help="the commit the pull request brings")
    report.add_argument("--base", required=True, metavar="REV", help="the commit the fleet started at")
    actions.add_parser(
        "restart-endpoint",
        help="restart only the endpoint on its port (state replayed); wait until the agents are back",
    )
    for action in actions.choices.values():
        action.add_argument(
            "--state-dir", type=Path, default=None, help="default: .rehearsal/ at the repo root"
        )


def run(args) -> int:
    fleet = _rehearsal.load("harness.fleet")
    FleetRecord = _rehearsal.load("harness.fleet_record").FleetRecord
    state_dir = args.state_dir or fleet.default_state_dir()
    if args.action == "up":
        offline_after = fleet.OFFLINE_AFTER if args.offline_after is None else args.offline_after
        result = fleet.up(
            state_dir,
            hosts=args.hosts,
            app_repo=args.app_repo,
            revision=args.revision,
            db=args.db,
            offline_after=offline_after,
            aws_readings=readings.choose(args.aws_readings),
            foreign_instances=args.foreign_instances,
            worker_hosts=args.worker_hosts,
            progress=_progress,
        )
        print(_table(result))
        for number, sha in enumerate(FleetRecord.load(state_dir).revisions, 1):
            print(f"revision {number}: {sha}")
        print(f'Next: eval "$(releaseflow local env --state-dir {shlex.quote(str(state_dir))})"')
    elif args.action == "status":
        result = fleet.status(state_dir)
        print(json.dumps(result.to_dict(), indent=2) if args.json else _table(result))
    elif args.action == "env":
        for key, value in fleet.env(state_dir).items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.action == "report":
        pull_request = _rehearsal.load("pull_request")
        with aws_errors():
            verdict = pull_request.report(client("ssm"), state_dir, args.head, args.base)
        print(verdict.markdown, end="")
        return 0 if verdict.passed else 1
    elif args.action == "restart-endpoint":
        print(fleet.restart_endpoint(state_dir, progress=_progress))
    else:
        fleet.down(state_dir, progress=_progress)
    return 0


def _progress(line: str) -> None:
    print(f"- {line}", file=sys.stderr, flush=True)


def _table(result) -> str:
    """A fleet.FleetStatus as the table `up` and `status` print."""
    rows = [("INSTANCE", "ROLE", "PORT", "CHECKED OUT", "SERVING", "RUNNING", "LB STATE")]
    for host in result.hosts:
        rows.append(
            (
                host.instance_id,
                host.role,
                str(host.port),
                host.revision[:12],
                host.serving[:12] or "-",
                "yes" if host.running else "no",
                host.lb_state,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join([f"endpoint {result.endpoint_url}   load balancer {result.lb_url}", *lines])


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
