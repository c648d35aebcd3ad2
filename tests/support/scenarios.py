"""Shared helpers for failure scenarios on a rehearsal fleet: fleets, new commits, load and consistency."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from releaseflow import readings
from releaseflow.rehearsal.harness import app_repo, fleet, provision
from releaseflow.rehearsal.harness.app_repo import git
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from releaseflow.ssm import EXECUTION_TERMINAL

RELEASEFLOW = Path(sys.executable).parent / "releaseflow"
# The AWS CLI of this interpreter (the test extras install it), never one found elsewhere on PATH.
AWS_CLI = str(Path(sys.executable).parent / "aws")


@dataclass(frozen=True)
class Fleet:
    """A running rehearsal fleet as a test sees it."""

    state_dir: Path
    environment: dict[str, str]
    record: FleetRecord

    @property
    def revisions(self) -> tuple[str, ...]:
        return self.record.revisions

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return self.record.instance_ids

    @property
    def lb_url(self) -> str:
        return self.record.lb.url

    def host_root(self, instance_id: str) -> Path:
        return self.record.host(instance_id).root


# Which open readings the scenario fleets play: `default`, `strict` or a JSON file (`make test-default`).
READINGS_VARIABLE = "RELEASEFLOW_AWS_READINGS"


# What `every_reading=True` runs a module's tests under when RELEASEFLOW_AWS_READINGS names none: the
# settings `releaseflow probe` calls proven.
EVERY_READING = tuple(readings.PROVEN_SETTINGS)


def fleet_fixture(
    hosts: int = 3,
    name: str = "rehearsal",
    aws_readings: str | None = None,
    every_reading: bool = False,
    **up_options,
):
    """A module-scoped fixture `name` yielding a `Fleet` of `hosts` hosts at revision 1, taken down after.

    `aws_readings` (default|strict|FILE) chooses the open readings the fleet plays; without it, the
    environment variable RELEASEFLOW_AWS_READINGS does, else `strict` (the readings that hurt). With
    `every_reading` and neither of them, the module's tests run once on a fleet of each proven setting.
    A module run under one setting only must not depend on a reading: after its tests, the endpoint's
    ledger of readings met must hold no row the proven settings play differently (else the fixture
    fails, naming the row and the step that met it). `up_options` go to `fleet.up`.
    """
    named = aws_readings or os.environ.get(READINGS_VARIABLE)
    params = EVERY_READING if every_reading and not named else (named or "strict",)

    @pytest.fixture(scope="module", name=name, params=params, ids=[f"readings={p}" for p in params])
    def _fixture(request):
        chosen = readings.choose(request.param)
        with fleet_state_dir("rf-scenario-") as state_dir:
            fleet.up(state_dir, hosts=hosts, aws_readings=chosen, **up_options)
            running = Fleet(
                state_dir=state_dir,
                environment={**os.environ, **fleet.env(state_dir)},
                record=FleetRecord.load(state_dir),
            )
            yield running
            if len(params) == 1:
                assert_depends_on_no_reading(running.record.endpoint_url)

    return _fixture


def readings_met(endpoint_url: str) -> dict[str, dict]:
    """The endpoint's ledger: each open reading its runs met, with the reading played and where."""
    with urllib.request.urlopen(f"{endpoint_url}/_rehearsal/readings", timeout=10) as answer:
        return json.loads(answer.read())["met"]


def assert_depends_on_no_reading(endpoint_url: str) -> None:
    """Fail when the runs on the endpoint met an open reading that the proven settings play differently:
    what they proved under one setting might not hold under another, so the module must run under each."""
    met = readings_met(endpoint_url)
    divergent = {name: met for name, met in met.items() if len(readings.PROVEN[name]) > 1}
    if divergent:
        found = "; ".join(
            f"{name} (played {met['reading']} at {', '.join(met['where'])})"
            for name, met in divergent.items()
        )
        pytest.fail(
            f"these tests met open readings the proven settings play differently: {found}. "
            "Run the module under every setting: fleet_fixture(every_reading=True)"
        )


def require_system_packages() -> None:
    """Fail the test, saying what to run, when a Debian package a fleet needs (fleet.REQUIRED) is missing."""
    missing = [tool for tool in fleet.REQUIRED if shutil.which(tool, path=fleet._system_path()) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make system-packages` (as root)")


@contextmanager
def fleet_state_dir(prefix: str) -> Iterator[Path]:
    """A state dir other users can traverse (the hosts run as another user); whatever fleet was brought
    up in it is taken down and the dir removed afterwards. Fails first when a system package is missing."""
    require_system_packages()
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    state_dir.chmod(0o755)
    try:
        yield state_dir
    finally:
        fleet.down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def deploy(rehearsal: Fleet, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `releaseflow deploy` trigger as GitHub Actions does: a subprocess with the fleet's environment."""
    return subprocess.run(
        [RELEASEFLOW, "deploy", *args],
        env=rehearsal.environment,
        cwd=fleet.repo_root(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_deploy(rehearsal: Fleet, *args: str) -> subprocess.Popen:
    """Start `releaseflow deploy` as `deploy` does, without waiting: for a test that acts while it runs."""
    return subprocess.Popen(
        [RELEASEFLOW, "deploy", *args],
        env=rehearsal.environment,
        cwd=fleet.repo_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def client(rehearsal: Fleet, service: str):
    """A boto3 client for the fleet's endpoint."""
    environment = rehearsal.environment
    return boto3.client(
        service,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name=environment["AWS_REGION"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def create_alarm(cloudwatch, name: str) -> str:
    """A CloudWatch metric alarm `name` (on the shop's 5xx count) created in state OK; returns its name."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="shop",
        MetricName="5xx",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
    return name


def ping_status(rehearsal: Fleet, instance_id: str) -> str:
    """The host's PingStatus in DescribeInstanceInformation ("" when it is not listed)."""
    answer = client(rehearsal, "ssm").describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
    )["InstanceInformationList"]
    return answer[0]["PingStatus"] if answer else ""


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll `condition` every 0.2 s until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting until {what}")
        time.sleep(0.2)


def wait_for_execution_end(rehearsal: Fleet, execution: str, timeout: float = 180) -> dict:
    """The execution (GetAutomationExecution) once it ended, its failure or cancel path included."""
    ssm = client(rehearsal, "ssm")

    def get():
        return ssm.get_automation_execution(AutomationExecutionId=execution)["AutomationExecution"]

    wait_until(
        lambda: get()["AutomationExecutionStatus"] in EXECUTION_TERMINAL,
        timeout,
        f"execution {execution} ends",
    )
    return get()


def kill_agent(rehearsal: Fleet, instance_id: str, offline_timeout: float = 60) -> None:
    """SIGKILL the host's agent (commands it runs go on, unreported) and wait until SSM sees it offline."""
    os.kill(int((rehearsal.host_root(instance_id) / "agent.pid").read_text()), signal.SIGKILL)
    wait_until(
        lambda: ping_status(rehearsal, instance_id) != "Online", offline_timeout, f"{instance_id} is offline"
    )


def restart_agent(rehearsal: Fleet, instance_id: str) -> None:
    """Start the host's agent again, as `local up` does, and wait until SSM sees it online."""
    root = rehearsal.host_root(instance_id)
    pid = provision.start_agent(
        root,
        rehearsal.environment["AWS_ENDPOINT_URL"],
        rehearsal.state_dir / "logs" / f"agent-{instance_id}.log",
    )
    (root / "agent.pid").write_text(f"{pid}\n")
    wait_until(lambda: ping_status(rehearsal, instance_id) == "Online", 30, f"{instance_id} is online")


def status_json(rehearsal: Fleet, execution: str) -> dict:
    """What `releaseflow status EXECUTION --json` prints of an execution, parsed."""
    shown = subprocess.run(
        [RELEASEFLOW, "status", execution, "--json"],
        env=rehearsal.environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(shown.stdout)


def executions(ssm) -> list[dict]:
    """Every automation execution the endpoint lists (DescribeAutomationExecutions, all pages)."""
    pages = ssm.get_paginator("describe_automation_executions").paginate()
    return [row for page in pages for row in page["AutomationExecutionMetadataList"]]


def execution_windows(ssm, execution_id: str) -> tuple[dict, list[tuple]]:
    """The execution (GetAutomationExecution) and each of its command steps' (start, end, CommandId)."""
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    steps = ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)["StepExecutions"]
    commands = [
        (s["ExecutionStartTime"], s["ExecutionEndTime"], s["Outputs"]["CommandId"][0])
        for s in steps
        if s["Action"] == "aws:runCommand" and "CommandId" in s.get("Outputs", {})
    ]
    return execution, commands


def execution_id(output: str) -> str:
    """The automation execution id the trigger printed ("started execution ID ...")."""
    return output.split("started execution ", 1)[1].split()[0]


# The load the scenarios put on the load balancer while they deploy: a steady rate, above the 20
# requests a second the load scenario asks for, and bounded whatever the deploy does.
LOAD_RATE = 25
LOAD_MAX_SECONDS = 300


class Sampling:
    """A context manager that calls `sample()` every `interval` seconds, in a thread, until its block
    ends: a test's watcher beside a deploy (the load balancer's target health, a page and its assets)."""

    interval = 0.25

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        raise NotImplementedError


class LoadGenerator:
    """GET /up through the load balancer at a steady rate (loopback only) until stopped or `max_seconds`
    have passed; counts answers by served revision, and failures. One helper for every scenario under load.

    A steady rate, not a tight loop: the load is what the scenario asks for, and leaves the two cores
    to the hosts being deployed.
    """

    def __init__(self, lb_url: str, rate: int = LOAD_RATE, max_seconds: float = LOAD_MAX_SECONDS):
        assert lb_url.startswith("http://127.0.0.1:"), lb_url
        self.url = f"{lb_url}/up"
        self.rate = rate
        self.max_requests = int(rate * max_seconds)
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self.seconds = 0.0
        self.bounded = False  # stopped by max_seconds rather than by the scenario
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadGenerator:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def sent(self) -> int:
        return sum(self.answers.values()) + len(self.failures)

    def _run(self) -> None:
        start = time.monotonic()
        # Enough workers that a slow answer (a host restarting) does not lower the rate.
        with ThreadPoolExecutor(max_workers=16) as pool:
            for number in range(self.max_requests):
                pause = start + number / self.rate - time.monotonic()
                if self._stop.wait(max(pause, 0)):
                    break
                pool.submit(self._one)
            else:
                self.bounded = True
        self.seconds = time.monotonic() - start

    def _one(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                revision = response.headers.get("X-Revision", "")
            with self._lock:
                self.answers[revision] += 1
        except urllib.error.HTTPError as error:
            # An answer from the app names its revision; one from HAProxy itself does not.
            with self._lock:
                self.failures.append(f"{error} from {error.headers.get('X-Revision') or 'the load balancer'}")
        except OSError as error:
            with self._lock:
                self.failures.append(str(error))


def puma_pid(rehearsal: Fleet, instance_id: str) -> int:
    """The pid of the puma the host's systemctl stand-in started last."""
    return int((rehearsal.host_root(instance_id) / "run" / f"{provision.SERVICE}.pid").read_text())


def deploy_record(state_dir: Path, instance_id: str) -> dict[str, str]:
    """The host's `.git/releaseflow` record (previous-revision, execution-id, rolled-back) as file -> text."""
    record = state_dir / "hosts" / instance_id / "app" / ".git" / "releaseflow"
    if not record.is_dir():
        return {}
    return {path.name: path.read_text().strip() for path in sorted(record.iterdir())}


def host_states(status: fleet.FleetStatus) -> dict[str, tuple[str, str, bool, str]]:
    """Each host's (checked-out revision, revision served, running, load balancer state) by instance id."""
    return {h.instance_id: (h.revision, h.serving, h.running, h.lb_state) for h in status.hosts}


def host_states_once_healthy(rehearsal: Fleet, instance_ids, timeout: float = 30) -> dict:
    """`host_states` of the fleet once the hosts `instance_ids` are healthy in the load balancer."""
    wanted = set(instance_ids)

    def healthy():
        hosts = fleet.status(rehearsal.state_dir).hosts
        return all(h.lb_state == "healthy" for h in hosts if h.instance_id in wanted)

    wait_until(healthy, timeout, f"{', '.join(sorted(wanted))} are healthy in the load balancer")
    return host_states(fleet.status(rehearsal.state_dir))


def assert_fleet_consistent(state_dir: Path, revision: str, lb_timeout: float = 30) -> None:
    """Every host checked out at and serving `revision`, running, healthy in the LB, nothing half-done.

    A host registered again at the end of a deploy needs a few HAProxy checks to turn healthy: the LB
    state is given `lb_timeout` seconds to settle.
    """
    deadline = time.monotonic() + lb_timeout
    status = fleet.status(state_dir)
    while any(h.lb_state != "healthy" for h in status.hosts) and time.monotonic() < deadline:
        time.sleep(0.5)
        status = fleet.status(state_dir)
    seen = host_states(status)
    assert seen == {h.instance_id: (revision, revision, True, "healthy") for h in status.hosts}
    for host in status.hosts:
        app = state_dir / "hosts" / host.instance_id / "app"
        with urllib.request.urlopen(f"http://127.0.0.1:{host.port}/up", timeout=5) as response:
            assert response.headers["X-Revision"] == revision, host.instance_id
        assert git(app, "status", "--porcelain", "--untracked-files=no") == "", host.instance_id
        assert not (app / ".git" / "index.lock").exists(), host.instance_id
        record = deploy_record(state_dir, host.instance_id)
        if record:
            # CheckoutRevision writes both files before it moves HEAD; Rollback marks the same execution.
            assert {"previous-revision", "execution-id"} <= record.keys(), (host.instance_id, record)
            assert record.get("rolled-back", record["execution-id"]) == record["execution-id"], record
            if record.get("rolled-back"):
                assert record["previous-revision"] == revision, (host.instance_id, record)


def roles(rehearsal):
    """(migration host, batch 0 host, batch 1 host): no host is tagged, so the lowest id migrates."""
    return tuple(sorted(rehearsal.instance_ids))


def served(rehearsal, instance_id):
    """The commit the host's puma was last started from (the systemctl stand-in records it)."""
    return (rehearsal.host_root(instance_id) / "run" / "puma.commit").read_text().strip()


def wait_for_invocation(rehearsal, instance_id, document, statuses, process, since):
    """Wait until a `document` command sent after `since` has one of `statuses` on the host."""
    ssm = client(rehearsal, "ssm")

    def seen():
        assert process.poll() is None, "the deploy ended before the moment the test waits for"
        invocations = ssm.list_command_invocations(InstanceId=instance_id)["CommandInvocations"]
        return any(
            i["RequestedDateTime"] >= since and i["DocumentName"] == document and i["Status"] in statuses
            for i in invocations
        )

    wait_until(seen, 120, f"{document} is {'/'.join(statuses)} on {instance_id}")


def stop_host_mid_deploy(
    rehearsal: Fleet, process: subprocess.Popen, since, stopped: str, once_switching: str, timeout: float
) -> tuple[str, str]:
    """`aws ec2 stop-instances` of the host `stopped` once releaseflow-CheckoutRevision runs on the host
    `once_switching`; the deploy's (stdout, stderr). A deploy that did not fail leaves the host started
    again, so that the module's next tests find the whole fleet."""
    try:
        wait_for_invocation(
            rehearsal, once_switching, "releaseflow-CheckoutRevision", ("InProgress",), process, since
        )
        aws_cli(rehearsal, "ec2", "stop-instances", "--instance-ids", stopped)
        return process.communicate(timeout=timeout)
    finally:
        process.kill()
        if process.returncode != 1:
            aws_cli(rehearsal, "ec2", "start-instances", "--instance-ids", stopped)


def assert_cancel_rolled_back(
    rehearsal: Fleet, ended: dict, out: str, revision: str, runbook: str = "releaseflow-RollbackFleet"
) -> dict:
    """The cancelled execution `ended` started `runbook` (RollBackOnCancel), the trigger's output `out`
    says it ended Success with every host back on `revision`, and so it is; returns it."""
    steps = {s["StepName"]: s for s in ended["StepExecutions"]}
    assert steps["RollBackOnCancel"]["StepStatus"] == "Success", steps
    rollback_id = steps["RollBackOnCancel"]["Outputs"]["RollbackExecutionId"][0]
    assert (
        f"rollback {rollback_id} ({runbook}) ended Success: every host is back on "
        f"revision {revision[:12]}" in out
    ), out[-4000:]
    rollback = wait_for_execution_end(rehearsal, rollback_id)
    assert rollback["DocumentName"] == runbook
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert_fleet_consistent(rehearsal.state_dir, revision)
    return rollback


def aws_cli(rehearsal: Fleet, *args: str) -> dict:
    """Run this venv's AWS CLI against the rehearsal's endpoint (AWS_ENDPOINT_URL of its environment); its JSON answer."""
    result = subprocess.run(
        [AWS_CLI, *args, "--output", "json"],
        env=rehearsal.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"aws {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def snapshot(rehearsal: Fleet) -> dict:
    """Each host's puma pid and deploy record: what a host untouched by a deploy keeps."""
    return {
        i: (puma_pid(rehearsal, i), deploy_record(rehearsal.state_dir, i)) for i in rehearsal.instance_ids
    }


# The trick behind "fails on one chosen host": this revision's /up answers 503 on a host whose .env
# sets SCENARIO_UNHEALTHY=1. Revision 1 ignores the key, so only a restart on this revision notices it.
@contextmanager
def unhealthy_on(rehearsal: Fleet, host: str, parent: str | None = None) -> Iterator[str]:
    """app_repo.unhealthy_on on this fleet."""
    with app_repo.unhealthy_on(rehearsal.state_dir, host, parent) as revision:
        yield revision
