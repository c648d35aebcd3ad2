"""Issue 19, hosts by role: a mixed fleet of web and worker hosts deploys and rolls back on the rehearsal.

One fleet of 3 hosts: 2 web hosts behind HAProxy and 1 worker host (tagged releaseflow:role=worker,
running the sample app's bin/worker as the unit `worker`, in no target group). The first test makes the
worker the migration host and deploys revision 2; the second deploys a revision whose worker will not
start, which the worker's health check catches after both web hosts switched, and the fleet rolls back.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs

import pytest

from releaseflow.follow import fetch
from releaseflow.rehearsal.harness import fleet, provision
from releaseflow.rehearsal.harness.app_repo import git, push_commit
from scenarios import (
    LoadGenerator,
    client,
    deploy,
    deploy_record,
    execution_id,
    fleet_fixture,
    wait_until,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=3, worker_hosts=1, aws_readings="default")


def target_group_calls(rehearsal) -> dict[str, set[str]]:
    """The instance ids every RegisterTargets and DeregisterTargets call named (the endpoint's journal of
    the requests that changed its state), by operation."""
    calls: dict[str, set[str]] = {"RegisterTargets": set(), "DeregisterTargets": set()}
    for line in (rehearsal.state_dir / "moto-journal.jsonl").read_text().splitlines():
        query = parse_qs(base64.b64decode(json.loads(line)["body"]).decode(errors="replace"))
        action = query.get("Action", [""])[0]
        if action in calls:
            calls[action] |= {v[0] for k, v in query.items() if k.startswith("Targets.member.")}
    return calls


def worker_log(rehearsal, instance_id: str) -> list[str]:
    """What the host's worker printed, every start of it."""
    path = rehearsal.state_dir / "logs" / f"{instance_id}-{provision.WORKER_SERVICE}.log"
    return path.read_text().splitlines()


def host_states(rehearsal) -> dict[str, tuple[str, str, str, bool, str]]:
    """(role, checked out, serving, running, LB state) of each host, once the web hosts are healthy."""

    def settled():
        hosts = fleet.status(rehearsal.state_dir).hosts
        return all(h.lb_state == "healthy" for h in hosts if h.role == "web")

    wait_until(settled, 30, "the web hosts are healthy in the load balancer")
    return {
        h.instance_id: (h.role, h.revision, h.serving, h.running, h.lb_state)
        for h in fleet.status(rehearsal.state_dir).hosts
    }


def test_a_mixed_fleet_deploys_the_worker_quieted_restarted_and_never_in_the_load_balancer(rehearsal):
    """The worker, tagged as the migration host, migrates and switches first: quieted (TSTP) before its
    checkout, restarted on the new revision, healthy by staying up; the web hosts follow as before, drained
    and registered, under load with no failed request. No call ever names the worker to the target group."""
    [worker] = rehearsal.record.workers
    web = [h for h in rehearsal.instance_ids if h != worker]
    old, new = rehearsal.revisions
    client(rehearsal, "ec2").create_tags(
        Resources=[worker], Tags=[{"Key": "releaseflow:migrate", "Value": "true"}]
    )
    before = target_group_calls(rehearsal)
    with LoadGenerator(rehearsal.lb_url) as load:
        result = deploy(rehearsal, "--revision", new)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert host_states(rehearsal) == {
        worker: ("worker", new, new, True, "none"),
        **{h: ("web", new, new, True, "healthy") for h in web},
    }
    assert load.failures == [], load.failures[:10]
    snapshot = fetch(client(rehearsal, "ssm"), execution_id(result.stdout))
    migrated = [i.instance_id for i in snapshot.invocations if i.document == "releaseflow-Migrate"]
    assert migrated == [worker]
    switched = [i.instance_id for i in snapshot.invocations if i.document == "releaseflow-CheckoutRevision"]
    assert sorted(switched) == sorted(rehearsal.instance_ids), switched
    health = {
        i.instance_id: i.output for i in snapshot.invocations if i.document == "releaseflow-HealthCheck"
    }
    assert "healthy: worker active for" in health[worker] and "curl" not in health[worker]
    assert all("answered 200" in health[h] for h in web), health
    # The worker was quieted while on the old revision, before its switch; then restarted on the new one.
    log = worker_log(rehearsal, worker)
    quiet = next(n for n, line in enumerate(log) if line.startswith("worker quiet"))
    stopped = next(n for n, line in enumerate(log) if line.startswith(f"worker stopping: revision {old}"))
    assert quiet < stopped and log[-1].startswith(f"worker started: revision {new}"), log
    assert deploy_record(rehearsal.state_dir, worker)["previous-revision"] == old
    after = target_group_calls(rehearsal)
    assert worker not in after["RegisterTargets"] | after["DeregisterTargets"], after
    assert set(web) <= after["DeregisterTargets"] - before["DeregisterTargets"], (before, after)
    client(rehearsal, "ec2").delete_tags(Resources=[worker], Tags=[{"Key": "releaseflow:migrate"}])


def test_a_worker_that_will_not_start_fails_the_deploy_and_the_whole_fleet_rolls_back(rehearsal):
    """A revision whose worker exits at once: the web hosts (the lowest id migrates) switch and pass, the
    worker's health check finds its service failed; RollbackFleet puts every host back on the previous
    revision (the worker quieted, never registered) and the web hosts end healthy behind the load balancer."""
    [worker] = rehearsal.record.workers
    web = [h for h in rehearsal.instance_ids if h != worker]
    good = git(rehearsal.host_root(worker) / "app", "rev-parse", "HEAD")
    broken = push_commit(
        rehearsal.state_dir,
        {"bin/worker": 'abort("scenario: this worker will not start")\n'},
        "A worker that will not start",
        parent=good,
    )
    started = time.monotonic()
    result = deploy(rehearsal, "--revision", broken)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "HealthCheckBatch" in result.stdout + result.stderr
    assert f"{worker}" in result.stdout + result.stderr
    assert host_states(rehearsal) == {
        worker: ("worker", good, good, True, "none"),
        **{h: ("web", good, good, True, "healthy") for h in web},
    }
    for host in rehearsal.instance_ids:
        record = deploy_record(rehearsal.state_dir, host)
        assert record["rolled-back"] == record["execution-id"] == execution_id(result.stdout), (host, record)
    assert "scenario: this worker will not start" in "\n".join(worker_log(rehearsal, worker))
    calls = target_group_calls(rehearsal)
    assert worker not in calls["RegisterTargets"] | calls["DeregisterTargets"], calls
    print(f"deploy and rollback: {time.monotonic() - started:.0f} s")
