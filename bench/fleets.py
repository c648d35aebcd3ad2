"""The fleets the benchmarks run on: light hosts (endpoint + in-process agents) and the Rails rehearsal."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from releaseflow.rehearsal.harness import fleet, provision

ONLINE_TIMEOUT = 60


@dataclass(frozen=True)
class LightFleet:
    """An endpoint whose hosts only run trivial scripts: what remains is the engine's own cost."""

    state_dir: Path
    endpoint_url: str
    instance_ids: tuple[str, ...]

    def client(self, service: str):
        return fleet.client(service, self.endpoint_url)


@contextlib.contextmanager
def light(hosts: int) -> Iterator[LightFleet]:
    """An endpoint and `hosts` agent processes with empty app dirs, all Online; stopped on exit."""
    state_dir = Path(tempfile.mkdtemp(prefix="rf-bench-light-"))
    (state_dir / "logs").mkdir()
    try:
        url = fleet.start_endpoint(state_dir)
        instance_ids = fleet.run_instances(fleet.client("ec2", url), hosts)
        # Processes, as on real hosts: agents as threads of one process would share its file descriptors.
        for instance_id in instance_ids:
            root = state_dir / "hosts" / instance_id
            (root / "app").mkdir(parents=True)
            pid = provision.start_agent(root, url, state_dir / "logs" / f"agent-{instance_id}.log")
            # `down` stops the agents it finds recorded here.
            (root / "agent.pid").write_text(f"{pid}\n")
        light_fleet = LightFleet(state_dir, url, tuple(instance_ids))
        _wait_online(light_fleet.client("ssm"), len(instance_ids))
        yield light_fleet
    finally:
        fleet.down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def rails(hosts: int = 3) -> Iterator[Path]:
    """The rehearsal of `releaseflow local up` (Rails, HAProxy, shared database); its state dir."""
    state_dir = Path(tempfile.mkdtemp(prefix="rf-bench-rails-"))
    # The app user reaches the database and git remote through the state dir.
    state_dir.chmod(0o755)
    try:
        fleet.up(state_dir, hosts=hosts)
        yield state_dir
    finally:
        fleet.down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def _wait_online(ssm, count: int) -> None:
    deadline = time.monotonic() + ONLINE_TIMEOUT
    while True:
        pages = ssm.get_paginator("describe_instance_information").paginate()
        online = [i for p in pages for i in p["InstanceInformationList"] if i.get("PingStatus") == "Online"]
        if len(online) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(online)} of {count} light hosts came online")
        time.sleep(0.2)
