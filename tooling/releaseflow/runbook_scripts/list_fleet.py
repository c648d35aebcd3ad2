"""ListFleet: the fleet's running instances, those offline, those migration-tagged: ids only."""

from releaseflow.runbook_scripts.shared import agents, client, id_list
from releaseflow.ssm import MAX_FLEET_HOSTS

# The tag that makes a host a worker host (releaseflow:role=worker): never drained nor registered.
ROLE_TAG = {"Key": "releaseflow:role", "Value": "worker"}


def handler(events, context, *, ec2=None, ssm=None):
    """The fleet's instance ids, those whose agent is not Online, those tagged MigrationTagKey=true.

    Every page of both listings. Ids only, as JSON text: an instance's tags would pass aws:executeScript's
    100 KB at about 120 hosts, and a list output holds at most 100 items. ValueError past MAX_FLEET_HOSTS.
    """
    ec2 = ec2 or client("ec2")
    ssm = ssm or client("ssm")
    filters = [
        {"Name": f"tag:{events['FleetTagKey']}", "Values": [events["FleetTagValue"]]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    tags = {
        i["InstanceId"]: i.get("Tags") or []
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters)
        for reservation in page["Reservations"]
        for i in reservation.get("Instances", [])
    }
    hosts = sorted(tags)
    if len(hosts) > MAX_FLEET_HOSTS:
        raise ValueError(
            f"{len(hosts)} running instances carry {events['FleetTagKey']}={events['FleetTagValue']}, "
            f"more than the {MAX_FLEET_HOSTS} hosts releaseflow's runbooks support (what "
            "aws:executeScript's 100 KB output carries): split the fleet under two tag values"
        )
    online = {a["InstanceId"] for a in agents(ssm, hosts) if a["PingStatus"] == "Online"}
    key = events["MigrationTagKey"]
    tagged = [h for h in hosts if {"Key": key, "Value": "true"} in tags[h]]
    workers = [h for h in hosts if ROLE_TAG in tags[h]]
    # Workers, and the others (Web: the hosts RollbackFleet registers again at its end).
    return {
        "Workers": id_list(workers),
        "Web": id_list([h for h in hosts if h not in workers]),
        "Hosts": id_list(hosts),
        "Offline": id_list([h for h in hosts if h not in online]),
        "Tagged": id_list(tagged),
    }
