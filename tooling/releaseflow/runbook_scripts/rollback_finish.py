"""RollbackFleet's Finish: every running fleet host back in the target group, the unreachable ones named."""

import json

from releaseflow.runbook_scripts.shared import client, register_each


def handler(events, context, *, elb=None):
    """The rollback's outputs; RuntimeError naming the hosts left out or refused by the load balancer."""
    problems = []
    if events["Skipped"] != "none":
        problems.append(
            f"unreachable, so not rolled back: {events['Skipped']} (once they are back, run "
            f"releaseflow-RollbackFleet with ExecutionId {events['ExecutionId']} again)"
        )
    arn = events["TargetGroupArn"]
    if arn:
        # Every running fleet host, not only those rolled back: one drained but never switched comes back too.
        hosts = sorted(set(json.loads(events["FleetHosts"])))
        refused = register_each(elb or client("elbv2"), arn, hosts)
        problems += [f"the load balancer refused {h}: {why}" for h, why in refused.items()]
    if problems:
        raise RuntimeError("; ".join(problems))
    # One item a batch (its hosts, comma-separated): a list output holds at most 100 items.
    hosts = [", ".join(batch) for batch in json.loads(events["Batches"])]
    return {"ExecutionId": events["ExecutionId"], "Hosts": hosts}
