"""The deploy's Finish: its outputs."""

import json


def handler(events, context):
    """The deploy's outputs; UpdatedHosts holds one item a batch (its hosts, comma-separated).

    One item a batch, not one a host: a list output of aws:executeScript holds at most 100 items, and
    a deploy has at most 100 batches.
    """
    batches = json.loads(events["Batches"])
    return {
        "Revision": events["Revision"],
        "MigrationHost": events["MigrationHost"],
        "UpdatedHosts": [", ".join(batch) for batch in batches],
    }
