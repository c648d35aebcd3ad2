"""Who holds a fleet: the Lock step of both runbooks, and the check `releaseflow deploy` makes first."""

import os

from releaseflow.runbook_scripts.shared import client
from releaseflow.ssm import EXECUTION_RUNNING

# Executions of these runbooks hold the fleet they work on. Publish rewrites both names when it adds a
# prefix (staging-releaseflow-Deploy); unrewritten, the prefix is read off the execution's own name.
RUNBOOKS = ("releaseflow-Deploy", "releaseflow-RollbackFleet")
# releaseflow-Deploy's FleetTagKey default: what an execution that lists no FleetTagKey works on.
FLEET_TAG_KEY = "releaseflow:fleet"


def handler(events, context, *, ssm=None):
    """Fails when an older execution of either runbook is active on the same fleet: the younger one yields."""
    ssm = ssm or client("ssm")
    me = ssm.get_automation_execution(AutomationExecutionId=events["ExecutionId"])["AutomationExecution"]
    fleet = (events["FleetTagKey"], events["FleetTagValue"])
    ignore = (me["AutomationExecutionId"], events["Ignore"])
    for key, other, document in holders(ssm, runbook_names(me["DocumentName"]), fleet, ignore):
        if key < order(me):
            raise RuntimeError(
                f"{held(other, document, fleet)}; this execution yields before touching any host: "
                "start it again once that one has ended"
            )
    return {"Fleet": f"{fleet[0]}={fleet[1]}"}


def runbook_names(document_name):
    """Both runbooks' names as published beside `document_name`: a prefix it carries, they carry too."""
    prefix = next((document_name[: -len(r)] for r in RUNBOOKS if document_name.endswith(r)), "")
    return [prefix + r for r in RUNBOOKS]


def holders(ssm, names, fleet, ignore=()):
    """The executions of the runbooks `names` still running on `fleet` (key, value; None: any), oldest first.

    Each as (order, execution id, runbook name); every execution orders the same way (order()), so
    two that started together agree on which one is older.
    """
    filters = [
        # Character by character is what is meant: the names' common start, not a path.
        {"Key": "DocumentNamePrefix", "Values": [os.path.commonprefix(list(names))]},  # noqa: RUF071
        {"Key": "ExecutionStatus", "Values": list(EXECUTION_RUNNING)},
    ]
    found = []
    for page in ssm.get_paginator("describe_automation_executions").paginate(Filters=filters):
        for row in page["AutomationExecutionMetadataList"]:
            other = row["AutomationExecutionId"]
            if other in ignore or row["DocumentName"] not in names:
                continue
            # The listing has no parameters: each running execution's fleet is read on its own.
            if fleet is None or fleet_of(ssm, other) == tuple(fleet):
                found.append((order(row), other, row["DocumentName"]))
    return sorted(found)


def order(execution):
    """Older first: by start time, then id; one not started yet (Pending, no time) counts as the youngest."""
    start = execution.get("ExecutionStartTime")
    return (start is None, start or 0, execution["AutomationExecutionId"])


def fleet_of(ssm, execution_id):
    """The fleet (key, value) an execution works on; a RollbackFleet without its own takes its deploy's."""
    parameters = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
        "Parameters"
    ]
    own = tuple((parameters.get(name) or [""])[0] for name in ("FleetTagKey", "FleetTagValue"))
    if parameters.get("ExecutionId") and not all(own):
        return tuple(o or d for o, d in zip(own, fleet_of(ssm, parameters["ExecutionId"][0]), strict=True))
    return (own[0] or FLEET_TAG_KEY, own[1])


def held(execution_id, runbook, fleet):
    """How a refusal names the execution that holds the fleet."""
    where = f"fleet {fleet[1]}" if fleet else "any fleet"
    return f"execution {execution_id} of {runbook} is still running on {where}"
