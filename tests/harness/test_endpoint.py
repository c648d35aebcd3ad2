"""The rehearsal endpoint as a real process: moto pass-through, Run Command, instance information."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from botocore.exceptions import ClientError

from releaseflow.rehearsal.endpoint.server import POLL_SLICE_SECONDS
from releaseflow.rehearsal.harness import fleet
from scenarios import AWS_CLI

# The AWS CLI of the test extra, beside this interpreter (PATH may not hold the virtualenv's bin/).

ECHO_DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "Echo a message.",
    "parameters": {"Message": {"type": "String", "default": "hello", "allowedPattern": "^[a-z ]+$"}},
    "mainSteps": [
        {"action": "aws:runShellScript", "name": "Echo", "inputs": {"runCommand": ["echo {{ Message }}"]}}
    ],
}


def _document(endpoint, content: dict = ECHO_DOCUMENT) -> str:
    name = f"test-{uuid.uuid4().hex[:10]}"
    endpoint.client("ssm").create_document(
        Name=name, Content=yaml.safe_dump(content), DocumentType="Command", DocumentFormat="YAML"
    )
    return name


def _instances(endpoint, count: int, tags: dict[str, str] | None = None, poll: bool = True) -> list[str]:
    """EC2 instances in moto whose agents have polled once (so SSM manages them)."""
    tags = {"fleet": uuid.uuid4().hex[:8], **(tags or {})}
    reservation = endpoint.client("ec2").run_instances(
        ImageId="ami-12c6146b",
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    ids = [instance["InstanceId"] for instance in reservation["Instances"]]
    if poll:
        for instance_id in ids:
            assert endpoint.agent("poll", {"instance_id": instance_id, "wait": 0}) == {
                "commands": [],
                "cancel": [],
            }
    return ids


def _finish(
    endpoint, instance_id: str, command: dict, status: str = "Success", code: int = 0, stdout: str = ""
) -> None:
    """Report a command as the agent does: InProgress at start, the outcome at the end."""
    start, end = "2026-01-01T10:00:00Z", "2026-01-01T10:00:02Z"
    base = {"instance_id": instance_id, "command_id": command["command_id"], "start": start}
    endpoint.agent("report", {**base, "status": "InProgress", "response_code": -1, "plugins": []})
    plugin = {
        "name": "Echo",
        "status": status,
        "response_code": code,
        "start": start,
        "end": end,
        "output": stdout,
        "stdout": stdout,
        "stderr": "",
    }
    endpoint.agent(
        "report", {**base, "status": status, "response_code": code, "end": end, "plugins": [plugin]}
    )


def _poll(endpoint, instance_id: str, wait: float = 0) -> dict:
    return endpoint.agent("poll", {"instance_id": instance_id, "wait": wait})


def test_get_command_invocation_of_a_several_step_document_needs_the_step(endpoint_server):
    """GetCommandInvocation refuses InvalidPluginName without PluginName when the document has more than
    one step (API reference: "If the document contains more than one step, you must specify the name of
    the step"), and answers for a named step."""
    ssm = endpoint_server.client("ssm")
    two_steps = {
        **ECHO_DOCUMENT,
        "mainSteps": [
            *ECHO_DOCUMENT["mainSteps"],
            {"action": "aws:runShellScript", "name": "Again", "inputs": {"runCommand": ["true"]}},
        ],
    }
    [instance_id] = _instances(endpoint_server, 1)
    command_id = ssm.send_command(
        DocumentName=_document(endpoint_server, two_steps), InstanceIds=[instance_id]
    )["Command"]["CommandId"]
    with pytest.raises(ClientError) as refused:
        ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    assert refused.value.response["Error"]["Code"] == "InvalidPluginName"
    assert "name one with PluginName (Echo, Again)" in refused.value.response["Error"]["Message"]
    answer = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="Again")
    assert answer["PluginName"] == "Again"


def test_health_answers_ok(endpoint_server):
    """GET /_rehearsal/health answers 200 once the endpoint listens (what `local up` waits for)."""
    with urllib.request.urlopen(f"{endpoint_server.url}/_rehearsal/health", timeout=5) as response:
        assert response.status == 200


def test_documents_pass_through_to_moto(endpoint_server):
    """create_document/get_document are moto's own: content and versions come back as stored."""
    name = _document(endpoint_server)
    document = endpoint_server.client("ssm").get_document(Name=name)
    assert yaml.safe_load(document["Content"]) == ECHO_DOCUMENT
    assert document["DocumentVersion"] == "1"


def test_send_command_runs_through_an_agent(endpoint_server):
    """SendCommand queues an invocation the agent picks up once; its report is what the API returns."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    [instance_id] = _instances(endpoint_server, 1)
    sent = ssm.send_command(
        DocumentName=name, InstanceIds=[instance_id], Parameters={"Message": ["hi there"]}
    )
    command_id = sent["Command"]["CommandId"]
    assert sent["Command"]["Status"] == "Pending" and sent["Command"]["TargetCount"] == 1

    [delivered] = _poll(endpoint_server, instance_id)["commands"]
    assert delivered["document_name"] == name and delivered["document_version"] == "1"
    assert delivered["content"] == ECHO_DOCUMENT
    assert delivered["parameters"] == {"Message": ["hi there"]}
    assert delivered["timeout_seconds"] == 3600
    assert _poll(endpoint_server, instance_id)["commands"] == []
    assert ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)["Status"] == "InProgress"

    _finish(endpoint_server, instance_id, delivered, stdout="hi there\n")
    result = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    assert (result["Status"], result["StatusDetails"], result["ResponseCode"]) == ("Success", "Success", 0)
    assert result["StandardOutputContent"] == "hi there\n"
    assert result["ExecutionStartDateTime"] == "2026-01-01T10:00:00.000Z"
    assert result["ExecutionEndDateTime"] == "2026-01-01T10:00:02.000Z"
    assert (
        ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="Echo")[
            "PluginName"
        ]
        == "Echo"
    )

    [invocation] = ssm.list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"]
    assert invocation["Status"] == "Success"
    assert [(p["Name"], p["Output"], p["ResponseCode"]) for p in invocation["CommandPlugins"]] == [
        ("Echo", "hi there\n", 0)
    ]
    [command] = ssm.list_commands(CommandId=command_id)["Commands"]
    assert (command["Status"], command["CompletedCount"], command["ErrorCount"]) == ("Success", 1, 0)


def test_send_command_checks_parameters_and_instances(endpoint_server):
    """Undeclared or pattern-breaking parameters are InvalidParameters; unmanaged instances InvalidInstanceId."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    [managed] = _instances(endpoint_server, 1)
    [unmanaged] = _instances(endpoint_server, 1, poll=False)
    for parameters in ({"Nope": ["x"]}, {"Message": ["UPPER"]}):
        with pytest.raises(ClientError) as error:
            ssm.send_command(DocumentName=name, InstanceIds=[managed], Parameters=parameters)
        assert error.value.response["Error"]["Code"] == "InvalidParameters"
    with pytest.raises(ClientError) as error:
        ssm.send_command(DocumentName=name, InstanceIds=[unmanaged])
    assert error.value.response["Error"]["Code"] == "InvalidInstanceId"
    with pytest.raises(ClientError) as error:
        ssm.send_command(DocumentName="no-such-document", InstanceIds=[managed])
    assert error.value.response["Error"]["Code"] == "InvalidDocument"


def test_send_command_resolves_tag_targets_and_versions(endpoint_server):
    """Targets tag:Key selects the managed instances carrying the tag; DocumentVersion picks the version."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    changed = {**ECHO_DOCUMENT, "description": "Version two."}
    ssm.update_document(
        Name=name, Content=yaml.safe_dump(changed), DocumentVersion="$LATEST", DocumentFormat="YAML"
    )
    role = uuid.uuid4().hex[:8]
    tagged = _instances(endpoint_server, 2, {"role": role})
    _instances(endpoint_server, 1, {"role": "other"})
    sent = ssm.send_command(
        DocumentName=name, DocumentVersion="$LATEST", Targets=[{"Key": "tag:role", "Values": [role]}]
    )
    assert sent["Command"]["TargetCount"] == 2 and sent["Command"]["DocumentVersion"] == "2"
    invocations = ssm.list_command_invocations(CommandId=sent["Command"]["CommandId"])["CommandInvocations"]
    assert sorted(i["InstanceId"] for i in invocations) == sorted(tagged)
    default = ssm.send_command(DocumentName=name, InstanceIds=tagged[:1])
    assert default["Command"]["DocumentVersion"] == "1"


def test_max_concurrency_hands_out_one_at_a_time(endpoint_server):
    """MaxConcurrency 1: the second instance gets the command only after the first one finished."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    first, second = _instances(endpoint_server, 2)
    ssm.send_command(DocumentName=name, InstanceIds=[first, second], MaxConcurrency="1")
    [command] = _poll(endpoint_server, first)["commands"]
    assert _poll(endpoint_server, second, wait=0.5)["commands"] == []
    _finish(endpoint_server, first, command)
    assert [c["command_id"] for c in _poll(endpoint_server, second)["commands"]] == [command["command_id"]]


def test_max_errors_stops_sending_and_fails_the_command(endpoint_server):
    """Past MaxErrors the remaining invocations are never sent: Cancelled, and the command Failed."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    first, second = _instances(endpoint_server, 2)
    sent = ssm.send_command(DocumentName=name, InstanceIds=[first, second], MaxConcurrency="1", MaxErrors="0")
    [command] = _poll(endpoint_server, first)["commands"]
    _finish(endpoint_server, first, command, status="Failed", code=3)
    assert _poll(endpoint_server, second)["commands"] == []
    command_id = sent["Command"]["CommandId"]
    assert ssm.get_command_invocation(CommandId=command_id, InstanceId=second)["Status"] == "Cancelled"
    failed = ssm.get_command_invocation(CommandId=command_id, InstanceId=first)
    assert (failed["Status"], failed["ResponseCode"]) == ("Failed", 3)
    [listed] = ssm.list_commands(CommandId=command_id)["Commands"]
    assert (listed["Status"], listed["ErrorCount"], listed["CompletedCount"]) == ("Failed", 1, 2)


def test_long_poll_wakes_when_a_command_is_queued(endpoint_server):
    """A waiting poll returns as soon as SendCommand queues work, not at the end of its wait."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    [instance_id] = _instances(endpoint_server, 1)
    answers: list = []
    poller = threading.Thread(target=lambda: answers.append(_poll(endpoint_server, instance_id, wait=20)))
    poller.start()
    time.sleep(0.3)
    sent_at = time.monotonic()
    ssm.send_command(DocumentName=name, InstanceIds=[instance_id])
    poller.join(timeout=20)
    assert time.monotonic() - sent_at < 1.0
    assert len(answers[0]["commands"]) == 1


def test_cancel_command(endpoint_server):
    """CancelCommand: a delivered invocation is Cancelling and its agent is told; the agent's Cancelled ends it."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    [instance_id] = _instances(endpoint_server, 1)
    command_id = ssm.send_command(DocumentName=name, InstanceIds=[instance_id])["Command"]["CommandId"]
    [command] = _poll(endpoint_server, instance_id)["commands"]
    ssm.cancel_command(CommandId=command_id)
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Cancelling"
    assert _poll(endpoint_server, instance_id)["cancel"] == [command_id]
    _finish(endpoint_server, instance_id, command, status="Cancelled", code=137)
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Cancelled"
    assert ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)["Status"] == "Cancelled"


def test_instance_information_online_then_connection_lost(endpoint_server):
    """Instances are Online while their agent polls and ConnectionLost after --offline-after seconds."""
    ssm = endpoint_server.client("ssm")
    [instance_id] = _instances(endpoint_server, 1)
    _instances(endpoint_server, 1, poll=False)

    def information(**filters):
        return ssm.describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": [instance_id]}, *filters.get("extra", [])]
        )["InstanceInformationList"]

    [online] = information()
    assert (online["PingStatus"], online["PlatformType"], online["PlatformName"]) == (
        "Online",
        "Linux",
        "Debian",
    )
    assert online["IPAddress"] == "127.0.0.1" and online["ComputerName"] and online["AgentVersion"]
    time.sleep(endpoint_server.offline_after + endpoint_server.ping_interval + 0.3)
    [lost] = information()
    assert lost["PingStatus"] == "ConnectionLost"
    assert information(extra=[{"Key": "PingStatus", "Values": ["Online"]}]) == []
    _poll(endpoint_server, instance_id)
    time.sleep(endpoint_server.ping_interval)
    assert information(extra=[{"Key": "PingStatus", "Values": ["Online"]}])[0]["InstanceId"] == instance_id


def test_an_agent_that_hangs_up_mid_poll_is_connection_lost_after_offline_after(endpoint_server):
    """A long poll whose agent died (connection closed) stops counting: ConnectionLost about
    --offline-after seconds later, while an agent still in its long poll stays Online."""
    ssm = endpoint_server.client("ssm")
    alive, dead = _instances(endpoint_server, 2)
    waiting = threading.Thread(target=_poll, args=(endpoint_server, alive, 6))
    waiting.start()
    host, port = endpoint_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request(
        "POST",
        "/_rehearsal/agent/poll",
        json.dumps({"instance_id": dead, "wait": 20}),
        {"Content-Type": "application/json"},
    )
    time.sleep(0.3)
    connection.close()
    time.sleep(endpoint_server.offline_after + POLL_SLICE_SECONDS + endpoint_server.ping_interval + 0.5)
    information = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [alive, dead]}])
    states = {info["InstanceId"]: info["PingStatus"] for info in information["InstanceInformationList"]}
    waiting.join()
    assert states == {alive: "Online", dead: "ConnectionLost"}


def test_instance_information_filters_by_tag(endpoint_server):
    """Filters `tag:Key` and `tag-key` select managed instances by their EC2 tags, as runbooks ask."""
    ssm = endpoint_server.client("ssm")
    group = uuid.uuid4().hex[:8]
    tagged = _instances(endpoint_server, 2, {"group": group})
    _instances(endpoint_server, 1, {"group": "other"})

    def listed(filters):
        found = ssm.describe_instance_information(Filters=filters)["InstanceInformationList"]
        return sorted(row["InstanceId"] for row in found)

    assert listed([{"Key": "tag:group", "Values": [group]}]) == sorted(tagged)
    assert set(tagged) <= set(listed([{"Key": "tag-key", "Values": ["group"]}]))
    with pytest.raises(ClientError) as error:
        listed([{"Key": "Colour", "Values": ["blue"]}])
    assert error.value.response["Error"]["Code"] == "InvalidFilterKey"


@contextmanager
def _agent_polling(endpoint, instance_id: str) -> Iterator[None]:
    """Keep a 1 s long poll of the instance open, one after the other, as its agent would: the instance stays
    Online however long the block takes (one poll, then silence, is ConnectionLost after offline_after)."""
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            endpoint.agent("poll", {"instance_id": instance_id, "wait": 1})

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield
    finally:
        done.set()
        poller.join(timeout=10)


def test_aws_cli_parses_instance_information(endpoint_server):
    """The AWS CLI, pointed at the endpoint by --endpoint-url, lists the managed instances."""
    [instance_id] = _instances(endpoint_server, 1)
    # The CLI takes a second or more to start on a busy machine: the agent polls meanwhile, as a real one does.
    with _agent_polling(endpoint_server, instance_id):
        output = subprocess.run(
            [
                AWS_CLI,
                "ssm",
                "describe-instance-information",
                "--endpoint-url",
                endpoint_server.url,
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            env=endpoint_server.environment(),
            check=True,
        ).stdout
    listed = {row["InstanceId"]: row for row in json.loads(output)["InstanceInformationList"]}
    assert listed[instance_id]["PingStatus"] == "Online"


def test_stops_cleanly_on_sigterm(endpoint_launch, tmp_path):
    """SIGTERM ends the endpoint with exit code 0 and removes its endpoint.json."""
    endpoint = endpoint_launch(tmp_path / "state")
    assert endpoint_launch.stop(endpoint) == 0
    assert not (tmp_path / "state" / "endpoint.json").exists()


def test_real_agent_runs_a_command_end_to_end(endpoint_server, tmp_path):
    """The rehearsal's own agent process polls this endpoint, runs the script and reports its output."""
    ssm = endpoint_server.client("ssm")
    name = _document(endpoint_server)
    [instance_id] = _instances(endpoint_server, 1, poll=False)
    root = tmp_path / instance_id
    root.mkdir()
    with endpoint_server.real_agent(instance_id, root, tmp_path / "agent.log") as agent:
        deadline = time.monotonic() + 15
        command_id = ssm.send_command(
            DocumentName=name, InstanceIds=[instance_id], Parameters={"Message": ["from the agent"]}
        )["Command"]["CommandId"]
        while (result := ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id))[
            "Status"
        ] in (
            "Pending",
            "InProgress",
        ):
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.1)
        assert (result["Status"], result["ResponseCode"]) == ("Success", 0)
        assert result["StandardOutputContent"] == "from the agent\n"
    # SIGTERM ends the agent cleanly.
    assert agent.returncode == 0


# 60,000 characters of stdout: 1,000 lines of 60, the last one unlike the others. GetCommandInvocation
# keeps only the first 24,000.
NOISY_LINES = [f"{n:04d} " + "x" * 54 for n in range(999)] + ["the true last line of stdout".ljust(59, ".")]
NOISY_DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "Print 60,000 characters, then fail.",
    "mainSteps": [
        {
            "action": "aws:runShellScript",
            "name": "Noisy",
            "inputs": {
                "runCommand": [
                    "n=0",
                    "while [ $n -lt 999 ]; do printf '%04d %s\\n' $n " + "x" * 54 + "; n=$((n + 1)); done",
                    f"echo '{NOISY_LINES[-1]}'",
                    "echo 'the true last line of stderr' >&2",
                    "exit 3",
                ]
            },
        }
    ],
}


def test_real_agent_sends_a_commands_whole_output_to_its_cloudwatch_log_streams(endpoint_server, tmp_path):
    """With CloudWatchOutputConfig, the agent puts the whole 60,000 characters of stdout (and stderr) in the
    endpoint's CloudWatch Logs, in streams CommandId/InstanceId/StepName/stdout and /stderr; the command's
    listings return the config, and GetCommandInvocation still holds only the first 24,000 characters."""
    ssm, logs = endpoint_server.client("ssm"), endpoint_server.client("logs")
    name = _document(endpoint_server, NOISY_DOCUMENT)
    [instance_id] = _instances(endpoint_server, 1, poll=False)
    root = tmp_path / instance_id
    root.mkdir()
    config = {"CloudWatchLogGroupName": "/releaseflow/test-commands", "CloudWatchOutputEnabled": True}
    with endpoint_server.real_agent(instance_id, root, tmp_path / "agent.log"):
        deadline = time.monotonic() + 15
        command_id = ssm.send_command(
            DocumentName=name, InstanceIds=[instance_id], CloudWatchOutputConfig=config
        )["Command"]["CommandId"]
        while (result := ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id))[
            "Status"
        ] in ("Pending", "InProgress"):
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.1)
    whole = "".join(line + "\n" for line in NOISY_LINES)
    assert len(whole) == 60000
    assert (result["Status"], result["ResponseCode"]) == ("Failed", 3)
    assert result["CloudWatchOutputConfig"] == config
    assert [c["CloudWatchOutputConfig"] for c in ssm.list_commands(CommandId=command_id)["Commands"]] == [
        config
    ]
    assert len(result["StandardOutputContent"]) == 24000
    assert NOISY_LINES[-1] not in result["StandardOutputContent"]

    def stream_text(stream: str) -> str:
        events = logs.get_log_events(
            logGroupName=config["CloudWatchLogGroupName"], logStreamName=stream, startFromHead=True
        )["events"]
        return "".join(event["message"] for event in events)

    prefix = f"{command_id}/{instance_id}/Noisy"
    streams = logs.describe_log_streams(
        logGroupName=config["CloudWatchLogGroupName"], logStreamNamePrefix=prefix
    )
    assert sorted(s["logStreamName"] for s in streams["logStreams"]) == [
        f"{prefix}/stderr",
        f"{prefix}/stdout",
    ]
    assert stream_text(f"{prefix}/stdout") == whole
    assert stream_text(f"{prefix}/stderr") == "the true last line of stderr\n"
    last = logs.get_log_events(
        logGroupName=config["CloudWatchLogGroupName"],
        logStreamName=f"{prefix}/stdout",
        startFromHead=False,
        limit=1,
    )["events"]
    assert last[-1]["message"].endswith(NOISY_LINES[-1] + "\n")


def test_a_command_without_cloudwatch_output_config_makes_no_log_stream(endpoint_server, tmp_path):
    """Sent without CloudWatchOutputConfig, a command's invocation says it is disabled and the agent
    writes to no log group."""
    ssm, logs = endpoint_server.client("ssm"), endpoint_server.client("logs")
    name = _document(endpoint_server)
    [instance_id] = _instances(endpoint_server, 1, poll=False)
    root = tmp_path / instance_id
    root.mkdir()
    with endpoint_server.real_agent(instance_id, root, tmp_path / "agent.log"):
        deadline = time.monotonic() + 15
        command_id = ssm.send_command(DocumentName=name, InstanceIds=[instance_id])["Command"]["CommandId"]
        while (result := ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id))[
            "Status"
        ] in ("Pending", "InProgress"):
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.1)
    assert result["CloudWatchOutputConfig"] == {
        "CloudWatchLogGroupName": "",
        "CloudWatchOutputEnabled": False,
    }
    groups = logs.describe_log_groups()["logGroups"]
    assert not [g for g in groups if g["logGroupName"] == f"/aws/ssm/{name}"]


def test_instance_information_max_results_above_50_is_refused(endpoint_server):
    """boto3 DescribeInstanceInformation with MaxResults 51 is AWS's ValidationException."""
    with pytest.raises(ClientError) as error:
        endpoint_server.client("ssm").describe_instance_information(MaxResults=51)
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_strict_readings_refuse_a_runbook_whose_run_command_has_a_document_version(endpoint_launch, tmp_path):
    """Under run_command_document_version=refused CreateDocument of such a runbook fails; without it, passes."""
    content = json.dumps(
        {
            "schemaVersion": "0.3",
            "mainSteps": [
                {
                    "name": "run",
                    "action": "aws:runCommand",
                    "inputs": {"DocumentName": "Echo", "DocumentVersion": "1", "InstanceIds": ["i-1"]},
                }
            ],
        }
    )
    strict = endpoint_launch(tmp_path / "strict", readings='{"run_command_document_version": "refused"}')
    with pytest.raises(ClientError) as error:
        strict.client("ssm").create_document(Name="Pinned", Content=content, DocumentType="Automation")
    assert error.value.response["Error"]["Code"] == "InvalidDocumentContent"
    assert "Step run: aws:runCommand does not take the input DocumentVersion" in str(error.value)
    default = endpoint_launch(tmp_path / "default")
    created = default.client("ssm").create_document(Name="Pinned", Content=content, DocumentType="Automation")
    assert created["DocumentDescription"]["Name"] == "Pinned"


def test_foreign_instances_list_before_the_fleet_and_a_small_page_holds_none_of_it(endpoint_launch, tmp_path):
    """With 6 foreign nodes registered first, boto3's first page of 5 for the fleet's tag is empty with a
    NextToken, and the paginator finds the fleet's nodes: callers must follow NextToken, as on AWS."""
    endpoint = endpoint_launch(tmp_path / "state")
    ec2, ssm = endpoint.client("ec2"), endpoint.client("ssm")
    fleet.run_foreign_instances(ec2, 6)
    ours = _instances(endpoint, 2, {"releaseflow:fleet": "local"})
    request = {"Filters": [{"Key": "tag:releaseflow:fleet", "Values": ["local"]}], "MaxResults": 5}
    first = ssm.describe_instance_information(**request)
    assert first["InstanceInformationList"] == [] and first["NextToken"]
    pages = ssm.get_paginator("describe_instance_information").paginate(**request)
    found = [row["InstanceId"] for page in pages for row in page["InstanceInformationList"]]
    assert sorted(found) == sorted(ours)
    everything = ssm.describe_instance_information(Filters=[{"Key": "PingStatus", "Values": ["Online"]}])
    assert len(everything["InstanceInformationList"]) == 8
