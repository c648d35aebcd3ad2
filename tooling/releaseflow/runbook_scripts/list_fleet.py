"""ListFleet: the running instances that carry the fleet tag, and their agents' PingStatus."""

import json

from releaseflow.runbook_scripts.shared import agents, client


def handler(events, context, *, ec2=None, ssm=None):
    """The running instances with the fleet tag and their agents' PingStatus, every page of both listings."""
    ec2 = ec2 or client("ec2")
    ssm = ssm or client("ssm")
    filters = [
        {"Name": f"tag:{events['FleetTagKey']}", "Values": [events["FleetTagValue"]]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    instances = [
        {"InstanceId": i["InstanceId"], "Tags": i.get("Tags", [])}
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters)
        for reservation in page["Reservations"]
        for i in reservation.get("Instances", [])
    ]
    found = agents(ssm, sorted({i["InstanceId"] for i in instances}))
    # As JSON text: aws:executeScript returns at most 100 items of a list.
    return {"Instances": json.dumps(instances), "InstanceInformation": json.dumps(found)}
