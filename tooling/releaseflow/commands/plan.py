"""`releaseflow plan`: show which host migrates and the batches the others follow in, offline."""

from __future__ import annotations

from pathlib import Path

from releaseflow.rollout import DEPLOY_RUNBOOK, plan_rollout, render

NAME = "plan"
ORDER = 30
HELP = "show the rollout plan for a list of hosts (migration host and batches)"
DESCRIPTION = """\
Show how releaseflow-Deploy would roll out to these hosts: which one checks out and migrates
first, then the batches the others follow in. It runs the runbook's own planning script
offline, so the answer is the runbook's, with every host assumed running and online."""
EPILOG = """\
examples:
  releaseflow plan --hosts i-0a,i-0b,i-0c
  releaseflow plan --hosts i-0a,i-0b,i-0c,i-0d --migration-host i-0c --batch-size 50%

exit codes: 0 planned; 1 the runbook would refuse (for example two migration hosts); 2 usage error."""


def register(parser) -> None:
    parser.add_argument(
        "--hosts", required=True, metavar="ID,ID,...", help="instance ids of the fleet, comma-separated"
    )
    parser.add_argument(
        "--migration-host",
        action="append",
        default=[],
        metavar="ID",
        help="the host tagged as migration host (repeat it to see the runbook refuse two)",
    )
    parser.add_argument(
        "--batch-size",
        default="1",
        metavar="N|P%",
        help="hosts a batch after the migration host: a count or a percentage of the fleet (default 1)",
    )
    parser.add_argument(
        "--runbook", type=Path, default=DEPLOY_RUNBOOK, help="the Deploy runbook to plan with"
    )


def run(args) -> int:
    hosts = [host.strip() for host in args.hosts.split(",") if host.strip()]
    plan = plan_rollout(
        hosts, migration_hosts=args.migration_host, batch_size=args.batch_size, runbook=args.runbook
    )
    print(render(plan))
    return 0
