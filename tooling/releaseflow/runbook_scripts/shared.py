"""What several runbook scripts share (written out into each that uses it): clients, agents, target health."""

import json
import time

import boto3
from botocore.config import Config

from releaseflow.ssm import COMMAND_TERMINAL, SCRIPT_SECONDS

# A wait gives up a minute before aws:executeScript's limit, in time to fail the step with its own message.
WAIT_SECONDS = SCRIPT_SECONDS - 60
# Target health is polled at once, every 0.25 s for the first 2 s, then every second: a target that
# turns healthy or drains soon is seen at once, and a long wait costs one call a second.
SOON_POLL_SECONDS = 0.25
SOON_SECONDS = 2
POLL_SECONDS = 1
COMMAND_POLL_SECONDS = 2
# DescribeInstanceInformation's InstanceIds filter, like SendCommand, takes at most 50 ids.
IDS_PER_CALL = 50
# releaseflow-HealthCheck's default HealthCheckDelaySeconds (the runbooks leave it), and a margin for curl
# and git to start.
HEALTH_DELAY_SECONDS = 1
HEALTH_MARGIN_SECONDS = 30


def client(service):
    """A boto3 client whose calls retry throttling and transient errors, up to 5 times with exponential
    backoff (standard mode), before they fail: aws:executeScript does not retry a script's calls."""
    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def agents(ssm, ids):
    """DescribeInstanceInformation of these ids, 50 a call, every page: InstanceId, PingStatus. A
    terminated id fails a whole call (InvalidInstanceId): its group is asked one id a call, and the
    refused id is left out, for the caller to name as absent."""
    found = []
    for n in range(0, len(ids), IDS_PER_CALL):
        group = ids[n : n + IDS_PER_CALL]
        try:
            found += described(ssm, group)
        except Exception as error:
            if error_code(error) != "InvalidInstanceId":
                raise
            for instance_id in group:
                try:
                    found += described(ssm, [instance_id])
                except Exception as one:
                    if error_code(one) != "InvalidInstanceId":
                        raise
    return found


def described(ssm, ids):
    """Every page of DescribeInstanceInformation by these ids (never by tag: it filters page by page)."""
    request = {"Filters": [{"Key": "InstanceIds", "Values": ids}]}
    return [
        {"InstanceId": a["InstanceId"], "PingStatus": a.get("PingStatus", "")}
        for page in ssm.get_paginator("describe_instance_information").paginate(**request)
        for a in page["InstanceInformationList"]
    ]


def error_code(error):
    """A botocore ClientError's AWS error code."""
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def online(ssm, hosts):
    """The hosts whose agent is Online now, in their order (a lost host's command would wait for it)."""
    found = {a["InstanceId"] for a in agents(ssm, hosts) if a["PingStatus"] == "Online"}
    return [h for h in hosts if h in found]


def register_each(elb, arn, hosts):
    """Register each host in its own call; host -> ELB's reason for the ones it refused.

    ELB refuses a whole RegisterTargets call when one listed instance is not running: one stopped host
    must not keep the others out.
    """
    refused = {}
    for host in hosts:
        try:
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": host}])
        except Exception as error:  # InvalidTarget for a stopped instance, named in the step's failure
            refused[host] = str(error)
    return refused


def wait_until(elb, arn, hosts, states, meaning, seconds=WAIT_SECONDS, clock=time, again=None):
    """Poll DescribeTargetHealth until every host's target is in one of `states`; TimeoutError naming the
    others. `again`, if given, is called with the hosts found unused and not registered."""
    deadline = clock.monotonic() + seconds
    soon = clock.monotonic() + SOON_SECONDS
    while hosts:
        found = elb.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": h} for h in hosts])
        health = {d["Target"]["Id"]: d["TargetHealth"] for d in found["TargetHealthDescriptions"]}
        state = {h: health.get(h, {}).get("State", "unknown") for h in hosts}
        waiting = [f"{h} ({state[h]})" for h in hosts if state[h] not in states]
        if not waiting:
            return
        if again:
            again([h for h in hosts if health.get(h, {}).get("Reason") == "Target.NotRegistered"])
        if clock.monotonic() > deadline:
            raise TimeoutError(f"not {meaning} after {seconds} s in {arn}: {', '.join(waiting)}")
        clock.sleep(SOON_POLL_SECONDS if clock.monotonic() < soon else POLL_SECONDS)


def id_list(ids):
    """Instance ids as compact JSON text: scripts pass lists of hosts as text (aws:executeScript returns at
    most 100 items of a list) and without spaces (it returns at most 100 KB)."""
    return json.dumps(list(ids), separators=(",", ":"))


def running_commands(ssm, host):
    """The releaseflow commands not yet ended on this host (on any host for None)."""
    pages = ssm.get_paginator("list_commands").paginate(**({"InstanceId": host} if host else {}))
    return [
        c
        for page in pages
        for c in page["Commands"]
        if c["Status"] not in COMMAND_TERMINAL and "releaseflow-" in c["DocumentName"]
    ]


def wait_for_commands(ssm, hosts, deadline, clock):
    """Wait until no releaseflow command runs on these hosts, or the deadline; the ids still running then."""
    for host in hosts:
        while True:
            running = [c["CommandId"] for c in running_commands(ssm, host)]
            if not running:
                break
            if clock.monotonic() > deadline:
                return running
            clock.sleep(COMMAND_POLL_SECONDS)
    return []


def longest_health_check(retries, try_seconds):
    """How long a host's health check may run: every try at its longest and the delays between them."""
    return retries * try_seconds + (retries - 1) * HEALTH_DELAY_SECONDS + HEALTH_MARGIN_SECONDS
