"""`releaseflow probe`: which reading of each open behaviour an account follows, and is it enough."""

from __future__ import annotations

import json

from releaseflow.commands._aws import aws_errors, client
from releaseflow.commands._options import instance_id
from releaseflow.probe import DEFAULT_PREFIX, Probe

NAME = "probe"
ORDER = 65
HELP = "ask an AWS account (a sandbox, or the rehearsal) which reading of each open behaviour holds"
DESCRIPTION = """\
For each behaviour AWS's documentation leaves open (docs/aws-semantics.md, Open readings), publish a
small probe runbook under PREFIX, run it, and report the reading the service follows, what the
runbooks are proven under, and ok or MISMATCH. Everything it creates is deleted at the end, also
when interrupted (unless --keep). Run it once in a sandbox account before the first production
deploy. --json prints {NAME: READING}, the file `releaseflow local up --aws-readings FILE` takes.
Probing the outputs of a failed aws:runCommand needs a managed instance (--instance-id): it runs
`exit 3` there."""
EPILOG = """\
exit codes: 0 the runbooks are proven under every reading observed; 1 a MISMATCH, a reading that
could not be observed, or AWS refused a probe call; 2 usage error."""


def register(parser) -> None:
    parser.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help=f"document name prefix (default {DEFAULT_PREFIX})"
    )
    parser.add_argument(
        "--instance-id", type=instance_id, help="a managed instance for the probe that needs a host"
    )
    parser.add_argument("--json", action="store_true", help="print the observed readings as JSON")
    parser.add_argument("--keep", action="store_true", help="leave the probe documents in place")
    parser.add_argument("--region", help="AWS region (default: the standard chain)")


def run(args) -> int:
    with aws_errors():
        report = Probe(
            client("ssm", args.region), prefix=args.prefix, instance_id=args.instance_id, keep=args.keep
        ).run()
    print(json.dumps(report.readings(), indent=2, sort_keys=True) if args.json else report.table())
    return 0 if report.ok else 1
