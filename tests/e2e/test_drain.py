"""Issue 18 item 8: a batch is out of the load balancer for its switch, not for the deregistration delay.

One fleet of 3 hosts whose target group drains for 30 s (ELB's default is 300 s; the rehearsal's own
2 s hid the wait). A rolling deploy under steady traffic through HAProxy: DrainBatch hands over as soon
as the batch gets no new request, and the switch ends the drain on the host once its last requests are
answered. Every host is out of service for its switch plus a few seconds, and no request fails.
"""

from __future__ import annotations

import pytest

from bench.rehearsal import SWITCH_DOCUMENTS, HealthSampler, not_healthy_seconds
from releaseflow.follow import fetch
from scenarios import LoadGenerator, client, deploy, execution_id, fleet_fixture

pytestmark = pytest.mark.rehearsal
DELAY = 30
# What a batch may spend out of service beyond its own commands: the hand-over, each command's dispatch
# and report, and the load balancer's `rise` checks once registered (seconds; the delay is 30).
OVERHEAD = 8

rehearsal = fleet_fixture(hosts=3, aws_readings="default")


def test_a_30_second_deregistration_delay_keeps_each_batch_out_only_for_its_switch(rehearsal):
    """Each host is out of service for its checkout, restart and health check plus a few seconds, well under
    the 30 s delay; its switch says its drain ended on a quiet port; 25 requests/s all answered."""
    elbv2 = client(rehearsal, "elbv2")
    arn = rehearsal.record.lb.target_group_arn
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(DELAY)}]
    )

    def describe() -> dict[str, str]:
        found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found}

    with HealthSampler(describe) as sampler, LoadGenerator(rehearsal.lb_url) as load:
        result = deploy(rehearsal, "--revision", rehearsal.revisions[1], "--batch-size", "1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    snapshot = fetch(client(rehearsal, "ssm"), execution_id(result.stdout))
    switch: dict[str, float] = {}
    for invocation in snapshot.invocations:
        if invocation.document in SWITCH_DOCUMENTS and invocation.start and invocation.end:
            spent = (invocation.end - invocation.start).total_seconds()
            switch[invocation.instance_id] = switch.get(invocation.instance_id, 0.0) + spent
    out_of_service = not_healthy_seconds(sampler.samples)
    print(f"out of service {out_of_service}, switch {switch}, deploy {result.stdout.splitlines()[-1:]}")
    assert set(switch) == set(rehearsal.instance_ids)
    for host in rehearsal.instance_ids:
        assert out_of_service[host] < switch[host] + OVERHEAD, (host, out_of_service, switch)
        assert out_of_service[host] < DELAY, (host, out_of_service)
    assert load.failures == [], load.failures[:10]
    assert load.sent / load.seconds >= 20
