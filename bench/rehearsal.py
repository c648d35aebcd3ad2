"""rehearsal.* and trigger.*: rolling deploys of 3 Rails hosts through `releaseflow deploy`, timed, and
deploys that fail on the last host and roll the fleet back."""

from __future__ import annotations

import itertools
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench.critical_path import critical_path_seconds
from bench.stats import Summary, summarize
from releaseflow import report
from releaseflow.commands._aws import RETRIES
from releaseflow.config import load_environment
from releaseflow.deploy import prepare_request, run_deploy
from releaseflow.execution import Invocation, Snapshot
from releaseflow.follow import busiest_minute, fetch
from releaseflow.rehearsal.harness import app_repo, fleet, haproxy
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from releaseflow.result import Result

# Deliberate waits of the release runbook, for each batch (the migration host is the first): a drain hands
# over as soon as the load balancer shows the batch draining (no wait: the rest of the drain, the host's own
# quiet period, is inside the switch command's duration), and a registered target is healthy after the load
# balancer's `rise` checks: the first may come at once, the others follow at HAProxy's fastinter, so at
# least (rise - 1) transition intervals.
DRAINED = 0.0
HEALTHY = (haproxy.RISE - 1) * haproxy.TRANSITION_INTERVAL_MS / 1000
WAITS = {
    "DrainBatch": DRAINED,
    "RegisterBatch": HEALTHY,
}


# Documents whose own durations make up a host's switch once it is out of the load balancer.
SWITCH_DOCUMENTS = ("releaseflow-CheckoutRevision", "releaseflow-RestartServices", "releaseflow-HealthCheck")
# The same for a host's rollback (RollbackFleet): the previous tree back and its services restarted, then
# the health check.
ROLLBACK_DOCUMENTS = ("releaseflow-Rollback", "releaseflow-HealthCheck")


def own_seconds_per_host(invocations: Sequence[Invocation], documents: Sequence[str]) -> dict[str, float]:
    """Per host, the summed own durations (start to end) of its finished invocations of `documents`."""
    per_host: dict[str, float] = {}
    for invocation in invocations:
        if invocation.document in documents and invocation.start and invocation.end:
            spent = (invocation.end - invocation.start).total_seconds()
            per_host[invocation.instance_id] = per_host.get(invocation.instance_id, 0.0) + spent
    return per_host


def not_healthy_seconds(samples: Sequence[tuple[float, dict[str, str]]]) -> dict[str, float]:
    """Per target, the seconds it was not `healthy` in (time, {target: state}) samples taken in order.

    Each interval between two samples counts for the targets not healthy at its start; a target
    missing from a sample (deregistered: DescribeTargetHealth of the group lists registered ones) is
    out of service too.
    """
    targets = {target for _, states in samples for target in states}
    seconds = dict.fromkeys(targets, 0.0)
    for (at, states), (following, _) in itertools.pairwise(samples):
        for target in targets:
            if states.get(target) != "healthy":
                seconds[target] += following - at
    return seconds


class HealthSampler:
    """DescribeTargetHealth every `interval` seconds in a thread, while a deploy runs."""

    def __init__(self, describe: Callable[[], dict[str, str]], interval: float = 0.2):
        self._describe = describe
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[tuple[float, dict[str, str]]] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._describe()))
            self._stop.wait(self._interval)
        self.samples.append((time.monotonic(), self._describe()))


@dataclass(frozen=True)
class DeployRun:
    """One deploy as the trigger saw it and as the endpoint recorded it."""

    snapshot: Snapshot
    started: float
    exited: float
    calls: int
    # Seconds each host was not healthy in the load balancer during the deploy (from samples).
    out_of_service: tuple[float, ...] = ()
    # When (seconds) the trigger made each of its calls.
    call_times: tuple[float, ...] = ()

    @property
    def switch_s(self) -> list[float]:
        """Per host, the own durations of its checkout, restart and health check commands."""
        return list(own_seconds_per_host(self.snapshot.invocations, SWITCH_DOCUMENTS).values())

    @property
    def deploy_s(self) -> float:
        return (self.snapshot.end - self.snapshot.start).total_seconds()

    @property
    def steps_per_batch(self) -> float:
        """Sequential Automation steps per batch on this deploy: UpdateBatches' nested steps per iteration."""
        nested = [step for step in self.snapshot.steps if step.parent == "UpdateBatches"]
        return len(nested) / len({step.iteration for step in nested})

    @property
    def critical_path_s(self) -> float:
        return critical_path_seconds(self.snapshot.steps, self.snapshot.invocations, WAITS)

    @property
    def detect_latency_s(self) -> float:
        """From the execution's end (ExecutionEndTime) to the trigger returning."""
        return self.exited - self.snapshot.end.timestamp()

    @property
    def calls_per_min(self) -> float:
        return self.calls * 60 / (self.exited - self.started)

    @property
    def busiest_minute_calls(self) -> int:
        """The most calls the trigger made in any 60 s (a short deploy's every call may fall in one)."""
        return busiest_minute(list(self.call_times))


def deploy(
    state_dir: Path,
    revision: str,
    overrides: Mapping[str, list[str]] | None = None,
    expect: Result = Result.SUCCESS,
) -> DeployRun:
    """Run the deploy `releaseflow deploy` runs (deploy.run_deploy), counting its API calls; fails unless
    it ends as `expect`."""
    values = fleet.env(state_dir)
    environment = load_environment(values["RELEASEFLOW_CONFIG"], values["RELEASEFLOW_ENVIRONMENT"])
    request = prepare_request(environment, revision, overrides or {}, fleet.repo_root(), {})
    # The trigger's client, made as the CLI makes it (standard retries), on a session of its own whose
    # every call is counted.
    session = boto3.session.Session(region_name=fleet.REGION, **fleet.DUMMY_CREDENTIALS)
    names: list[str] = []
    times: list[float] = []

    def counted(model, **_):
        names.append(model.name)
        times.append(time.monotonic())

    session.events.register("before-call.*.*", counted)
    ssm = session.client("ssm", endpoint_url=values["AWS_ENDPOINT_URL"], config=RETRIES)
    arn = FleetRecord.load(state_dir).lb.target_group_arn
    elbv2 = fleet.client("elbv2", values["AWS_ENDPOINT_URL"])

    def describe() -> dict[str, str]:
        found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found}

    started = time.time()
    with HealthSampler(describe) as sampler:
        deployment = run_deploy(ssm, request)
    exited = time.time()
    if deployment.outcome.result != expect:
        failure = report.failure_text(deployment.outcome.failure) if deployment.outcome.failure else ""
        raise RuntimeError(f"the deploy of {revision} ended {deployment.outcome.result}:\n{failure}")
    out_of_service = tuple(not_healthy_seconds(sampler.samples).values())
    snapshot = fetch(fleet.client("ssm", values["AWS_ENDPOINT_URL"]), deployment.execution_id)
    return DeployRun(snapshot, started, exited, len(names), out_of_service, tuple(times))


def measure(state_dir: Path, revisions: list[str]) -> dict[str, Summary]:
    """Deploy each revision in turn; the figures are medians over the deploys."""
    runs = [deploy(state_dir, revision) for revision in revisions]
    return figures(runs)


def figures(runs: list[DeployRun]) -> dict[str, Summary]:
    """The rehearsal and trigger figures of these deploys."""
    return {
        "runbook.steps_per_batch": summarize([r.steps_per_batch for r in runs], 2),
        "rehearsal.deploy_s": summarize([r.deploy_s for r in runs], 2),
        # Per host over all runs: out of service should be the switch plus the load balancer's own waits.
        "rehearsal.out_of_service_s": summarize([s for r in runs for s in r.out_of_service], 2),
        "rehearsal.switch_s": summarize([s for r in runs for s in r.switch_s], 2),
        "rehearsal.critical_path_s": summarize([r.critical_path_s for r in runs], 2),
        "rehearsal.overhead_ratio": summarize([r.deploy_s / r.critical_path_s for r in runs], 3),
        "trigger.detect_latency_s": summarize([r.detect_latency_s for r in runs], 2),
        "trigger.calls_per_min": summarize([r.calls_per_min for r in runs], 1),
        "trigger.busiest_minute_calls": summarize([r.busiest_minute_calls for r in runs], 0),
    }


# A deregistration delay as production target groups have it (ELB's default is 300 s), for
# rehearsal.out_of_service_30s_*: the rehearsal's own 2 s would hide a drain that waits it out.
LONG_DELAY = 30
LOAD_RATE = 25


class SteadyLoad:
    """GET /up through the load balancer at `rate` a second, in a thread, counting failed requests."""

    def __init__(self, lb_url: str, rate: int = LOAD_RATE):
        self.url = f"{lb_url}/up"
        self.rate = rate
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for number in itertools.count():
                if self._stop.wait(max(start + number / self.rate - time.monotonic(), 0)):
                    return
                pool.submit(self._one)

    def _one(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                response.read()
            failed = 0
        except OSError:
            failed = 1
        with self._lock:
            self.sent += 1
            self.failed += failed


def measure_long_delay(state_dir: Path, revisions: list[str]) -> dict[str, Summary]:
    """With a 30 s deregistration delay: each revision deployed once without traffic and once under a
    steady 25 requests a second; per host out of service, and the failed requests of each loaded deploy."""
    values = fleet.env(state_dir)
    elbv2 = fleet.client("elbv2", values["AWS_ENDPOINT_URL"])
    arn = FleetRecord.load(state_dir).lb.target_group_arn

    def delay(seconds: int) -> None:
        attribute = {"Key": "deregistration_delay.timeout_seconds", "Value": str(seconds)}
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[attribute])

    quiet: list[float] = []
    loaded: list[float] = []
    failed: list[float] = []
    delay(LONG_DELAY)
    try:
        for revision, back in revisions:
            quiet += deploy(state_dir, revision).out_of_service
            with SteadyLoad(FleetRecord.load(state_dir).lb.url) as load:
                loaded += deploy(state_dir, back).out_of_service
            failed.append(load.failed)
    finally:
        delay(fleet.DEREGISTRATION_DELAY)
    return {
        "rehearsal.out_of_service_30s_s": summarize(quiet, 2),
        "rehearsal.out_of_service_30s_load_s": summarize(loaded, 2),
        "rehearsal.failed_requests_30s_load": summarize(failed, 0),
    }


# Enough tries for the healthy hosts (each is up within a few seconds), few enough that the failing host's
# health check gives up soon: the rollback's own health checks take the same value.
ROLLBACK_HEALTH_RETRIES = "10"


def measure_rollback(state_dir: Path, serving: str, runs: int) -> dict[str, Summary]:
    """Deploys of a revision whose /up fails on the last host of the rollout (the highest id: no host is
    tagged to migrate, so the lowest migrates first), each rolling every host back to `serving`, the
    revision the fleet serves; per host, the own durations of its rollback commands."""
    last = max(FleetRecord.load(state_dir).instance_ids)
    rolled_back: list[float] = []
    for _ in range(runs):
        with app_repo.unhealthy_on(state_dir, last, parent=serving) as unhealthy:
            run = deploy(
                state_dir, unhealthy, {"HealthCheckRetries": [ROLLBACK_HEALTH_RETRIES]}, expect=Result.FAILED
            )
        ssm = fleet.client("ssm", fleet.env(state_dir)["AWS_ENDPOINT_URL"])
        for rollback_id in run.snapshot.rollback_ids:
            rollback = fetch(ssm, rollback_id)
            rolled_back += own_seconds_per_host(rollback.invocations, ROLLBACK_DOCUMENTS).values()
    return {"rehearsal.rollback_s": summarize(rolled_back, 2)}
