"""RegisterBatch: puts a batch back into service, healthy, then bakes after the migration host's batch."""

import json
import time

from releaseflow.runbook_scripts.shared import WAIT_SECONDS, client, register_each, wait_until

# BakeSeconds' allowedPattern admits 0 to 300: the migration host's bake runs here, after its health
# wait, and both together stay within WAIT_SECONDS (the health wait gets what the bake leaves).
MAX_BAKE_SECONDS = 300


def handler(events, context, *, elb=None, clock=time):
    """With a target group, puts the batch back into service and waits until it is healthy; then, after the
    migration host's batch when more batches follow, bakes.

    Each host is registered on its own (register_each). A refused or unhealthy host fails the step,
    named, after the others are back. One found unused, its registration dropped (it was still draining),
    is registered again.
    """
    batches = json.loads(events["Batches"])
    index = int(events["Index"])
    batch = batches[index]
    bake = bake_seconds(events, index, len(batches))
    # A batch of workers (PlanRollout's WorkerBatches) is never registered.
    arn = "" if index in json.loads(events.get("WorkerBatches") or "[]") else events["TargetGroupArn"]
    if arn:
        elb = elb or client("elbv2")
        refused = register_each(elb, arn, batch)
        problems = [f"the load balancer refused {h}: {why}" for h, why in refused.items()]
        try:
            back = [h for h in batch if h not in refused]
            again = lambda hosts: register_each(elb, arn, hosts)  # noqa: E731
            wait_until(elb, arn, back, ("healthy",), "healthy", WAIT_SECONDS - bake, clock, again)
        except TimeoutError as error:
            problems.append(str(error))
        if problems:
            raise RuntimeError("; ".join(problems))
    # The bake is the script's last act: whether a cancel ends the script or lets it run on, nothing follows.
    clock.sleep(bake)
    return {"InstanceIds": batch, "BakedSeconds": bake}


def bake_seconds(events, index, count):
    """BakeSeconds after the migration host's batch (the first) when more batches follow, else 0.

    The last batch bakes in the deploy's BakeFleet step after the loop, so the loop has no step for
    the bake; RollbackFleet runs this same script without BakeSeconds: it does not bake.
    """
    wait = int(events.get("BakeSeconds") or 0) if index == 0 and count > 1 else 0
    if wait > MAX_BAKE_SECONDS:
        raise ValueError(f"BakeSeconds {wait} is more than the {MAX_BAKE_SECONDS} s this step can bake")
    return wait
