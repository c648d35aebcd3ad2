"""DrainBatch: a batch's hosts must still be online; with a target group they are taken out of service.

It does not wait out the target group's deregistration delay (a target shows `draining` for all of it, even
with no connection left): once the load balancer routes no new request to the batch (each target draining
or unused), it hands over. DrainSeconds, what is left of the delay, bounds the wait at the start of the
host command that follows (releaseflow-CheckoutRevision, releaseflow-Rollback), which ends as soon as the
host has answered the requests it was still serving; 0 without a target group: nothing to wait for.
"""

import json
import time

from releaseflow.runbook_scripts.shared import client, online, wait_until


def handler(events, context, *, ssm=None, elb=None, clock=time):
    """This batch's hosts: fails, naming them, when some are not online; else takes them out of service and
    returns the seconds left of the deregistration delay."""
    index = int(events["Index"])
    batch = json.loads(events["Batches"])[index]
    # A batch of workers (PlanRollout's WorkerBatches) is never drained: its commands quiet its services.
    worker = index in json.loads(events.get("WorkerBatches") or "[]")
    up = online(ssm or client("ssm"), batch)
    offline = [h for h in batch if h not in up]
    if offline:
        raise ValueError(f"not online in Systems Manager, so this batch does not start: {', '.join(offline)}")
    arn = "" if worker else events["TargetGroupArn"]
    left = 0
    if arn:
        elb = elb or client("elbv2")
        attributes = elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        delay = int({a["Key"]: a["Value"] for a in attributes}["deregistration_delay.timeout_seconds"])
        start = clock.monotonic()
        elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": h} for h in batch])
        wait_until(elb, arn, batch, ("draining", "unused"), "out of service", clock=clock)
        left = max(0, int(delay - (clock.monotonic() - start)))  # rounded down: never past the delay
    # The batch's role, and its services for the commands that follow.
    role = "worker" if worker else "web"
    services = events.get("WorkerServices" if worker else "Services", [])
    return {"InstanceIds": batch, "DrainSeconds": str(left), "Role": role, "Services": services}
