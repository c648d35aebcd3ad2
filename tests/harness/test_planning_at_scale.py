"""The Deploy runbook's planning part over 1,000 hosts among 500 other managed nodes, scripts held to their limits."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench import scale
from releaseflow.rehearsal.engine.errors import StepFailed
from releaseflow.ssm import MAX_FLEET_HOSTS, MAX_RUN_COMMAND_INSTANCES


@pytest.fixture(scope="module")
def nodes():
    """1,000 fleet instances after 500 other managed nodes, 10 tags each."""
    return scale.instances()


def test_the_plan_of_1000_hosts_with_10_tags_each_covers_every_host_once_within_the_script_limits(nodes):
    """ListFleet, PlanRollout and every PickChunk and DrainBatch pass the engine's 100 KB / 100 items under
    step-fails, and both loops pick each of the 1,000 fleet hosts exactly once, no other node."""
    planned = scale.plan(nodes, batch_size="11")
    fleet = sorted(n.instance_id for n in nodes if n.tags["releaseflow:fleet"] == "scale")
    assert len(fleet) == MAX_FLEET_HOSTS
    for picked in (planned.batches, planned.chunks):
        counts = Counter(host for group in picked for host in group)
        assert sorted(counts) == fleet and set(counts.values()) == {1}
    assert [len(batch) for batch in planned.batches] == [1] + [11] * 90 + [9]
    assert [len(chunk) for chunk in planned.chunks] == [MAX_RUN_COMMAND_INSTANCES] * 20
    assert "cloudformation" not in str(planned.listed) + str(planned.plan)


def test_the_listing_as_it_was_with_every_instances_tags_fails_its_step_under_step_fails(nodes):
    """The check bites: ListFleet's former output, every instance with its tags, is refused past 100 KB."""
    ec2 = scale.Ec2(nodes)
    former = [
        i
        for page in ec2.paginate(Filters=list_filters())
        for r in page["Reservations"]
        for i in r["Instances"]
    ]
    with pytest.raises(StepFailed, match="over the 100000 aws:executeScript returns"):
        scale.step(lambda events, context: {"Instances": json.dumps(former)}, {})


def test_a_fleet_of_1001_hosts_fails_the_listing_naming_the_limit():
    """One host over the maximum fails ListFleet, before any plan, saying the 1,000 hosts supported."""
    with pytest.raises(ValueError, match="more than the 1000 hosts releaseflow's runbooks support"):
        scale.plan(scale.instances(MAX_FLEET_HOSTS + 1, 0))


def list_filters():
    return [
        {"Name": "tag:releaseflow:fleet", "Values": ["scale"]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
