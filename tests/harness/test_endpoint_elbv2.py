"""ELBv2 through the endpoint: moto keeps the registrations, HAProxy serves and reports target health."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from releaseflow.rehearsal.harness.fleet import free_port
from releaseflow.rehearsal.harness.haproxy import HAPROXY, LoadBalancer
from scenarios import AWS_CLI

pytestmark = pytest.mark.rehearsal


class _Up(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint_balanced(endpoint_launch, tmp_path):
    """An endpoint, one moto instance served by a local backend, HAProxy in front, a target group."""
    if not Path(HAPROXY).exists():
        pytest.fail("haproxy is not installed: run `make system-packages` (as root)")
    endpoint = endpoint_launch(tmp_path / "state")
    ec2, elbv2 = endpoint.client("ec2"), endpoint.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    [instance] = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"]
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Up)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    balancer = LoadBalancer(endpoint.state_dir)
    balancer.start({instance["InstanceId"]: backend.server_address[1]}, free_port())
    group = elbv2.create_target_group(Name="app", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/up")
    arn = group["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}]
    )
    yield elbv2, arn, instance["InstanceId"]
    balancer.stop()
    backend.shutdown()


def _health(elbv2, arn: str, instance_id: str | None = None) -> list[tuple[str, str, str]]:
    targets = {"Targets": [{"Id": instance_id}]} if instance_id else {}
    described = elbv2.describe_target_health(TargetGroupArn=arn, **targets)["TargetHealthDescriptions"]
    return [
        (d["Target"]["Id"], d["TargetHealth"]["State"], d["TargetHealth"].get("Reason", ""))
        for d in described
    ]


def _wait(elbv2, arn: str, instance_id: str, state: str) -> None:
    deadline = time.monotonic() + 15
    while _health(elbv2, arn, instance_id)[0][1] != state:
        assert time.monotonic() < deadline, _health(elbv2, arn, instance_id)
        time.sleep(0.2)


def test_register_and_deregister_drive_the_load_balancer(endpoint_balanced):
    """RegisterTargets puts the host in service until healthy; DeregisterTargets drains it, then unused."""
    elbv2, arn, instance_id = endpoint_balanced
    assert _health(elbv2, arn, instance_id) == [(instance_id, "unused", "Target.NotRegistered")]
    assert _health(elbv2, arn) == []

    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    _wait(elbv2, arn, instance_id, "healthy")
    assert [t[:2] for t in _health(elbv2, arn)] == [(instance_id, "healthy")]

    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    assert _health(elbv2, arn) == [(instance_id, "draining", "Target.DeregistrationInProgress")]
    _wait(elbv2, arn, instance_id, "unused")
    assert _health(elbv2, arn) == []


def test_unknown_target_group_is_moto_error(endpoint_balanced):
    """DescribeTargetHealth of a target group that does not exist is moto's TargetGroupNotFound."""
    elbv2, arn, _ = endpoint_balanced
    with pytest.raises(ClientError) as error:
        elbv2.describe_target_health(TargetGroupArn=arn.replace("/app/", "/nope/"))
    assert error.value.response["Error"]["Code"] == "TargetGroupNotFound"


def test_describe_target_health_refuses_what_the_model_forbids(endpoint_balanced):
    """A port past 65535, a QUIC server id past 256 characters, an Include value ELB does not know:
    ValidationError naming each member and constraint, as ELB's front end answers (botocore sends them)."""
    elbv2, arn, instance_id = endpoint_balanced
    with pytest.raises(ClientError) as refused:
        elbv2.describe_target_health(
            TargetGroupArn=arn,
            Targets=[{"Id": instance_id, "Port": 70000, "QuicServerId": "q" * 257}],
            Include=["Everything"],
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("3 validation errors detected: "), error["Message"]
    assert (
        "Value '70000' at 'targets.1.member.port' failed to satisfy constraint: Member must have value"
        in (error["Message"])
    )
    assert (
        "at 'targets.1.member.quicServerId' failed to satisfy constraint: Member must have length"
        in (error["Message"])
    )
    assert (
        "Value 'Everything' at 'include.1.member' failed to satisfy constraint: Member must satisfy enum"
        in (error["Message"])
    )
    assert _health(elbv2, arn, instance_id) == [(instance_id, "unused", "Target.NotRegistered")]


def test_deregistering_a_target_that_is_not_registered_changes_nothing(endpoint_balanced):
    """As ELB does, DeregisterTargets of an unregistered target succeeds and does nothing (moto would raise)."""
    elbv2, arn, instance_id = endpoint_balanced
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    assert _health(elbv2, arn, instance_id) == [(instance_id, "unused", "Target.NotRegistered")]

    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    _wait(elbv2, arn, instance_id, "healthy")
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    _wait(elbv2, arn, instance_id, "unused")
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    assert _health(elbv2, arn, instance_id) == [(instance_id, "unused", "Target.NotRegistered")]


def test_register_targets_refuses_the_whole_call_when_an_instance_is_not_running(endpoint_balanced):
    """RegisterTargets naming a stopped instance is InvalidTarget (boto3 and AWS CLI) and registers none."""
    elbv2, arn, instance_id = endpoint_balanced
    ec2 = boto3.client(
        "ec2",
        endpoint_url=elbv2.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    [stopped] = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"]
    ec2.stop_instances(InstanceIds=[stopped["InstanceId"]])
    targets = [{"Id": instance_id}, {"Id": stopped["InstanceId"]}]
    with pytest.raises(ClientError) as error:
        elbv2.register_targets(TargetGroupArn=arn, Targets=targets)
    assert error.value.response["Error"]["Code"] == "InvalidTarget"
    assert error.value.response["Error"]["Message"] == (
        "The following targets are not in a running state and cannot be registered: "
        f"'{stopped['InstanceId']}'"
    )
    assert _health(elbv2, arn, instance_id) == [(instance_id, "unused", "Target.NotRegistered")]
    cli = subprocess.run(
        [
            AWS_CLI,
            "elbv2",
            "register-targets",
            "--target-group-arn",
            arn,
            "--targets",
            f"Id={instance_id}",
            f"Id={stopped['InstanceId']}",
            "--endpoint-url",
            elbv2.meta.endpoint_url,
            "--region",
            "us-east-1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    assert cli.returncode != 0
    assert "(InvalidTarget)" in cli.stderr and stopped["InstanceId"] in cli.stderr
    assert _health(elbv2, arn, instance_id) == [(instance_id, "unused", "Target.NotRegistered")]
