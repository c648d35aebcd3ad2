"""The fleet's listing and its batches in and out of the target group: ListFleet, DrainBatch, RegisterBatch."""

import json

import pytest
from botocore.exceptions import ClientError

from aws_fakes import ARN, FakeAgents, FakeClient, FakeClock, FakeElb
from releaseflow.runbook_scripts import drain_batch, list_fleet, register_batch, shared
from releaseflow.ssm import MAX_FLEET_HOSTS, SCRIPT_PAYLOAD_BYTES


class FakeEc2(FakeClient):
    """DescribeInstances in pages of one reservation, the first page empty (as EC2 may answer)."""

    def __init__(self, hosts, tags=()):
        super().__init__()
        self.hosts = hosts
        self.tags = list(tags)

    def describe_instances(self, Filters, NextToken=None):
        self.note("describe_instances", {"Filters": Filters})
        index = int(NextToken or 0)
        if index == 0:
            return {"Reservations": [], "NextToken": "1"}
        page = [{"Instances": [{"InstanceId": self.hosts[index - 1], "Tags": self.tags}]}]
        more = {"NextToken": str(index + 1)} if index < len(self.hosts) else {}
        return {"Reservations": page, **more}


FLEET = {"FleetTagKey": "app", "FleetTagValue": "shop", "MigrationTagKey": "releaseflow:migrate"}


def test_list_fleet_reads_every_page_and_asks_agents_by_id_50_at_a_time():
    """ListFleet follows NextToken on both listings and filters agents by the fleet's ids, never by tag."""
    hosts = [f"i-{n:03d}" for n in range(120)]
    agents, ec2 = FakeAgents(hosts[:-1]), FakeEc2(hosts)
    result = list_fleet.handler(FLEET, None, ec2=ec2, ssm=agents)
    assert (json.loads(result["Hosts"]), json.loads(result["Offline"])) == (hosts, hosts[-1:])
    firsts = [c[1]["Filters"][0]["Values"] for c in agents.calls if c[1]["NextToken"] is None]
    assert [len(values) for values in firsts] == [50, 50, 20]
    assert ec2.calls[0][1]["Filters"] == [
        {"Name": "tag:app", "Values": ["shop"]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]


def test_list_fleet_passes_ids_only_and_stays_within_100_kb_at_1000_hosts_with_10_tags_each():
    """ListFleet's output holds no tags: 1,000 hosts with 10 tags each, all offline and tagged, fit 100 KB."""
    hosts = [f"i-{n:017x}" for n in range(1000)]
    tags = [{"Key": "releaseflow:migrate", "Value": "true"}]
    tags += [{"Key": f"aws:cloudformation:tag-{n}", "Value": "x" * 60} for n in range(9)]
    result = list_fleet.handler(FLEET, None, ec2=FakeEc2(hosts, tags), ssm=FakeAgents([]))
    assert (
        json.loads(result["Hosts"]) == json.loads(result["Offline"]) == json.loads(result["Tagged"]) == hosts
    )
    assert len(json.dumps(result)) <= SCRIPT_PAYLOAD_BYTES
    assert "cloudformation" not in json.dumps(result)


def test_list_fleet_refuses_more_hosts_than_the_runbooks_support_naming_the_limit():
    """A fleet of 1,001 running instances fails ListFleet, naming the tag and the 1,000-host maximum."""
    hosts = [f"i-{n:017x}" for n in range(MAX_FLEET_HOSTS + 1)]
    with pytest.raises(ValueError, match=r"^1001 running instances carry app=shop, more than the 1000 hosts"):
        list_fleet.handler(FLEET, None, ec2=FakeEc2(hosts), ssm=FakeAgents(hosts))


class AgentsWithTerminated(FakeAgents):
    """DescribeInstanceInformation that fails the whole call, as AWS does, when an id is terminated."""

    def __init__(self, online_hosts, terminated):
        super().__init__(online_hosts)
        self.terminated = set(terminated)

    def describe_instance_information(self, Filters, NextToken=None):
        if self.terminated & set(Filters[0]["Values"]):
            self.note("describe_instance_information", {"Filters": Filters, "NextToken": NextToken})
            error = {"Code": "InvalidInstanceId", "Message": "Instances not in a valid state for account."}
            raise ClientError({"Error": error}, "DescribeInstanceInformation")
        return super().describe_instance_information(Filters, NextToken)


def test_list_fleet_leaves_out_a_terminated_host_instead_of_failing_on_invalid_instance_id():
    """A fleet id AWS answers InvalidInstanceId for is asked alone and counted offline, the others read."""
    hosts = ["i-0a", "i-0b", "i-0c"]
    agents = AgentsWithTerminated(["i-0a", "i-0c"], terminated=["i-0b"])
    result = list_fleet.handler(FLEET, None, ec2=FakeEc2(hosts), ssm=agents)
    assert json.loads(result["Hosts"]) == hosts
    assert json.loads(result["Offline"]) == ["i-0b"]


def test_drain_batch_names_a_terminated_host_as_not_online_rather_than_crashing():
    """DrainBatch with a terminated batch host fails naming it, as for any host no longer online."""
    agents = AgentsWithTerminated(["i-0c"], terminated=["i-0d"])
    with pytest.raises(
        ValueError, match=r"not online in Systems Manager, so this batch does not start: i-0d$"
    ):
        drain([["i-0b"], ["i-0c", "i-0d"]], 1, agents, FakeElb(["i-0c", "i-0d"]))


def test_agents_pass_on_errors_other_than_invalid_instance_id():
    """Only InvalidInstanceId is taken as "absent": any other error still fails the script."""

    class Denied(FakeAgents):
        def describe_instance_information(self, Filters, NextToken=None):
            error = {"Code": "AccessDeniedException", "Message": "not authorized"}
            raise ClientError({"Error": error}, "DescribeInstanceInformation")

    with pytest.raises(ClientError, match="AccessDeniedException"):
        shared.agents(Denied([]), ["i-0a"])


def drain(batches, index, ssm, elb=None, arn=ARN, clock=None):
    events = {"Batches": json.dumps(batches), "Index": str(index), "TargetGroupArn": arn}
    return drain_batch.handler(events, None, ssm=ssm, elb=elb, clock=clock or FakeClock())


def test_drain_batch_refuses_a_host_lost_since_the_preflight_before_draining():
    """A batch host that is no longer Online fails DrainBatch at once, naming it, and nothing is deregistered."""
    elb = FakeElb(["i-0c", "i-0d"])
    with pytest.raises(
        ValueError, match=r"not online in Systems Manager, so this batch does not start: i-0d, i-0e$"
    ):
        drain([["i-0b"], ["i-0c", "i-0d", "i-0e"]], 1, FakeAgents(["i-0c"]), elb)
    assert elb.calls == []


def test_drain_batch_hands_over_once_the_batch_gets_no_new_request_without_waiting_out_the_delay():
    """DrainBatch deregisters the batch and returns at the first look finding every target draining: the
    host command that follows gets the whole deregistration delay as its bound (DrainSeconds)."""
    elb, clock = FakeElb(["i-0b", "i-0c"], delay=300), FakeClock()
    result = drain([["i-0b", "i-0c"]], 0, FakeAgents(["i-0b", "i-0c"]), elb, clock=clock)
    assert result == {"InstanceIds": ["i-0b", "i-0c"], "DrainSeconds": "300", "Role": "web", "Services": []}
    assert [name for name, _ in elb.calls] == [
        "describe_target_group_attributes",
        "deregister_targets",
        "describe_target_health",
    ]
    assert clock.slept == []


class SlowToDrain(FakeElb):
    """A target group whose deregistered targets still show healthy for the first `looks` looks."""

    def __init__(self, registered, looks, **options):
        super().__init__(registered, **options)
        self.looks = looks

    def describe_target_health(self, TargetGroupArn, Targets):
        if self.looks:
            self.looks -= 1
            self.note("describe_target_health", {"Targets": Targets})
            return {
                "TargetHealthDescriptions": [
                    {"Target": t, "TargetHealth": {"State": "healthy"}} for t in Targets
                ]
            }
        return super().describe_target_health(TargetGroupArn, Targets)


@pytest.mark.parametrize(
    ("delay", "looks", "left"),
    [
        (30, 3, "29"),  # 0.75 s of polls: what is left, rounded down
        (30, 12, "24"),  # 8 sleeps of 0.25 s, then 4 of 1 s: 6 s gone
        (
            4,
            12,
            "0",
        ),  # the delay ran out while the load balancer still routed to the batch: no wait on the host
        (0, 0, "0"),
    ],
)
def test_drain_batch_passes_on_what_is_left_of_the_deregistration_delay_never_more(delay, looks, left):
    """DrainSeconds is the delay less the time since the deregistration, in whole seconds rounded down, never
    below 0: the host's wait can never end after the load balancer's own drain would have."""
    elb, clock = SlowToDrain(["i-0b"], looks, delay=delay), FakeClock()
    result = drain([["i-0b"]], 0, FakeAgents(["i-0b"]), elb, clock=clock)
    assert result["DrainSeconds"] == left
    assert int(result["DrainSeconds"]) <= delay - sum(clock.slept) or result["DrainSeconds"] == "0"


def test_drain_batch_without_a_target_group_only_checks_the_agents():
    """Without TargetGroupArn the batch is just checked online and returned, with no drain for the host to
    wait for; no load balancer is touched."""
    assert drain([["i-0b"]], 0, FakeAgents(["i-0b"]), elb=None, arn="") == {
        "InstanceIds": ["i-0b"],
        "DrainSeconds": "0",
        "Role": "web",
        "Services": [],
    }


def test_a_batch_of_workers_is_never_drained_nor_registered_and_gets_the_worker_services():
    """Issue 19: a batch PlanRollout lists in WorkerBatches is checked online and handed over with its role
    and WorkerServices, with no load balancer call; RegisterBatch leaves it out too. A web batch of the same
    deploy is drained with the web Services."""
    elb = FakeElb(["i-0a", "i-0b"])
    events = {
        "Batches": json.dumps([["i-0a"], ["i-0b", "i-0c"]]),
        "TargetGroupArn": ARN,
        "WorkerBatches": "[1]",
        "Services": ["puma"],
        "WorkerServices": ["sidekiq", "mailer"],
    }
    worker = drain_batch.handler(
        {**events, "Index": "1"}, None, ssm=FakeAgents(["i-0b", "i-0c"]), elb=elb, clock=FakeClock()
    )
    assert worker == {
        "InstanceIds": ["i-0b", "i-0c"],
        "DrainSeconds": "0",
        "Role": "worker",
        "Services": ["sidekiq", "mailer"],
    }
    registered = register_batch.handler({**events, "Index": "1"}, None, elb=elb, clock=FakeClock())
    assert registered == {"InstanceIds": ["i-0b", "i-0c"], "BakedSeconds": 0}
    assert elb.calls == []
    web = drain_batch.handler(
        {**events, "Index": "0"}, None, ssm=FakeAgents(["i-0a"]), elb=elb, clock=FakeClock()
    )
    assert (web["Role"], web["Services"]) == ("web", ["puma"])
    assert [name for name, _ in elb.calls][:2] == ["describe_target_group_attributes", "deregister_targets"]


def test_register_batch_registers_again_a_host_whose_registration_was_dropped_while_it_drained():
    """RegisterTargets on a target still draining may be accepted and dropped (docs/aws-semantics.md): the
    target drains on, then shows unused (Target.NotRegistered). RegisterBatch registers it again then, and
    the batch comes back healthy; a target that took its registration is registered once."""
    elb = FakeElb(["i-0c"], drops_draining=True)
    elb.state["i-0b"] = "draining"
    events = {"Batches": json.dumps([["i-0b", "i-0c"]]), "Index": "0", "TargetGroupArn": ARN}
    assert register_batch.handler(events, None, elb=elb, clock=FakeClock()) == {
        "InstanceIds": ["i-0b", "i-0c"],
        "BakedSeconds": 0,
    }
    assert elb.state == {"i-0b": "healthy", "i-0c": "healthy"}
    registers = [call["Targets"] for name, call in elb.calls if name == "register_targets"]
    assert registers == [[{"Id": "i-0b"}], [{"Id": "i-0c"}], [{"Id": "i-0b"}]]


def test_register_batch_registers_each_host_so_a_stopped_one_keeps_no_other_out():
    """A stopped host is refused and named; the other hosts of the batch are registered and healthy."""
    elb = FakeElb([], stopped=["i-0c"])
    events = {"Batches": json.dumps([["i-0b", "i-0c", "i-0d"]]), "Index": "0", "TargetGroupArn": ARN}
    with pytest.raises(RuntimeError, match=r"^the load balancer refused i-0c: InvalidTarget"):
        register_batch.handler(events, None, elb=elb, clock=FakeClock())
    assert elb.state == {"i-0b": "healthy", "i-0d": "healthy"}
    registers = [call["Targets"] for name, call in elb.calls if name == "register_targets"]
    assert registers == [[{"Id": "i-0b"}], [{"Id": "i-0c"}], [{"Id": "i-0d"}]]


def register_and_bake(monkeypatch, batches, index, elb=None, **payload):
    """RegisterBatch for batch `index` with a clock that only moves when the handler sleeps:
    (its payload, the seconds it slept, the health wait's limit in seconds)."""
    clock, limits = FakeClock(), []
    wait_until = register_batch.wait_until

    def recorded(elb, arn, hosts, state, meaning, seconds, clock, again=None):
        limits.append(seconds)
        return wait_until(elb, arn, hosts, state, meaning, seconds, clock, again)

    monkeypatch.setattr(register_batch, "wait_until", recorded)
    arn = ARN if elb is not None else ""
    events = {"Batches": json.dumps(batches), "Index": str(index), "TargetGroupArn": arn, **payload}
    return register_batch.handler(events, None, elb=elb, clock=clock), sum(clock.slept), limits


def test_register_batch_bakes_after_the_migration_host_only_when_more_batches_follow(monkeypatch):
    """BakeSeconds after the first of several batches; no bake after any other batch (the last bakes in
    BakeFleet), nor when the migration host is the only batch."""
    batches = [["i-0a"], ["i-0b"], ["i-0c", "i-0d"]]
    result, slept, _ = register_and_bake(monkeypatch, batches, 0, BakeSeconds="30")
    assert (result, slept) == ({"InstanceIds": ["i-0a"], "BakedSeconds": 30}, 30)
    for index in (1, 2):
        result, slept, _ = register_and_bake(monkeypatch, batches, index, BakeSeconds="30")
        assert (result["BakedSeconds"], slept) == (0, 0)
    assert register_and_bake(monkeypatch, [["i-0a"]], 0, BakeSeconds="30")[1] == 0
    assert register_and_bake(monkeypatch, batches, 0, BakeSeconds="0")[1] == 0


def test_register_batch_bakes_once_the_migration_host_is_healthy_within_the_scripts_time(monkeypatch):
    """With a target group the bake follows the health wait, whose limit is what the bake leaves of 540 s."""
    elb = FakeElb([])
    result, slept, limits = register_and_bake(
        monkeypatch, [["i-0a"], ["i-0b"]], 0, elb=elb, BakeSeconds="300"
    )
    assert elb.state == {"i-0a": "healthy"}
    assert (result["BakedSeconds"], limits) == (300, [240])
    # One poll found the target initial (a 0.25 s pause), the next healthy; then the bake.
    assert slept == 0.25 + 300
    later = register_and_bake(monkeypatch, [["i-0a"], ["i-0b"]], 1, elb=FakeElb([]), BakeSeconds="300")
    assert later[2] == [540]


def test_register_batch_refuses_a_bake_longer_than_it_can_hold(monkeypatch):
    """A BakeSeconds past MAX_BAKE_SECONDS (the allowedPattern keeps it out) fails the step by name, unslept."""
    with pytest.raises(ValueError, match=r"^BakeSeconds 301 is more than the 300 s this step can bake$"):
        register_and_bake(monkeypatch, [["i-0a"], ["i-0b"]], 0, BakeSeconds="301")


def test_the_rollback_runs_the_register_script_without_a_bake(monkeypatch):
    """Without BakeSeconds (RollbackFleet passes none) RegisterBatch never bakes."""
    assert register_and_bake(monkeypatch, [["i-0a"], ["i-0b"]], 0)[1] == 0


class Stuck:
    """A target group whose targets stay `initial`."""

    def describe_target_health(self, TargetGroupArn, Targets):
        return {
            "TargetHealthDescriptions": [{"Target": t, "TargetHealth": {"State": "initial"}} for t in Targets]
        }


@pytest.mark.parametrize("seconds", [6, shared.WAIT_SECONDS])
def test_target_health_waits_poll_often_at_first_then_every_second_until_the_limit(seconds):
    """A target still changing is looked at every 0.25 s for the first 2 s, then every second, until the
    limit (540 s unless given), then named in a TimeoutError."""
    clock = FakeClock()
    with pytest.raises(TimeoutError, match=rf"^not healthy after {seconds} s in {ARN}: i-0a \(initial\)$"):
        shared.wait_until(Stuck(), ARN, ["i-0a"], "healthy", "healthy", seconds, clock)
    assert clock.slept[:11] == [0.25] * 8 + [1, 1, 1]
    assert seconds < clock.now <= seconds + 1


def test_script_clients_retry_throttling_in_standard_mode(monkeypatch):
    """A script's boto3 clients use standard retries, so a throttled call is retried before the step fails."""
    made = []
    monkeypatch.setattr(shared.boto3, "client", lambda service, config: made.append((service, config)))
    shared.client("ssm")
    [(service, config)] = made
    assert (service, config.retries) == ("ssm", {"mode": "standard", "max_attempts": 5})
