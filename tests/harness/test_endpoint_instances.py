"""InstancesService with a fake clock: DescribeInstanceInformation pages first, PingStatus lags a ping interval."""

from __future__ import annotations

import pytest

from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.foreign import FOREIGN_TAG
from releaseflow.rehearsal.endpoint.instances_service import InstancesService
from releaseflow.rehearsal.endpoint.moto_state import Ec2Instance


class Clock:
    """A clock that moves only when the test moves it."""

    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _service(instances: list[Ec2Instance], clock: Clock, ping_interval: float = 60) -> InstancesService:
    service = InstancesService(lambda: instances, offline_after=10, clock=clock, ping_interval=ping_interval)
    for instance in instances:
        service.heartbeat(instance.instance_id)
    return service


def test_pages_are_cut_before_the_filter_applies():
    """With 7 other nodes listed first, page 1 of 5 holds no fleet node but a NextToken, page 2 the fleet."""
    others = [Ec2Instance(f"i-other{n}", "running", {"fleet": "other"}) for n in range(7)]
    ours = [Ec2Instance(f"i-ours{n}", "running", {"fleet": "ours"}) for n in range(3)]
    service = _service([*others, *ours], Clock())
    request = {"Filters": [{"Key": "tag:fleet", "Values": ["ours"]}], "MaxResults": 5}
    first = service.describe(request)
    assert first["InstanceInformationList"] == []
    assert first["NextToken"]
    second = service.describe({**request, "NextToken": first["NextToken"]})
    assert [row["InstanceId"] for row in second["InstanceInformationList"]] == [
        "i-ours0",
        "i-ours1",
        "i-ours2",
    ]
    assert "NextToken" not in second


@pytest.mark.parametrize("size", [4, 51])
def test_max_results_outside_5_to_50_is_a_validation_error(size):
    """MaxResults 4 or 51 is refused as AWS refuses it (ValidationException naming the range)."""
    service = _service([Ec2Instance("i-1", "running", {})], Clock())
    with pytest.raises(ApiError) as error:
        service.describe({"MaxResults": size})
    assert error.value.code == "ValidationException"
    assert "between 5 and 50" in error.value.message


def test_ping_status_changes_only_at_the_ping_interval():
    """A silent agent stays Online until the next refresh after --offline-after, as AWS's 5-minute ping."""
    clock = Clock()
    service = _service([Ec2Instance("i-1", "running", {})], clock, ping_interval=60)
    assert service.ping_status("i-1") == "Online"
    clock.now += 30  # offline for SSM's threshold, but the status was refreshed 30 s ago
    assert service.ping_status("i-1") == "Online"
    clock.now += 30
    assert service.ping_status("i-1") == "ConnectionLost"
    service.heartbeat("i-1")
    assert service.ping_status("i-1") == "ConnectionLost"
    clock.now += 60
    service.heartbeat("i-1")
    assert service.ping_status("i-1") == "Online"


def test_stopped_and_terminated_instances_are_not_listed():
    """DescribeInstanceInformation leaves out stopped and terminated instances, whatever their agent did."""
    instances = [
        Ec2Instance("i-run", "running", {}),
        Ec2Instance("i-stop", "stopped", {}),
        Ec2Instance("i-gone", "terminated", {}),
    ]
    service = _service(instances, Clock())
    listed = [row["InstanceId"] for row in service.describe({})["InstanceInformationList"]]
    assert listed == ["i-run"]


def test_foreign_instances_are_online_managed_nodes_without_an_agent():
    """Instances tagged as another fleet's are managed and Online with no agent poll, and list in EC2 order."""
    foreign = [Ec2Instance(f"i-f{n}", "running", {FOREIGN_TAG: "true"}) for n in range(2)]
    ours = Ec2Instance("i-ours", "running", {})
    clock = Clock()
    service = InstancesService(lambda: [*foreign, ours], offline_after=10, clock=clock)
    service.heartbeat("i-ours")
    clock.now += 3600  # long after any real agent would be lost
    service.heartbeat("i-ours")
    listed = service.describe({})["InstanceInformationList"]
    assert [(row["InstanceId"], row["PingStatus"]) for row in listed] == [
        ("i-f0", "Online"),
        ("i-f1", "Online"),
        ("i-ours", "Online"),
    ]


def test_instance_ids_choose_the_nodes_before_the_page_is_cut():
    """An InstanceIds filter returns those nodes on the first page, however many nodes list before them."""
    others = [Ec2Instance(f"i-other{n}", "running", {}) for n in range(7)]
    service = _service([*others, Ec2Instance("i-ours", "running", {})], Clock())
    answer = service.describe({"Filters": [{"Key": "InstanceIds", "Values": ["i-ours"]}], "MaxResults": 5})
    assert [row["InstanceId"] for row in answer["InstanceInformationList"]] == ["i-ours"]
    assert "NextToken" not in answer


def test_instance_ids_naming_a_terminated_or_unknown_instance_fail_the_call_with_invalid_instance_id():
    """As AWS: a terminated or unknown id fails the whole call (InvalidInstanceId); a stopped node is a
    valid state, only left out."""
    instances = [
        Ec2Instance("i-run", "running", {}),
        Ec2Instance("i-stop", "stopped", {}),
        Ec2Instance("i-gone", "terminated", {}),
    ]
    service = _service(instances, Clock())

    def by_ids(*ids):
        return service.describe({"Filters": [{"Key": "InstanceIds", "Values": list(ids)}]})

    assert [row["InstanceId"] for row in by_ids("i-run", "i-stop")["InstanceInformationList"]] == ["i-run"]
    for invalid in ("i-gone", "i-never"):
        with pytest.raises(ApiError) as raised:
            by_ids("i-run", invalid)
        assert raised.value.code == "InvalidInstanceId"
        assert invalid in raised.value.message
