"""`releaseflow deploy`: start the release runbook for a revision, follow it, exit by its outcome."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from releaseflow import report, schedules
from releaseflow.commands._aws import aws_errors, client
from releaseflow.commands._options import add_config, add_environment
from releaseflow.config import load_environment, parameter_values
from releaseflow.deploy import Deployment, prepare_request, run_deploy
from releaseflow.errors import UsageError
from releaseflow.execution import Step
from releaseflow.result import Result, deploy_epilog
from releaseflow.sources import resolve_root

NAME = "deploy"
ORDER = 30
HELP = "start the release runbook for a revision and follow it to the end"
DESCRIPTION = """\
Start the release runbook (StartAutomationExecution) with the environment's parameters from the
deploy configuration (releaseflow.yaml or $RELEASEFLOW_CONFIG), then follow it: step transitions,
per-host command status, and on failure the failing host's output. The revision is checked against
the runbook's Revision pattern, and every parameter against the runbook's own patterns, before any
AWS call. Another running deploy to the same fleet makes it refuse (or wait, with --wait-lock); of two
started at the same instant the younger stops itself. SIGINT/SIGTERM stops the execution before exiting;
a cancel during the batches starts the fleet rollback, which is followed to its end (a second signal
stops waiting, never the rollback).
With an alarm (--alarm or `alarm:`), Automation watches it and stops the execution when it goes into
ALARM: the runbook's cancel path puts the fleet back, and the deploy fails naming the alarm.
In GitHub Actions it groups output by phase, annotates the failure, writes execution-id and status
to $GITHUB_OUTPUT and a summary (hosts table, gantt chart) to $GITHUB_STEP_SUMMARY."""
EPILOG = deploy_epilog()

_NAMED = {"fleet": "FleetTagValue", "batch_size": "BatchSize", "target_group": "TargetGroupArn"}


def register(parser) -> None:
    parser.add_argument("--revision", required=True, help="the git commit to deploy")
    add_environment(parser, "environment in the configuration")
    add_config(parser)
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a runbook parameter (repeat a name for a list)",
    )
    parser.add_argument("--fleet", help="FleetTagValue: the fleet to deploy to")
    parser.add_argument("--batch-size", help="BatchSize: hosts per rolling batch (count or percentage)")
    parser.add_argument("--target-group", help="TargetGroupArn: the load balancer's target group")
    parser.add_argument(
        "--alarm",
        metavar="NAME",
        help="CloudWatch alarm that stops the deploy when it goes into ALARM, passed as AlarmConfiguration "
        "(default: `alarm:` in the configuration); the deploy then fails (exit 1) naming it",
    )
    parser.add_argument(
        "--ignore-alarm-poll-failure",
        action="store_true",
        help="go on when Automation cannot read the alarm (default: an unreadable alarm stops the deploy)",
    )
    parser.add_argument("--runbook", help="runbook name (default: from the configuration)")
    parser.add_argument("--region", help="AWS region (default: from the configuration, else the chain)")
    parser.add_argument(
        "--root",
        type=Path,
        help="folder holding automation/, for the revision and parameter checks (default: `documents:` "
        "in the configuration, else ./automation, else the packaged runbooks)",
    )
    parser.add_argument("--no-wait", action="store_true", help="print the execution id and exit 0")
    parser.add_argument("--timeout", type=seconds, help="stop the execution after this many seconds")
    parser.add_argument(
        "--wait-lock",
        action="store_true",
        help="wait for a running deploy to the same fleet instead of refusing",
    )
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="schedule the deploy once at TIME (ISO 8601, UTC "
        "unless a zone is given) with EventBridge Scheduler instead of starting it now",
    )
    parser.add_argument(
        "--scheduler-role",
        help="role Scheduler assumes for --at (default: scheduler_role_arn in the configuration)",
    )


def run(args) -> int:
    with aws_errors():
        return _run(args)


def _run(args) -> int:
    environment = load_environment(args.config, args.environment)
    if args.runbook:
        environment = replace(environment, runbook=args.runbook)
    if args.alarm:
        environment = replace(environment, alarm=args.alarm)
    if args.ignore_alarm_poll_failure:
        environment = replace(environment, ignore_alarm_poll_failure=True)
    root = resolve_root(args.root, environment.documents)
    request = prepare_request(environment, args.revision, _overrides(args), root, os.environ)
    region = args.region or environment.region
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    if args.at:
        return _schedule(args, environment, request, region)
    out = Printer(github, sys.stdout.isatty())
    deployment = run_deploy(
        client("ssm", region),
        request,
        wait=not args.no_wait,
        wait_lock=args.wait_lock,
        timeout=args.timeout,
        progress=out,
        stopping=stop_on_signals,
        logs=client("logs", region),
    )
    if deployment.outcome is None:
        _outputs(github, deployment.execution_id, "InProgress", deployment.url)
        out.close()
        return 0
    return report_result(out, deployment, environment.name, github)


def report_result(out: Printer, deployment: Deployment, environment: str, github: bool) -> int:
    """The hosts table, the failure and the verdict line (in Actions also the annotation, the outputs
    and the job summary); the exit code by the outcome."""
    outcome, execution_id, url = deployment.outcome, deployment.execution_id, deployment.url
    assert outcome is not None, "only a deploy that was followed has a result to report"
    out.phase("Result")
    out.line(report.hosts_text(outcome.snapshot).rstrip("\n"))
    if outcome.failure:
        out.line(report.failure_text(outcome.failure).rstrip("\n"))
    rollback = report.rollback_text(outcome.snapshot, deployment.rollback) if deployment.rollback else ""
    if rollback:
        out.line(rollback)
    stopped_by = "".join(f": {alarm.reason}" for alarm in outcome.snapshot.triggered_alarms)
    out.line(f"deploy {outcome.result}: execution {execution_id} ended {outcome.snapshot.status}{stopped_by}")
    out.close()
    if github and outcome.result != Result.SUCCESS:
        print(report.error_annotation(outcome))
    _outputs(github, execution_id, outcome.snapshot.status, url)
    if github and os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(report.deploy_markdown(outcome, environment, url, rollback))
    return deployment.exit_code


class _Stop:
    """Counts SIGINT/SIGTERM; a signal ends the pause it comes in (and only that one)."""

    def __init__(self):
        self.count = 0
        self._woken = threading.Event()

    def request(self) -> None:
        self.count += 1
        self._woken.set()

    def is_set(self) -> bool:
        return self.count > 0

    def requests(self) -> int:
        return self.count

    def pause(self, seconds: float) -> None:
        # Cleared once woken: after the first signal the settle wait must really wait, and a second
        # signal must still cut short a pause while the rollback is followed.
        if self._woken.wait(seconds):
            self._woken.clear()


@contextlib.contextmanager
def stop_on_signals():
    """From before the start on, so a signal that comes while starting still stops the execution."""
    stop = _Stop()
    previous = {sig: signal.signal(sig, lambda *_: stop.request()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _schedule(args, environment, request, region) -> int:
    role = args.scheduler_role or environment.scheduler_role_arn
    if not role:
        raise UsageError(
            "--at needs the Scheduler role: --scheduler-role or scheduler_role_arn in the config"
        )
    expression = schedules.at_expression(args.at, datetime.now(UTC))
    name = schedules.schedule_name(request, environment.name)
    schedules.create(
        client("scheduler", region),
        request,
        name=name,
        expression=expression,
        role_arn=role,
        group=environment.schedule_group,
    )
    print(f"scheduled {request.runbook} for revision {args.revision}: {name} {expression}")
    return 0


def _overrides(args) -> dict[str, list[str]]:
    overrides: dict[str, list[str]] = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        overrides.setdefault(name, []).append(value)
    for attribute, parameter in _NAMED.items():
        value = getattr(args, attribute)
        if value is not None:
            overrides[parameter] = parameter_values(value)
    return overrides


def _outputs(github: bool, execution_id: str, status: str, url: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if github and path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"execution-id={execution_id}\nstatus={status}\nconsole-url={url}\n")


def seconds(text: str) -> float:
    """A positive number of seconds (argparse type): a zero or negative timeout would stop at once."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


class Printer:
    """Progress on stdout: ::group:: per phase in GitHub Actions, a live status line on a terminal."""

    def __init__(self, github: bool, tty: bool):
        self.github = github
        self.tty = tty and not github
        self.grouped = False
        self.live = False
        # Top-level steps already given a phase: a fast step can go from Pending to Success between
        # two polls, so a phase opens the first time a step is seen, not when it is seen InProgress.
        self.phased: set[str] = set()

    def phase(self, name: str) -> None:
        if self.github:
            self._end_group()
            self.line(f"::group::{name}")
            self.grouped = True
        else:
            self.line(f"== {name}")

    def line(self, text: str) -> None:
        if self.live:
            print("\r\x1b[K", end="")  # the live status line gives way to the next line of output
            self.live = False
        print(text, flush=True)

    def progress(self, snapshot, changed) -> None:
        for item in changed:
            if (
                isinstance(item, Step)
                and not item.parent
                and item.status != "Pending"
                and item.key not in self.phased
            ):
                self.phased.add(item.key)
                self.phase(f"Step {item.name}")
            self.line(report.event_line(item))
        if self.tty and not snapshot.finished:
            print(report.status_line(snapshot), end="", flush=True)
            self.live = True

    def close(self) -> None:
        self._end_group()
        if self.live:
            print()
            self.live = False

    def _end_group(self) -> None:
        if self.grouped:
            print("::endgroup::", flush=True)
            self.grouped = False
