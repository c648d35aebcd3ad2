"""PickChunk: the instance ids of one group of at most 50 hosts the deploy prepares."""

import json

from releaseflow.ssm import MAX_RUN_COMMAND_INSTANCES


def handler(events, context):
    """The instance ids of group Index: the plan's hosts in batch order, cut into groups of 50.

    Cut here from the plan's Batches rather than passed as a second copy of every id, which would
    double PlanRollout's output against aws:executeScript's 100 KB.
    """
    ordered = [host for batch in json.loads(events["Batches"]) for host in batch]
    start = int(events["Index"]) * MAX_RUN_COMMAND_INSTANCES
    return {"InstanceIds": ordered[start : start + MAX_RUN_COMMAND_INSTANCES]}
