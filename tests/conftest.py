"""Fixtures for the rehearsal tests; the endpoint's are prefixed `endpoint_`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from releaseflow import readings as aws_readings

REPO = Path(__file__).resolve().parents[1]
ENDPOINT_OFFLINE_AFTER = 1.5
# PingStatus refreshes this often (AWS: every 5 minutes); short so the tests that wait for it are quick.
ENDPOINT_PING_INTERVAL = 0.3


class EndpointProcess:
    """A running rehearsal endpoint and helpers to talk to it as clients and as an agent."""

    def __init__(self, url: str, state_dir: Path, process: subprocess.Popen, offline_after: float):
        self.url = url
        self.state_dir = state_dir
        self.process = process
        self.offline_after = offline_after
        self.ping_interval = ENDPOINT_PING_INTERVAL
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"mode": "standard", "max_attempts": 1}),
            )
        return self._clients[service]

    def agent(self, path: str, body: dict) -> dict:
        """POST to the agent API as rehearsal/host/agent.py does."""
        request = urllib.request.Request(
            f"{self.url}/_rehearsal/agent/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    @contextmanager
    def real_agent(self, instance_id: str, root: Path, log: Path) -> Iterator[subprocess.Popen]:
        """The rehearsal's own agent process for `instance_id` (scripts under `root`, stderr to `log`),
        once SSM lists the instance (within 15 s); terminated afterwards."""
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "releaseflow.rehearsal.host.agent",
                "--endpoint",
                self.url,
                "--instance-id",
                instance_id,
                "--host-root",
                str(root),
                "--poll-wait",
                "5",
            ],
            stderr=log.open("w"),
        )
        try:
            deadline = time.monotonic() + 15
            while not self.client("ssm").describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
            )["InstanceInformationList"]:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield agent
        finally:
            agent.terminate()
            agent.wait(timeout=10)

    def environment(self) -> dict[str, str]:
        """The environment the AWS CLI needs to reach this endpoint and nothing else."""
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _start(
    state_dir: Path, offline_after: float = ENDPOINT_OFFLINE_AFTER, readings: str = "{}"
) -> EndpointProcess:
    """Start `python -m releaseflow.rehearsal.endpoint.server` and wait for its endpoint.json."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "endpoint.log").open("ab")
    command = [sys.executable, "-m", "releaseflow.rehearsal.endpoint.server", "--state-dir", str(state_dir)]
    process = subprocess.Popen(
        [
            *command,
            "--offline-after",
            str(offline_after),
            "--ping-interval",
            str(ENDPOINT_PING_INTERVAL),
            "--aws-readings",
            readings,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    info = state_dir / "endpoint.json"
    deadline = time.monotonic() + 30
    while not info.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"endpoint did not start: {(state_dir / 'endpoint.log').read_text()}")
        time.sleep(0.05)
    return EndpointProcess(json.loads(info.read_text())["url"], state_dir, process, offline_after)


def _stop(endpoint: EndpointProcess) -> int:
    """SIGTERM the endpoint and return its exit code."""
    endpoint.process.terminate()
    return endpoint.process.wait(timeout=15)


@pytest.fixture(scope="module")
def endpoint_server(request, tmp_path_factory) -> EndpointProcess:
    """One endpoint per test module, in a fresh state directory, with a short offline threshold.

    A module sets its own threshold with a module-level ENDPOINT_OFFLINE_AFTER, and the open readings
    the endpoint plays (`default`, `strict` or a JSON file, as `--aws-readings`) with ENDPOINT_READINGS;
    without it, each reading's default.
    """
    offline_after = getattr(request.module, "ENDPOINT_OFFLINE_AFTER", ENDPOINT_OFFLINE_AFTER)
    setting = getattr(request.module, "ENDPOINT_READINGS", None)
    endpoint = _start(
        tmp_path_factory.mktemp("endpoint-state"),
        offline_after=offline_after,
        readings=json.dumps(aws_readings.choose(setting)) if setting else "{}",
    )
    yield endpoint
    _stop(endpoint)


@pytest.fixture
def endpoint_launch():
    """Start endpoints on demand (`launch(state_dir)`); `launch.stop(endpoint)` returns the exit code."""
    started: list[EndpointProcess] = []

    class Launcher:
        def __call__(self, state_dir: Path, readings: str = "{}") -> EndpointProcess:
            started.append(_start(state_dir, readings=readings))
            return started[-1]

        stop = staticmethod(_stop)

    yield Launcher()
    for endpoint in started:
        if endpoint.process.poll() is None:
            endpoint.process.kill()
            endpoint.process.wait()


@pytest.fixture(autouse=True)
def _no_boto3_default_session() -> Iterator[None]:
    """Each test starts without boto3's default session, as each run of the CLI does: the session keeps
    the credentials it first found, so one made by an earlier test in the same worker would hand them to
    a test that removed them (tests/unit/test_bad_input.py test_no_credentials)."""
    boto3.DEFAULT_SESSION = None
    yield
    boto3.DEFAULT_SESSION = None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Whole deploys first (tests/e2e, marked `slow` by its conftest), then the harness's tests, then the unit
    tests, each module's tests in their order. With `--dist loadfile --no-loadscope-reorder` (the Makefile)
    xdist hands modules to its workers in this order: the long ones start first and the short unit modules
    fill the workers' ends. xdist's own order (most tests first) started the one-test deploy modules last."""
    harness = Path(__file__).resolve().parent / "harness"

    def cost_rank(item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if item.path.is_relative_to(harness) else 2

    items[:] = sorted(items, key=cost_rank)
