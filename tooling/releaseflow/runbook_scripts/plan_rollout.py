"""PlanRollout: the migration host, then the batches; `releaseflow plan` calls the same handler offline."""

import json
import math
import re

from releaseflow.runbook_scripts.shared import longest_health_check
from releaseflow.ssm import MAX_FLEET_HOSTS, MAX_LOOP_ITERATIONS, MAX_RUN_COMMAND_INSTANCES

# The health check's execution timeout is at most 900 s, so that with the 60 s delivery timeout it fits
# HealthCheckBatch's 960 s.
MAX_HEALTH_SECONDS = 900


def handler(events, context):
    """The deploy's order: the migration host as a batch of its own, then the others in batches.

    Takes ListFleet's JSON text of instance ids (Hosts, Offline, Tagged) and returns ids only, as JSON
    text or lists of at most 100 items, so that its output stays within aws:executeScript's 100 KB up
    to MAX_FLEET_HOSTS hosts. ValueError when the fleet is not ready. With Only (RollbackFleet: the
    hosts a deploy switched), plans just those, in the same order, and leaves out, under Skipped,
    those not running or online.
    """
    hosts = sorted(set(json.loads(events["Hosts"])))
    offline_hosts = set(json.loads(events["Offline"]))
    only = events.get("Only", "all")
    if not hosts and only == "all":
        raise ValueError("no running instance carries the fleet tag")
    if len(hosts) > MAX_FLEET_HOSTS:
        raise ValueError(
            f"{len(hosts)} hosts are more than the {MAX_FLEET_HOSTS} releaseflow's runbooks support "
            "(what aws:executeScript's 100 KB output carries)"
        )
    offline = [h for h in hosts if h in offline_hosts]
    if offline and only == "all":
        raise ValueError(f"not online in Systems Manager: {', '.join(offline)}")
    key = events["MigrationTagKey"]
    tagged = sorted(set(json.loads(events["Tagged"])))
    if len(tagged) > 1:
        raise ValueError(
            f"{len(tagged)} instances are tagged {key}=true ({', '.join(tagged)}); tag exactly one"
        )
    migration_host = tagged[0] if tagged else (hosts[0] if hosts else "")
    others = [h for h in hosts if h != migration_host]
    # Hosts tagged releaseflow:role=worker (ListFleet's Workers): after the web hosts, own batches.
    workers = json.loads(events.get("Workers") or "[]")
    skipped = []
    if only != "all":
        wanted = set(json.loads(only))
        skipped = sorted(wanted - (set(hosts) - set(offline)))
        keep = wanted - set(skipped)
        migration_host = migration_host if migration_host in keep else ""
        others = [h for h in others if h in keep]
    batches = [[migration_host]] if migration_host else []
    for worker in (False, True):
        group = [h for h in others if (h in workers) == worker]
        # BatchSize counts per role: a percentage is of the role's hosts. A batch goes to one aws:runCommand,
        # which takes at most 50 instance ids.
        size = min(
            batch_size(events["BatchSize"], sum((h in workers) == worker for h in hosts)),
            MAX_RUN_COMMAND_INSTANCES,
        )
        batches += [group[n : n + size] for n in range(0, len(group), size)]
    # The batches are the iterations of one aws:loop.
    if len(batches) > MAX_LOOP_ITERATIONS:
        raise ValueError(
            f"{len(batches)} batches (the migration host, then {len(others)} hosts by BatchSize) are "
            f"more than the {MAX_LOOP_ITERATIONS} an aws:loop runs: "
            f"raise BatchSize (now {events['BatchSize']})"
        )
    health_seconds = health_check_seconds(
        events.get("HealthCheckRetries", "30"), events.get("HealthCheckTimeoutSeconds", "5")
    )
    # PrepareHosts sends to groups of at most 50 of the hosts in batch order (PickChunk cuts them).
    count = sum(len(batch) for batch in batches)
    return {
        "MigrationHost": migration_host,
        "Batches": json.dumps(batches, separators=(",", ":")),
        # The batches of workers (a batch holds one role), by index: DrainBatch and RegisterBatch skip them.
        "WorkerBatches": json.dumps([n for n, batch in enumerate(batches) if batch[0] in workers]),
        "BatchIndexes": [str(n) for n in range(len(batches))],
        "BatchCount": len(batches),
        "ChunkIndexes": [str(n) for n in range(math.ceil(count / MAX_RUN_COMMAND_INSTANCES))],
        "Skipped": ", ".join(skipped) or "none",
        "HealthCheckSeconds": str(health_seconds),
    }


def health_check_seconds(retries, try_seconds):
    """How long a host's health check may run: all its tries; ValueError past what HealthCheckBatch allows."""
    retries, try_seconds = int(retries), int(try_seconds)
    seconds = longest_health_check(retries, try_seconds)
    if seconds > MAX_HEALTH_SECONDS:
        raise ValueError(
            f"HealthCheckRetries {retries} tries of up to HealthCheckTimeoutSeconds {try_seconds} s need "
            f"up to {seconds} s, more than the {MAX_HEALTH_SECONDS} s a host's health check may run: "
            "lower either"
        )
    return seconds


def batch_size(value, fleet_size):
    """A count, or a percentage of the whole fleet rounded up; at least one host."""
    match = re.fullmatch(r"([1-9][0-9]*)(%?)", str(value))
    if not match or (match[2] and int(match[1]) > 100):
        raise ValueError(f"BatchSize {value!r} is neither a count nor a percentage up to 100%")
    if match[2]:
        return max(1, math.ceil(fleet_size * int(match[1]) / 100))
    return int(match[1])
