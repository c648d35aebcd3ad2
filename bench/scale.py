"""The Deploy runbook's planning part at scale: ListFleet, PlanRollout, and each loop's host selection."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from bench.stats import Summary, summarize
from releaseflow.rehearsal.endpoint.instances_service import InstancesService
from releaseflow.rehearsal.endpoint.moto_state import Ec2Instance
from releaseflow.rehearsal.engine.actions.script import returned_payload
from releaseflow.runbook_scripts import drain_batch, list_fleet, pick_chunk, plan_rollout
from releaseflow.ssm import MAX_FLEET_HOSTS, MAX_LOOP_ITERATIONS

FLEET = {
    "FleetTagKey": "releaseflow:fleet",
    "FleetTagValue": "scale",
    "MigrationTagKey": "releaseflow:migrate",
}
OTHER_NODES = 500
TAGS = 10
# DescribeInstances answers at most 1,000 instances a page; fewer here, so that ListFleet pages.
EC2_PAGE = 200
# The reading least favourable to the runbooks: a script output past 100 KB or 100 items fails its step.
READING = "step-fails"


def instances(hosts: int = MAX_FLEET_HOSTS, others: int = OTHER_NODES) -> list[Ec2Instance]:
    """`others` running managed nodes of another fleet listed first, then `hosts` of the fleet, TAGS tags each
    (as Auto Scaling and CloudFormation add them, their reserved aws: prefix left out)."""
    made = []
    for value, count, start in (("other", others, 0), (FLEET["FleetTagValue"], hosts, others)):
        for n in range(start, start + count):
            tags = {FLEET["FleetTagKey"]: value}
            tags |= {
                f"cloudformation:tag-{t}": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{n:064}"
                for t in range(TAGS - 1)
            }
            made.append(Ec2Instance(f"i-{n:017x}", "running", tags))
    return made


class Ec2:
    """DescribeInstances over `instances`: the tag and state filters, EC2_PAGE instances a page."""

    def __init__(self, instances: list[Ec2Instance]):
        self.instances = instances

    def get_paginator(self, name: str):
        assert name == "describe_instances"
        return self

    def paginate(self, Filters):
        wanted = {f["Name"]: set(f["Values"]) for f in Filters}
        for n in range(0, len(self.instances), EC2_PAGE):
            page = [
                {"InstanceId": i.instance_id, "Tags": [{"Key": k, "Value": v} for k, v in i.tags.items()]}
                for i in self.instances[n : n + EC2_PAGE]
                if i.state in wanted["instance-state-name"]
                and all(
                    i.tags.get(name[4:]) in values
                    for name, values in wanted.items()
                    if name.startswith("tag:")
                )
            ]
            yield {"Reservations": [{"Instances": page}]}


class Ssm:
    """DescribeInstanceInformation answered by the rehearsal endpoint's own model (InstancesService),
    every node's agent heartbeating."""

    def __init__(self, instances: list[Ec2Instance]):
        self.service = InstancesService(lambda: instances, offline_after=60)
        for instance in instances:
            self.service.heartbeat(instance.instance_id)

    def get_paginator(self, name: str):
        assert name == "describe_instance_information"
        return self

    def paginate(self, **request):
        while True:
            page = self.service.describe(request)
            yield page
            if not page.get("NextToken"):
                return
            request = {**request, "NextToken": page["NextToken"]}


def step(handler, events: dict, **clients) -> dict:
    """A script step: the handler's result as the engine returns it under READING (which fails past
    100 KB or a list of 100), every list-typed output held to the same 100 items; then as text, as
    the next step's `{{ Step.Output }}` receives it."""
    payload = returned_payload(handler(events, None, **clients), READING)
    for value in payload.values():
        if isinstance(value, list):
            returned_payload(value, READING)
    return json.loads(json.dumps(payload))


@dataclass(frozen=True)
class Planned:
    """The planning part's outputs: ListFleet's, PlanRollout's, and the hosts each loop iteration picked."""

    listed: dict
    plan: dict
    batches: list[list[str]]
    chunks: list[list[str]]


def plan(nodes: list[Ec2Instance], batch_size: str = "11") -> Planned:
    """releaseflow-Deploy's planning steps over `nodes`, in the runbook's order and with its inputs."""
    ec2, ssm = Ec2(nodes), Ssm(nodes)
    listed = step(list_fleet.handler, FLEET, ec2=ec2, ssm=ssm)
    planned = step(
        plan_rollout.handler,
        {**listed, "MigrationTagKey": FLEET["MigrationTagKey"], "BatchSize": batch_size},
    )
    for loop in ("ChunkIndexes", "BatchIndexes"):
        if len(planned[loop]) > MAX_LOOP_ITERATIONS:
            raise ValueError(
                f"{loop}: {len(planned[loop])} iterations, over the {MAX_LOOP_ITERATIONS} of aws:loop"
            )
    chunks = [
        step(pick_chunk.handler, {"Batches": planned["Batches"], "Index": index})["InstanceIds"]
        for index in planned["ChunkIndexes"]
    ]
    batches = [
        step(
            drain_batch.handler,
            {"Batches": planned["Batches"], "Index": index, "TargetGroupArn": ""},
            ssm=ssm,
        )["InstanceIds"]
        for index in planned["BatchIndexes"]
    ]
    return Planned(listed, planned, batches, chunks)


def measure(runs: int = 3) -> dict[str, Summary]:
    """scale.plan_1000_s: the planning part over 1,000 hosts among 500 other nodes, 10 tags each."""
    nodes = instances()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        plan(nodes)
        seconds.append(time.perf_counter() - started)
    return {f"scale.plan_{MAX_FLEET_HOSTS}_s": summarize(seconds, 3)}
