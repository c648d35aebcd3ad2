"""Resilience of the rehearsal: endpoint crash and restart, throttling and 5xx answers, interrupted publish."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from releaseflow.cli import main
from releaseflow.publish import publish_documents
from releaseflow.rehearsal.endpoint import moto_journal
from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.faults_service import FaultsService
from releaseflow.rehearsal.engine.automation import RESTARTED
from releaseflow.rehearsal.harness import fleet, provision
from releaseflow.rehearsal.harness.app_repo import push_commit
from releaseflow.rehearsal.host.services import alive
from scenarios import (
    AWS_CLI,
    RELEASEFLOW,
    assert_fleet_consistent,
    client,
    deploy,
    execution_id,
    fleet_fixture,
    ping_status,
    wait_until,
)

pytestmark = pytest.mark.rehearsal
REPO = Path(__file__).resolve().parents[2]
COMMAND_DOCUMENTS = sorted(path.stem for path in (REPO / "documents").glob("*.yaml"))
RUNBOOKS = sorted(path.stem for path in (REPO / "automation").glob("*.yaml"))
# What the trigger polls while it follows a deploy.
FOLLOW_OPERATIONS = ["GetAutomationExecution", "DescribeAutomationStepExecutions", "ListCommandInvocations"]

# Two hosts: the migration host and one more, enough for a deploy cut in the middle (one host on the new
# revision, one not) and for a host stopped while the other serves. What these tests prove (the trigger
# rides out faults, a redeploy converges, the endpoint keeps its state) does not hang on the host or batch
# count, and each host costs every deploy a build, a restart and a health check of CPU.
rehearsal = fleet_fixture(hosts=2)


def _faults(url: str, body: dict | None = None) -> dict:
    """POST (body) or GET the endpoint's fault injection."""
    request = urllib.request.Request(
        f"{url}/_rehearsal/faults",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _defaults(ssm, names: list[str]) -> dict[str, tuple[str, str]]:
    """Each document's default version and hash (absent documents are left out)."""
    found = {}
    for name in names:
        try:
            document = ssm.describe_document(Name=name)["Document"]
        except ClientError:
            continue
        found[name] = (document["DefaultVersion"], document["Hash"])
    return found


def _publish(environment: dict, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RELEASEFLOW, "publish", "--root", str(root), "--commit", "0123456789ab"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- units -------------------------------------------------------------------------------------------


def test_faults_are_spread_evenly_and_never_twice_in_a_row_below_half():
    """At rate 0.3 exactly 3 of 10 matching requests fail, never two in a row; other operations pass."""
    faults = FaultsService()
    faults.configure({"operations": ["GetAutomationExecution"], "rate": 0.3, "kind": "5xx"})
    outcomes = []
    for _ in range(10):
        try:
            faults.check("GetAutomationExecution", {})
            outcomes.append(".")
        except ApiError as error:
            outcomes.append(str(error.status))
        faults.check("DescribeAutomationStepExecutions", {})
    assert "".join(outcome[0] for outcome in outcomes) == "...5..5..5"
    assert faults.report()["injected"] == 3


def test_fault_configuration_is_checked():
    """An unknown kind or a rate outside 0..1 is refused."""
    with pytest.raises(ApiError):
        FaultsService().configure({"operations": ["GetDocument"], "kind": "slow"})
    with pytest.raises(ApiError):
        FaultsService().configure({"operations": ["GetDocument"], "rate": 2})


@pytest.mark.parametrize(
    ("environ", "body", "writes"),
    [
        ({"HTTP_X_AMZ_TARGET": "AmazonSSM.CreateDocument"}, b"{}", True),
        ({"HTTP_X_AMZ_TARGET": "AmazonSSM.DescribeDocument"}, b"{}", False),
        ({"CONTENT_TYPE": "application/x-www-form-urlencoded"}, b"Action=RunInstances&Version=1", True),
        ({"CONTENT_TYPE": "application/x-www-form-urlencoded"}, b"Action=DescribeVpcs&Version=1", False),
        ({"REQUEST_METHOD": "GET"}, b"", False),
        ({"REQUEST_METHOD": "POST"}, b"{}", True),
    ],
)
def test_journal_keeps_what_may_change_moto(environ, body, writes):
    """Describe/Get/List operations and plain GETs are not journaled; everything else is."""
    assert moto_journal._writes(environ, body) is writes


# --- the endpoint alone ---------------------------------------------------------------------------


def test_restarted_endpoint_has_the_same_documents_instances_and_target_group(endpoint_launch, tmp_path):
    """After SIGKILL and a restart, documents, instance ids, default VPC and target group ARN are as before."""
    state = tmp_path / "state"
    first = endpoint_launch(state)
    ssm, ec2, elbv2 = (first.client(name) for name in ("ssm", "ec2", "elbv2"))
    publish_documents(ssm, REPO)
    image = fleet.IMAGE_ID
    ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    elbv2.create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId=vpc)
    instances = sorted(
        i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    )
    before = (
        _defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS),
        instances,
        vpc,
        [group["TargetGroupArn"] for group in elbv2.describe_target_groups()["TargetGroups"]],
    )
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    # A killed endpoint leaves its endpoint.json; the launcher waits for a fresh one.
    (state / "endpoint.json").unlink()

    second = endpoint_launch(state)
    ssm, ec2, elbv2 = (second.client(name) for name in ("ssm", "ec2", "elbv2"))
    after = (
        _defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS),
        sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]),
        ec2.describe_vpcs()["Vpcs"][0]["VpcId"],
        [group["TargetGroupArn"] for group in elbv2.describe_target_groups()["TargetGroups"]],
    )
    assert after == before
    assert len(before[0]) == len(COMMAND_DOCUMENTS + RUNBOOKS)
    assert publish_documents(ssm, REPO).changed == ()
    new = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert new not in instances


def test_faults_answer_only_the_named_operations_and_documents(endpoint_launch, tmp_path):
    """Injected 5xx hit only CreateDocument of the named document; throttling at 0.5 fails every other attempt."""
    endpoint = endpoint_launch(tmp_path / "state")
    ssm = endpoint.client("ssm")
    _faults(endpoint.url, {"operations": ["CreateDocument"], "names": ["broken"], "kind": "5xx"})
    content = json.dumps({"schemaVersion": "2.2", "mainSteps": []})
    with pytest.raises(ClientError) as refused:
        ssm.create_document(Name="broken", Content=content, DocumentType="Command")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    ssm.create_document(Name="fine", Content=content, DocumentType="Command")

    _faults(endpoint.url, {"operations": ["DescribeDocument"], "rate": 0.5, "kind": "throttle"})
    # The client retries: every other attempt is throttled, so each call succeeds on its second try.
    for _ in range(4):
        assert ssm.describe_document(Name="fine")["Document"]["Name"] == "fine"
    assert _faults(endpoint.url) == {
        "operations": ["DescribeDocument"],
        "rate": 0.5,
        "kind": "throttle",
        "names": [],
        "matched": 7,
        "injected": 3,
    }
    _faults(endpoint.url, {})
    assert ssm.describe_document(Name="fine")["Document"]["Name"] == "fine"


def test_publish_interrupted_before_the_runbooks_converges_on_rerun(endpoint_launch, tmp_path):
    """A 5xx on the runbook's CreateDocument stops publish after the command documents; a rerun converges."""
    endpoint = endpoint_launch(tmp_path / "state")
    ssm = endpoint.client("ssm")
    _faults(endpoint.url, {"operations": ["CreateDocument"], "names": [RUNBOOKS[0]], "kind": "5xx"})
    interrupted = _publish(endpoint.environment(), REPO)
    assert (interrupted.returncode, interrupted.stdout) == (1, ""), interrupted.stderr
    assert "InternalServerError" in interrupted.stderr
    assert set(_defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS)) == set(COMMAND_DOCUMENTS)

    _faults(endpoint.url, {})
    rerun = _publish(endpoint.environment(), REPO)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    published = _defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS)
    assert {name: version for name, (version, _) in published.items()} == dict.fromkeys(
        COMMAND_DOCUMENTS + RUNBOOKS, "1"
    )
    deploy_runbook = json.loads(ssm.get_document(Name="releaseflow-Deploy", DocumentFormat="JSON")["Content"])
    checkout_hash = ssm.describe_document(Name="releaseflow-CheckoutRevision")["Document"]["Hash"]
    assert f'"DocumentHash": "{checkout_hash}"' in json.dumps(deploy_runbook)
    again = _publish(endpoint.environment(), REPO)
    assert again.returncode == 0
    assert _defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS) == published


def test_publish_of_invalid_content_writes_nothing(endpoint_launch, tmp_path):
    """A changed but invalid document set is refused before any write: every default version stays."""
    endpoint = endpoint_launch(tmp_path / "state")
    ssm = endpoint.client("ssm")
    publish_documents(ssm, REPO)
    published = _defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS)
    root = tmp_path / "source"
    shutil.copytree(REPO / "documents", root / "documents")
    shutil.copytree(REPO / "automation", root / "automation")
    # A valid change to one command document and an invalid one to another: neither may land.
    changed = root / "documents" / f"{COMMAND_DOCUMENTS[0]}.yaml"
    changed.write_text(changed.read_text().replace("description:", "description: changed,", 1))
    broken = root / "documents" / f"{COMMAND_DOCUMENTS[1]}.yaml"
    broken.write_text(broken.read_text().replace('schemaVersion: "2.2"', "schemaVersion: 2.2"))
    refused = _publish(endpoint.environment(), root)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{COMMAND_DOCUMENTS[1]}.yaml" in refused.stdout + refused.stderr
    assert _defaults(ssm, COMMAND_DOCUMENTS + RUNBOOKS) == published


# --- a fleet --------------------------------------------------------------------------------------


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def _serving(state_dir: Path, instance_id: str) -> str:
    commit = state_dir / "hosts" / instance_id / "run" / f"{provision.SERVICE}.commit"
    return commit.read_text().strip() if commit.exists() else ""


def test_endpoint_crash_mid_deploy_keeps_history_and_a_redeploy_converges(rehearsal):
    """SIGKILL of the endpoint mid-deploy: after a restart the execution reads Failed (restart), every
    host serves what it has checked out, and deploying the same revision again brings all hosts to it."""
    second = rehearsal.revisions[1]
    trigger = subprocess.Popen(
        [RELEASEFLOW, "deploy", "--revision", second],
        env=rehearsal.environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The migration host has been restarted on the new revision: its batch is half-way.
        _wait_for(
            lambda: any(_serving(rehearsal.state_dir, i) == second for i in rehearsal.instance_ids),
            180,
            "the first host to serve revision 2",
        )
        endpoint_pid = json.loads((rehearsal.state_dir / "endpoint.json").read_text())["pid"]
        os.kill(endpoint_pid, signal.SIGKILL)
        assert main(["local", "restart-endpoint", "--state-dir", str(rehearsal.state_dir)]) == 0
        output, _ = trigger.communicate(timeout=120)
    finally:
        if trigger.poll() is None:
            trigger.kill()
            trigger.wait()
    interrupted = execution_id(output)
    assert trigger.returncode == 1, output[-3000:]

    ssm = fleet.client("ssm", fleet.env(rehearsal.state_dir)["AWS_ENDPOINT_URL"])
    execution = ssm.get_automation_execution(AutomationExecutionId=interrupted)["AutomationExecution"]
    assert (execution["AutomationExecutionStatus"], execution["FailureMessage"]) == ("Failed", RESTARTED)
    steps = ssm.describe_automation_step_executions(AutomationExecutionId=interrupted)["StepExecutions"]
    assert steps and steps[0]["StepStatus"] == "Success"
    hosts = fleet.status(rehearsal.state_dir).hosts
    assert all(host.running and host.revision == host.serving for host in hosts), hosts
    assert {host.serving for host in hosts} <= {rehearsal.revisions[0], second}

    redeploy = deploy(rehearsal, "--revision", second)
    assert redeploy.returncode == 0, redeploy.stdout[-3000:] + redeploy.stderr
    assert_fleet_consistent(rehearsal.state_dir, second)


def test_follow_survives_throttling_and_5xx_for_a_success_and_a_failure(rehearsal):
    """With 30% of the trigger's polling calls throttled or failing with 5xx, it still exits 0 for a good
    revision and 1 for a bad one, and the runbooks' own calls are never hit."""
    third = push_commit(
        rehearsal.state_dir,
        {"public/robots.txt": "# revision 3\n"},
        "revision 3",
        parent=rehearsal.revisions[1],
    )
    url = fleet.env(rehearsal.state_dir)["AWS_ENDPOINT_URL"]
    try:
        _faults(url, {"operations": FOLLOW_OPERATIONS, "rate": 0.3, "kind": "throttle"})
        success = deploy(rehearsal, "--revision", third)
        throttled = _faults(url)
        _faults(url, {"operations": FOLLOW_OPERATIONS, "rate": 0.3, "kind": "5xx"})
        failure = deploy(rehearsal, "--revision", "0" * 40)
        failed = _faults(url)
    finally:
        _faults(url, {})
    assert success.returncode == 0, success.stdout[-3000:] + success.stderr
    assert throttled["injected"] >= 3
    assert failure.returncode == 1, failure.stdout[-3000:] + failure.stderr
    assert "is not a commit" in failure.stdout
    assert failed["injected"] >= 1
    assert_fleet_consistent(rehearsal.state_dir, third)


# Last in the module: it stops and starts one host of the shared fleet, which ends as it began.


def _health(rehearsal, instance_id: str) -> tuple[str, str]:
    arn = rehearsal.record.lb.target_group_arn
    targets = [{"Id": instance_id}]
    described = client(rehearsal, "elbv2").describe_target_health(TargetGroupArn=arn, Targets=targets)
    [entry] = described["TargetHealthDescriptions"]
    return entry["TargetHealth"]["State"], entry["TargetHealth"].get("Reason", "")


def test_ec2_stop_and_start_power_the_host_everywhere_aws_shows_it(rehearsal):
    """boto3 StopInstances stops the host's agent and puma: EC2 says stopped, SSM lists it no more, ELB has it
    unused (Target.InvalidState) and refuses to register it; AWS CLI start-instances brings all of it back."""
    instance_id = rehearsal.instance_ids[-1]
    before = next(h for h in fleet.status(rehearsal.state_dir).hosts if h.instance_id == instance_id)
    root = rehearsal.host_root(instance_id)
    agent, puma = int((root / "agent.pid").read_text()), int((root / "run" / "puma.pid").read_text())
    ec2 = client(rehearsal, "ec2")

    ec2.stop_instances(InstanceIds=[instance_id])
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "stopped"
    wait_until(lambda: not alive(agent) and not alive(puma), 30, "agent and puma stopped")
    assert ping_status(rehearsal, instance_id) == ""  # DescribeInstanceInformation leaves stopped nodes out
    assert _health(rehearsal, instance_id) == ("unused", "Target.InvalidState")
    arn = rehearsal.record.lb.target_group_arn
    with pytest.raises(ClientError) as error:
        client(rehearsal, "elbv2").register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    assert error.value.response["Error"]["Code"] == "InvalidTarget"
    assert not next(
        h for h in fleet.status(rehearsal.state_dir).hosts if h.instance_id == instance_id
    ).running

    subprocess.run(
        [AWS_CLI, "ec2", "start-instances", "--instance-ids", instance_id],
        env=rehearsal.environment,
        check=True,
        capture_output=True,
    )
    wait_until(lambda: ping_status(rehearsal, instance_id) == "Online", 30, "the agent is back online")
    wait_until(
        lambda: _health(rehearsal, instance_id)[0] == "healthy",
        60,
        "the host is healthy behind the load balancer",
    )
    host = next(h for h in fleet.status(rehearsal.state_dir).hosts if h.instance_id == instance_id)
    assert host.running and (host.revision, host.serving) == (before.revision, before.serving)
    assert int((root / "agent.pid").read_text()) != agent
