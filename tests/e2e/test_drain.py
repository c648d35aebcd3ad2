"""Issue 18 item 8: a batch is out of the load balancer for its switch, not for the deregistration delay.

One fleet of 3 hosts whose target group drains for 30 s (ELB's default is 300 s; the rehearsal's own
2 s hid the wait). A rolling deploy under steady traffic through HAProxy: DrainBatch hands over as soon
as the batch gets no new request, and the switch ends the drain on the host once its last requests are
answered. Every host is out of service for its switch plus a few seconds, and no request fails.
"""

from __future__ import annotations

import pytest

from bench.rehearsal import SWITCH_DOCUMENTS, HealthSampler, not_healthy_seconds, own_seconds_per_host
from releaseflow.follow import fetch
from scenarios import (
    LoadGenerator,
    assert_fleet_consistent,
    client,
    deploy,
    execution_id,
    fleet_fixture,
    roles,
    served,
    unhealthy_on,
)

pytestmark = pytest.mark.rehearsal
DELAY = 30
# What a batch may spend out of service beyond its own commands: the hand-over, each command's dispatch
# and report, and the load balancer's `rise` checks once registered (seconds; the delay is 30).
OVERHEAD = 8

rehearsal = fleet_fixture(hosts=3, aws_readings="default")


def _long_delay(rehearsal):
    """The fleet's target group with a 30 s deregistration delay; its elbv2 client and ARN."""
    elbv2 = client(rehearsal, "elbv2")
    arn = rehearsal.record.lb.target_group_arn
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(DELAY)}]
    )
    return elbv2, arn


def test_a_30_second_deregistration_delay_keeps_each_batch_out_only_for_its_switch(rehearsal):
    """Each host is out of service for its checkout, restart and health check plus a few seconds, well under
    the 30 s delay; its switch says its drain ended on a quiet port; 25 requests/s all answered."""
    elbv2, arn = _long_delay(rehearsal)

    def describe() -> dict[str, str]:
        found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found}

    with HealthSampler(describe) as sampler, LoadGenerator(rehearsal.lb_url) as load:
        result = deploy(rehearsal, "--revision", rehearsal.revisions[1], "--batch-size", "1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    snapshot = fetch(client(rehearsal, "ssm"), execution_id(result.stdout))
    switch = own_seconds_per_host(snapshot.invocations, SWITCH_DOCUMENTS)
    out_of_service = not_healthy_seconds(sampler.samples)
    print(f"out of service {out_of_service}, switch {switch}, deploy {result.stdout.splitlines()[-1:]}")
    assert set(switch) == set(rehearsal.instance_ids)
    for host in rehearsal.instance_ids:
        assert out_of_service[host] < switch[host] + OVERHEAD, (host, out_of_service, switch)
        assert out_of_service[host] < DELAY, (host, out_of_service)
    assert load.failures == [], load.failures[:10]
    assert load.sent / load.seconds >= 20
    drained = [i.output for i in snapshot.invocations if i.document == "releaseflow-CheckoutRevision"]
    assert len(drained) == 3 and all("drain: no request on port" in output for output in drained), drained


def test_a_rollback_fleet_drains_each_switched_host_without_waiting_out_the_delay(rehearsal):
    """A deploy fails its second batch's health check; RollbackFleet rolls back the migration host and the
    failing one, each batch back in service well within the 30 s delay, and no request fails."""
    _long_delay(rehearsal)
    migration, failing, _ = roles(rehearsal)
    old = served(rehearsal, migration)  # revision 2 after the test above, 1 when run alone
    with unhealthy_on(rehearsal, failing, parent=old) as unhealthy, LoadGenerator(rehearsal.lb_url) as load:
        result = deploy(
            rehearsal, "--revision", unhealthy, "--param", "HealthCheckRetries=15", "--batch-size", "1"
        )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: UpdateBatches[2].HealthCheckBatch" in result.stdout
    ssm = client(rehearsal, "ssm")
    prefix = {"Key": "DocumentNamePrefix", "Values": ["releaseflow-RollbackFleet"]}
    [rollback] = ssm.describe_automation_executions(Filters=[prefix])["AutomationExecutionMetadataList"]
    snapshot = fetch(ssm, rollback["AutomationExecutionId"])
    batches: dict[int, dict[str, object]] = {}
    for step in snapshot.steps:
        if step.parent == "RollBackBatches" and step.iteration is not None:
            batches.setdefault(step.iteration, {})[step.name] = step
    assert len(batches) == 2, [step.label for step in snapshot.steps]
    for steps in batches.values():
        drain, register = steps["DrainBatch"], steps["RegisterBatch"]
        assert (drain.end - drain.start).total_seconds() < 5, drain
        assert (register.end - drain.start).total_seconds() < DELAY, (drain, register)
    rolled_back = {
        i.instance_id: i.output for i in snapshot.invocations if i.document == "releaseflow-Rollback"
    }
    assert set(rolled_back) == {migration, failing}
    assert all("drain: no request on port" in output for output in rolled_back.values()), rolled_back
    assert load.failures == [], (len(load.failures), sorted(set(load.failures)))
    assert_fleet_consistent(rehearsal.state_dir, old)
