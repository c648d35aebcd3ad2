"""PlanRollout: the migration host, then the batches; `releaseflow plan` calls the same handler offline."""

import json
import math
import re

from releaseflow.ssm import MAX_LOOP_ITERATIONS, MAX_RUN_COMMAND_INSTANCES

# The health check's execution timeout: every try at its longest, releaseflow-HealthCheck's default
# 3 s between tries (the runbooks leave it), and a margin for curl and git to start. At most 900 s,
# so that with the 60 s delivery timeout it fits HealthCheckBatch's 960 s.
HEALTH_DELAY_SECONDS = 3
HEALTH_MARGIN_SECONDS = 30
MAX_HEALTH_SECONDS = 900


def handler(events, context):
    """The deploy's order: the migration host as a batch of its own, then the others in batches.

    ValueError when the fleet is not ready. With Only (RollbackFleet: the hosts a deploy switched),
    plans just those, in the same order, and leaves out, under Skipped, those not running or online.
    """
    instances = json.loads(events["Instances"])
    hosts = sorted({i["InstanceId"] for i in instances})
    online = {
        i["InstanceId"] for i in json.loads(events["InstanceInformation"]) if i.get("PingStatus") == "Online"
    }
    only = events.get("Only", "all")
    if not hosts and only == "all":
        raise ValueError("no running instance carries the fleet tag")
    offline = [h for h in hosts if h not in online]
    if offline and only == "all":
        raise ValueError(f"not online in Systems Manager: {', '.join(offline)}")
    key = events["MigrationTagKey"]
    tagged = sorted(
        i["InstanceId"]
        for i in instances
        if any(t.get("Key") == key and t.get("Value") == "true" for t in i.get("Tags") or [])
    )
    if len(tagged) > 1:
        raise ValueError(
            f"{len(tagged)} instances are tagged {key}=true ({', '.join(tagged)}); tag exactly one"
        )
    migration_host = tagged[0] if tagged else (hosts[0] if hosts else "")
    others = [h for h in hosts if h != migration_host]
    # A batch goes to one aws:runCommand, which takes at most 50 instance ids.
    size = min(batch_size(events["BatchSize"], len(hosts)), MAX_RUN_COMMAND_INSTANCES)
    skipped = []
    if only != "all":
        wanted = set(json.loads(only))
        skipped = sorted(wanted - (set(hosts) - set(offline)))
        keep = wanted - set(skipped)
        migration_host = migration_host if migration_host in keep else ""
        others = [h for h in others if h in keep]
    batches = [[migration_host]] if migration_host else []
    batches += [others[n : n + size] for n in range(0, len(others), size)]
    # The batches are the iterations of one aws:loop.
    if len(batches) > MAX_LOOP_ITERATIONS:
        raise ValueError(
            f"{len(batches)} batches (the migration host, then {len(others)} hosts by {size}) are more than "
            f"the {MAX_LOOP_ITERATIONS} an aws:loop runs: raise BatchSize (now {events['BatchSize']})"
        )
    health_seconds = health_check_seconds(
        events.get("HealthCheckRetries", "10"), events.get("HealthCheckTimeoutSeconds", "5")
    )
    ordered = [h for batch in batches for h in batch]
    chunks = [
        ordered[n : n + MAX_RUN_COMMAND_INSTANCES] for n in range(0, len(ordered), MAX_RUN_COMMAND_INSTANCES)
    ]
    return {
        "MigrationHost": migration_host,
        "AllHosts": ordered,
        "Batches": json.dumps(batches),
        "BatchIndexes": [str(n) for n in range(len(batches))],
        "BatchCount": len(batches),
        "Chunks": json.dumps(chunks),
        "ChunkIndexes": [str(n) for n in range(len(chunks))],
        "Skipped": ", ".join(skipped) or "none",
        "HealthCheckSeconds": str(health_seconds),
    }


def health_check_seconds(retries, try_seconds):
    """How long a host's health check may run: all its tries; ValueError past what HealthCheckBatch allows."""
    retries, try_seconds = int(retries), int(try_seconds)
    seconds = retries * try_seconds + (retries - 1) * HEALTH_DELAY_SECONDS + HEALTH_MARGIN_SECONDS
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
