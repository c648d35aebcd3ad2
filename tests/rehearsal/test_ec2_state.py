"""EC2 stop-instances / start-instances on a rehearsal host: it powers down and up, and AWS's APIs show it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from scenarios import client, fleet_fixture, ping_status, wait_until

from releaseflow.rehearsal import fleet
from releaseflow.rehearsal.services import alive

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=1)
AWS = Path(sys.executable).parent / "aws"


def _health(rehearsal) -> tuple[str, str]:
    arn = json.loads((rehearsal.state_dir / "fleet.json").read_text())["lb"]["target_group_arn"]
    [entry] = client(rehearsal, "elbv2").describe_target_health(TargetGroupArn=arn)[
        "TargetHealthDescriptions"
    ]
    return entry["TargetHealth"]["State"], entry["TargetHealth"].get("Reason", "")


def test_stop_and_start_power_the_host_everywhere_aws_shows_it(rehearsal):
    """boto3 StopInstances stops the host's agent and puma: EC2 says stopped, SSM lists it no more, ELB has it
    unused (Target.InvalidState) and refuses to register it; AWS CLI start-instances brings all of it back."""
    [instance_id] = rehearsal.instance_ids
    root = rehearsal.host_root(instance_id)
    agent, puma = int((root / "agent.pid").read_text()), int((root / "run" / "puma.pid").read_text())
    ec2 = client(rehearsal, "ec2")

    ec2.stop_instances(InstanceIds=[instance_id])
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "stopped"
    wait_until(lambda: not alive(agent) and not alive(puma), 30, "agent and puma stopped")
    assert ping_status(rehearsal, instance_id) == ""  # DescribeInstanceInformation leaves stopped nodes out
    assert _health(rehearsal) == ("unused", "Target.InvalidState")
    arn = json.loads((rehearsal.state_dir / "fleet.json").read_text())["lb"]["target_group_arn"]
    with pytest.raises(ClientError) as error:
        client(rehearsal, "elbv2").register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    assert error.value.response["Error"]["Code"] == "InvalidTarget"
    assert [h.running for h in fleet.status(rehearsal.state_dir).hosts] == [False]

    subprocess.run(
        [str(AWS), "ec2", "start-instances", "--instance-ids", instance_id],
        env=rehearsal.environment,
        check=True,
        capture_output=True,
    )
    wait_until(lambda: ping_status(rehearsal, instance_id) == "Online", 30, "the agent is back online")
    wait_until(lambda: _health(rehearsal)[0] == "healthy", 60, "the host is healthy behind the load balancer")
    [host] = fleet.status(rehearsal.state_dir).hosts
    assert host.running and host.serving == rehearsal.revisions[0]
    assert int((root / "agent.pid").read_text()) != agent
