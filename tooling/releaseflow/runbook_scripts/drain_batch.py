"""DrainBatch: a batch's hosts must still be online; with a target group they are deregistered and drained."""

import json
import time

from releaseflow.runbook_scripts.shared import client, online, wait_until


def handler(events, context, *, ssm=None, elb=None, clock=time):
    """This batch's hosts: fails, naming them, when some are not online; else takes them out of service.

    With a target group, deregisters the batch and waits until every one of its targets is unused
    (drained), each checked here rather than by a wait step over several values.
    """
    batch = json.loads(events["Batches"])[int(events["Index"])]
    up = online(ssm or client("ssm"), batch)
    offline = [h for h in batch if h not in up]
    if offline:
        raise ValueError(f"not online in Systems Manager, so this batch does not start: {', '.join(offline)}")
    arn = events["TargetGroupArn"]
    if arn:
        elb = elb or client("elbv2")
        elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": h} for h in batch])
        wait_until(elb, arn, batch, "unused", "drained", clock=clock)
    return {"InstanceIds": batch}
