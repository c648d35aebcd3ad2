"""`releaseflow demo`: validate, bring up a local fleet, deploy revision 2 for real, report, take it down."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

from releaseflow.commands import _rehearsal, deploy, validate
from releaseflow.commands._aws import aws_errors
from releaseflow.commands.local import _positive
from releaseflow.config import load_environment
from releaseflow.deploy import Deployment, prepare_request, run_deploy
from releaseflow.execution import host_summaries
from releaseflow.follow import fetch
from releaseflow.result import briefly, deploy_only
from releaseflow.sources import resolve_root, source_folders
from releaseflow.validation import validate_paths

NAME = "demo"
ORDER = 70
HELP = "a guided tour: validate, local up, a real rolling deploy with a migration, local down"
DESCRIPTION = """\
Show what releaseflow does, on this machine, in well under three minutes:
  1. validate documents/ and automation/ offline (as `releaseflow validate --strict`);
  2. bring up the local rehearsal in .rehearsal/ (as `releaseflow local up`): N hosts running the
     bundled Rails app at revision 1, web hosts (puma) behind HAProxy and worker hosts (the app's job
     worker, tagged releaseflow:role=worker), a rehearsal already running there taken down first;
  3. deploy revision 2, which adds a database migration, with `releaseflow deploy` and the `local`
     environment: the migration runs once, then the hosts are replaced one batch at a time, the web
     hosts out of the load balancer, the workers quieted first;
  4. print each host's role, part in the deploy, revision before -> after and health;
  5. take the fleet down (also on failure or Ctrl-C), unless --keep.
Needs root and the Debian packages of `make system-packages`; `make demo` runs it."""
EPILOG = f"""\
exit codes: 0 the deploy succeeded; 1 findings, the fleet did not come up, or the deploy failed;
{briefly(deploy_only())} (as `releaseflow deploy`); 130 Ctrl-C."""

PHASES = 5


def register(parser) -> None:
    parser.add_argument("--hosts", type=_positive, default=3, help="number of hosts (default 3)")
    parser.add_argument(
        "--worker-hosts",
        type=int,
        default=None,
        metavar="N",
        help="how many of them are worker hosts (default 1; 0 with one host: a web host stays)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the fleet running at the end (`releaseflow local down` stops it)",
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="default: .rehearsal/ at the repo root")


def run(args) -> int:
    started = time.monotonic()
    fleet = _rehearsal.load("harness.fleet")
    record = _rehearsal.load("harness.fleet_record")
    root = resolve_root()
    state_dir = (args.state_dir or fleet.default_state_dir()).resolve()
    workers = (1 if args.hosts > 1 else 0) if args.worker_hosts is None else args.worker_hosts
    if not 0 <= workers < args.hosts:
        print(f"releaseflow demo: --worker-hosts {workers}: choose 0 to {args.hosts - 1} (a web host stays)")
        return 2
    web = args.hosts - workers
    print(
        f"releaseflow demo: a rolling deploy of a Rails app on {args.hosts} local hosts: {web} web behind "
        f"HAProxy, {workers} worker"
    )

    _phase(1, "Validate the documents offline (releaseflow validate --strict)")
    folders = source_folders(root)
    findings = validate_paths(folders)
    if findings:
        validate.render(findings, "text")
        print("The documents have findings: fix them before deploying.")
        return 1
    count = sum(1 for folder in folders for path in folder.iterdir() if path.suffix in (".yaml", ".json"))
    _say(f"{count} documents in documents/ and automation/: no findings")

    up = f"releaseflow local up --hosts {args.hosts} --worker-hosts {workers}"
    _phase(2, f"Bring up the local fleet in {state_dir} ({up})")
    _say("an AWS endpoint (moto + Automation + Run Command), one checkout of the app per host running puma")
    _say("(web) or the app's job worker (worker), an agent per host running the commands it is sent, one")
    _say("shared SQLite database, HAProxy in front of the web hosts")
    fleet.down(state_dir, progress=lambda line: _say(f"previous rehearsal: {line}"))
    try:
        before = fleet.up(
            state_dir, hosts=args.hosts, worker_hosts=workers, progress=lambda line: _say(f"- {line}")
        )
        first, second = record.FleetRecord.load(state_dir).revisions[:2]
        _say(f"every host serves revision 1 ({first[:12]}) and is healthy behind the load balancer")

        _phase(3, f"Deploy revision 2 (releaseflow deploy --revision {second[:12]})")
        _say("revision 2 adds a migration (a `notes` table). The runbook checks it out and migrates on one")
        _say("host first, then takes the web hosts out of the load balancer one batch at a time, checks out,")
        _say("restarts puma, health-checks and puts them back; a worker host is quieted (TSTP), checked out,")
        _say("restarted and must stay up. Each line is a step or a host's command.\n")
        with aws_errors():
            deployment = _deploy(state_dir, second, root)
            rows = _result_rows(state_dir, deployment, before, fleet.status(state_dir))
        exit_code = deployment.exit_code

        _phase(4, "Result")
        print(_table(rows))
        verdict = "succeeded" if exit_code == 0 else f"did not succeed (exit {exit_code})"
        _say(f"the deploy {verdict}; {time.monotonic() - started:.0f} s since the demo started")
        return exit_code
    finally:
        # A failed `up` has already stopped what it started: then there is nothing to keep.
        if args.keep and record.recorded(state_dir):
            _phase(5, "Keep the fleet running (--keep): look around, then take it down")
            where = f" --state-dir {shlex.quote(str(state_dir))}" if args.state_dir else ""
            _say(
                f'eval "$(releaseflow local env{where})"; releaseflow local status{where}; releaseflow status'
            )
            _say(f"releaseflow local down{where}")
        else:
            _phase(5, "Take the fleet down (releaseflow local down)")
            fleet.down(state_dir, progress=lambda line: _say(f"- {line}"))
            _say(f"the logs (endpoint, agents, puma, haproxy) stay in {state_dir / 'logs'}")


def _deploy(state_dir: Path, revision: str, root: Path) -> Deployment:
    """The deploy `releaseflow deploy` runs, with the rehearsal's `local` environment and endpoint, and its
    output; the result is reported as the command reports it."""
    fleet = _rehearsal.load("harness.fleet")
    values = fleet.env(state_dir)
    environment = load_environment(values["RELEASEFLOW_CONFIG"], values["RELEASEFLOW_ENVIRONMENT"])
    root = resolve_root(root, environment.documents)
    request = prepare_request(environment, revision, {}, root, os.environ)
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    out = deploy.Printer(github, sys.stdout.isatty())
    deployment = run_deploy(
        fleet.client("ssm", values["AWS_ENDPOINT_URL"]),
        request,
        progress=out,
        stopping=deploy.stop_on_signals,
        logs=fleet.client("logs", values["AWS_ENDPOINT_URL"]),
    )
    deploy.report_result(out, deployment, environment.name, github)
    return deployment


def _result_rows(state_dir: Path, deployment: Deployment, before, after) -> list[tuple[str, ...]]:
    """Host, its role (web, worker), its part in the deploy, revision before -> after, and health (a web
    host's in the load balancer, a worker's service), from the fleet's statuses (before and after,
    fleet.FleetStatus) and the execution."""
    fleet = _rehearsal.load("harness.fleet")
    ssm = fleet.client("ssm", fleet.env(state_dir)["AWS_ENDPOINT_URL"])
    snapshot = fetch(ssm, deployment.execution_id)
    roles = {host.instance_id: host.role for host in host_summaries(snapshot)}
    revisions = {host.instance_id: host.revision for host in before.hosts}
    rows: list[tuple[str, ...]] = [
        ("HOST", "ROLE", "DEPLOY", "REVISION BEFORE -> AFTER", "SERVING", "HEALTH")
    ]
    for host in after.hosts:
        worker = host.role == "worker"
        rows.append(
            (
                host.instance_id,
                host.role,
                roles.get(host.instance_id, "untouched"),
                f"{revisions[host.instance_id][:12]} -> {host.revision[:12]}",
                host.serving[:12] or "nothing",
                ("running" if host.running else "stopped") if worker else host.lb_state,
            )
        )
    return rows


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _phase(number: int, title: str) -> None:
    print(f"\n[{number}/{PHASES}] {title}", flush=True)


def _say(text: str) -> None:
    print(f"      {text}", flush=True)
