"""`releaseflow plan`: show which host migrates and the batches the others follow in, offline."""

from __future__ import annotations

from pathlib import Path

from releaseflow.commands._options import instance_id, instance_ids
from releaseflow.config import configured_documents, configured_path
from releaseflow.deploy import check_parameters
from releaseflow.documents import load_document
from releaseflow.errors import UsageError
from releaseflow.rollout import DEPLOY_RUNBOOK, plan_rollout, render
from releaseflow.sources import resolve_root, runbook_file

NAME = "plan"
ORDER = 30
HELP = "show the rollout plan for a list of hosts (migration host and batches)"
DESCRIPTION = """\
Show how releaseflow-Deploy would roll out to these hosts: which one checks out and migrates
first, then the batches the others follow in. It runs the runbook's own planning code offline
(the module its PlanRollout step is generated from), so the answer is the runbook's, with every
host assumed running and online."""
EPILOG = """\
examples:
  releaseflow plan --hosts i-0aaaaaaa,i-0bbbbbbb,i-0ccccccc
  releaseflow plan --hosts i-0aaaaaaa,i-0bbbbbbb,i-0ccccccc,i-0ddddddd --migration-host i-0ccccccc \\
    --batch-size 50%

exit codes: 0 planned; 1 the runbook would refuse (for example two migration hosts); 2 usage error
(such as a batch size the runbook's BatchSize pattern refuses)."""


def register(parser) -> None:
    parser.add_argument(
        "--hosts",
        required=True,
        type=instance_ids,
        metavar="ID,ID,...",
        help="instance ids of the fleet, comma-separated",
    )
    parser.add_argument(
        "--migration-host",
        action="append",
        default=[],
        type=instance_id,
        metavar="ID",
        help="the host tagged as migration host (repeat it to see the runbook refuse two)",
    )
    parser.add_argument(
        "--workers",
        type=instance_ids,
        default=[],
        metavar="ID,ID,...",
        help="the hosts tagged releaseflow:role=worker: batches of their own, after the web hosts",
    )
    parser.add_argument(
        "--batch-size",
        default="1",
        metavar="N|P%",
        help="hosts a batch after the migration host: a count or a percentage of the fleet (default 1)",
    )
    parser.add_argument(
        "--runbook",
        type=Path,
        help="the Deploy runbook whose defaults to plan with (default: releaseflow-Deploy under --root)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        help="folder holding automation/ (default: `documents:` in releaseflow.yaml, else ./automation, "
        "else the runbooks packaged with releaseflow)",
    )


def run(args) -> int:
    hosts = args.hosts
    runbook = args.runbook
    if runbook is None:
        configured = configured_documents(configured_path())
        runbook = runbook_file(resolve_root(args.root, configured), DEPLOY_RUNBOOK)
    elif not runbook.is_file():
        raise UsageError(f"--runbook {runbook}: no such file")
    # A batch size the runbook's own parameter pattern refuses is bad input (exit 2), as in deploy.
    specs = load_document(runbook).content.get("parameters") or {}
    check_parameters({"BatchSize": [args.batch_size]}, {"BatchSize": specs.get("BatchSize") or {}})
    plan = plan_rollout(
        hosts,
        migration_hosts=args.migration_host,
        batch_size=args.batch_size,
        runbook=runbook,
        workers=args.workers,
    )
    print(render(plan))
    return 0
