"""PickChunk: the instance ids of one group of at most 50 hosts the deploy prepares."""

import json


def handler(events, context):
    """The instance ids of this group."""
    return {"InstanceIds": json.loads(events["Chunks"])[int(events["Index"])]}
