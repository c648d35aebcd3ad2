"""`releaseflow local`: the whole rehearsal fleet comes up healthy, reports itself, and goes away."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from releaseflow.cli import main
from releaseflow.readings import DEFAULT, STRICT
from releaseflow.rehearsal.endpoint.instances_service import PING_INTERVAL
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.app_repo import git
from releaseflow.rehearsal.harness.fleet_record import (
    FleetRecord,
    HostRecord,
    LoadBalancerRecord,
    RehearsalError,
)
from releaseflow.rehearsal.host.services import alive
from scenarios import require_system_packages


@pytest.fixture
def state_dir():
    """A state dir other users can traverse (the app user reaches the database and remote through it)."""
    path = Path(tempfile.mkdtemp(prefix="rf-fleet-"))
    path.chmod(0o755)
    yield path
    fleet.down(path)
    shutil.rmtree(path, ignore_errors=True)


def test_env_prints_exports_that_point_tools_at_the_endpoint(tmp_path, capsys):
    """`local env` exports the endpoint URL, region, dummy credentials and the deploy configuration."""
    (tmp_path / "endpoint.json").write_text(
        json.dumps({"url": "http://127.0.0.1:4566", "pid": 1, "region": "us-east-1"})
    )
    assert main(["local", "env", "--state-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "export AWS_ENDPOINT_URL=http://127.0.0.1:4566",
        "export AWS_REGION=us-east-1",
        "export AWS_DEFAULT_REGION=us-east-1",
        "export AWS_ACCESS_KEY_ID=testing",
        "export AWS_SECRET_ACCESS_KEY=testing",
        f"export RELEASEFLOW_CONFIG={tmp_path.resolve() / 'releaseflow.yaml'}",
        "export RELEASEFLOW_ENVIRONMENT=local",
    ]


def test_status_without_a_fleet_is_an_error_naming_local_up(tmp_path, capsys):
    """`local status` where nothing runs exits 1 and says to run `releaseflow local up`."""
    assert main(["local", "status", "--state-dir", str(tmp_path)]) == 1
    assert "run `releaseflow local up`" in capsys.readouterr().err


def test_down_where_nothing_runs_is_harmless(tmp_path):
    """`local down` on an empty or already stopped state dir succeeds and does nothing."""
    assert main(["local", "down", "--state-dir", str(tmp_path)]) == 0
    assert main(["local", "down", "--state-dir", str(tmp_path)]) == 0


def _record(endpoint_url: str, *hosts: HostRecord, **fields) -> FleetRecord:
    """A fleet record with `hosts` and no HAProxy (pid 0), as `up` would save it."""
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/releaseflow-local/1"
    return FleetRecord(hosts, LoadBalancerRecord("http://127.0.0.1:1", 0, arn), endpoint_url, **fields)


def _one_host_no_endpoint(state_dir: Path) -> tuple[str, Path]:
    """A state dir with host i-1's app checkout (one commit) and an endpoint.json naming a port nothing
    listens on: (that endpoint's url, the app)."""
    app = state_dir / "hosts" / "i-1" / "app"
    app.mkdir(parents=True)
    git(app, "init", "--quiet")
    git(app, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "one")
    url = f"http://127.0.0.1:{fleet.free_port()}"
    (state_dir / "endpoint.json").write_text(json.dumps({"url": url}))
    return url, app


def test_status_after_the_endpoint_died_still_reports_the_hosts(tmp_path):
    """With the endpoint gone, status reports each host's checkout and an unknown LB state."""
    url, app = _one_host_no_endpoint(tmp_path)
    _record(url, HostRecord("i-1", 3000, app.parent, 0)).save(tmp_path)
    [reported] = fleet.status(tmp_path).hosts
    assert reported == fleet.HostStatus("i-1", 3000, git(app, "rev-parse", "HEAD"), "", False, "unknown")


@pytest.mark.rehearsal
def test_endpoint_takes_offline_after_and_a_restart_keeps_it(state_dir):
    """start_endpoint's offline_after sets when a silent host is ConnectionLost, and restart_endpoint
    starts the new endpoint with the one fleet.json recorded."""
    (state_dir / "logs").mkdir()
    url = fleet.start_endpoint(state_dir, offline_after=0.5)
    _record(url, offline_after=0.5).save(state_dir)
    assert fleet.restart_endpoint(state_dir) == url
    [instance_id] = fleet.run_instances(fleet.client("ec2", url), 1)
    request = urllib.request.Request(
        f"{url}/_rehearsal/agent/poll",
        data=json.dumps({"instance_id": instance_id, "wait": 0}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
    ssm = fleet.client("ssm", url)

    def ping_status() -> str:
        return ssm.describe_instance_information()["InstanceInformationList"][0]["PingStatus"]

    assert ping_status() == "Online"
    # ConnectionLost once 0.5 s silent, seen at the next PingStatus refresh (one ping interval later).
    time.sleep(0.5 + PING_INTERVAL + 0.3)
    assert ping_status() == "ConnectionLost"


@pytest.mark.rehearsal
def test_endpoint_plays_the_recorded_readings_also_after_a_restart(state_dir):
    """start_endpoint's aws_readings reach the endpoint, and restart_endpoint starts it with those of fleet.json."""
    (state_dir / "logs").mkdir()
    url = fleet.start_endpoint(state_dir, aws_readings=STRICT)
    _record(url, aws_readings=STRICT).save(state_dir)
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
    for _ in range(2):
        with pytest.raises(ClientError) as error:
            fleet.client("ssm", url).create_document(
                Name="Pinned", Content=content, DocumentType="Automation"
            )
        assert error.value.response["Error"]["Code"] == "InvalidDocumentContent"
        assert fleet.restart_endpoint(state_dir) == url


def test_status_json_names_the_aws_readings_in_force(tmp_path, capsys):
    """`local status --json` gains "aws_readings" {NAME: READING}: those fleet.json recorded, defaults filled in."""
    url, app = _one_host_no_endpoint(tmp_path)
    chosen = {"wait_multiple_values": "first"}
    _record(url, HostRecord("i-1", 3000, app.parent, 0), aws_readings=chosen).save(tmp_path)
    assert main(["local", "status", "--json", "--state-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["aws_readings"] == {**DEFAULT, **chosen}


def test_up_refuses_readings_it_does_not_know(tmp_path, capsys):
    """`local up --aws-readings FILE` naming an unknown reading exits 2 naming it, before starting anything."""
    readings = tmp_path / "readings.json"
    readings.write_text(json.dumps({"wait_multiple_values": "most"}))
    state = tmp_path / "state"
    assert main(["local", "up", "--aws-readings", str(readings), "--state-dir", str(state)]) == 2
    assert (
        "wait_multiple_values has no reading 'most'; choose one of all, any, first" in capsys.readouterr().err
    )
    assert not state.exists()


@pytest.mark.rehearsal
def test_up_status_down(state_dir, capsys):
    """up --hosts 2 --foreign-instances 3 gives two healthy hosts serving revision 1 behind HAProxy, listed by
    SSM after the other fleet's three online nodes; status names the readings; down leaves no process."""
    require_system_packages()
    up = ["local", "up", "--hosts", "2", "--foreign-instances", "3", "--state-dir", str(state_dir)]
    assert main(up) == 0
    capsys.readouterr()
    assert main(["local", "status", "--json", "--state-dir", str(state_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    recorded = FleetRecord.load(state_dir)
    first = recorded.revisions[0]
    assert [(h["revision"], h["serving"], h["running"], h["lb_state"]) for h in report["hosts"]] == [
        (first, first, True, "healthy")
    ] * 2
    with urllib.request.urlopen(f"{report['lb_url']}/up", timeout=5) as response:
        assert response.read().decode() == f"ok {first}\n"
    assert report["aws_readings"] == DEFAULT
    listed = fleet.client("ssm", report["endpoint_url"]).describe_instance_information()
    ours = set(recorded.instance_ids)
    assert [(i["InstanceId"] in ours, i["PingStatus"]) for i in listed["InstanceInformationList"]] == [
        (False, "Online")
    ] * 3 + [(True, "Online")] * 2
    config = (state_dir / "releaseflow.yaml").read_text()
    assert "InstallCommand: bundle install --local" in config
    assert recorded.lb.target_group_arn in config

    pids = [recorded.lb.pid, json.loads((state_dir / "endpoint.json").read_text())["pid"]]
    pids += [host.agent_pid for host in recorded.hosts]
    pids += [int(path.read_text()) for path in state_dir.glob("hosts/*/run/*.pid")]
    assert len(pids) == 6 and all(alive(pid) for pid in pids)
    assert main(["local", "down", "--state-dir", str(state_dir)]) == 0
    assert [pid for pid in pids if alive(pid)] == []
    assert _group_members(set(pids)) == []
    assert _processes_mentioning(str(state_dir)) == []
    assert main(["local", "down", "--state-dir", str(state_dir)]) == 0


@pytest.mark.rehearsal
def test_up_that_fails_half_way_stops_what_it_started(state_dir, capsys):
    """An unknown --revision fails up with exit 1 and a message, and leaves no endpoint running."""
    assert (
        main(["local", "up", "--hosts", "1", "--revision", "no-such-rev", "--state-dir", str(state_dir)]) == 1
    )
    assert "revision 'no-such-rev' is not a commit" in capsys.readouterr().err
    assert not (state_dir / "endpoint.pid").exists()
    assert not (state_dir / "endpoint.json").exists()
    assert _processes_mentioning(str(state_dir)) == []


def _group_members(groups: set[int]) -> list[int]:
    """Live (non-zombie) processes whose process group is one of `groups`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            members.append(int(stat.parent.name))
    return members


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (the endpoint and agents name the state dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [pid for pid in found if alive(pid)]


def test_fleet_record_saves_the_json_fleet_json_has_and_loads_it_back(tmp_path):
    """FleetRecord.save writes fleet.json's keys (a host's root a string) and load returns an equal record."""
    host = HostRecord("i-1", 3001, tmp_path / "hosts" / "i-1", 42)
    record = _record("http://127.0.0.1:2", host, revisions=("a1", "b2"), start="a1", aws_readings=STRICT)
    record.save(tmp_path)
    saved = json.loads((tmp_path / "fleet.json").read_text())
    assert saved["hosts"] == [
        {"instance_id": "i-1", "port": 3001, "root": str(host.root), "agent_pid": 42, "role": "web"}
    ]
    assert (saved["lb"]["pid"], saved["endpoint_url"], saved["revisions"]) == (
        0,
        "http://127.0.0.1:2",
        ["a1", "b2"],
    )
    assert FleetRecord.load(tmp_path) == record
    assert FleetRecord.load(tmp_path).host("i-1").app == tmp_path / "hosts" / "i-1" / "app"


def test_fleet_record_keeps_a_hosts_role_and_reads_an_older_record_as_web_hosts(tmp_path):
    """Issue 19: a worker host's role is saved and loaded back (`workers` lists it); a fleet.json written
    before roles, without the key, holds web hosts."""
    web, worker = (HostRecord(f"i-{n}", 3000 + n, tmp_path / "hosts" / f"i-{n}", 0) for n in (1, 2))
    worker = HostRecord(worker.instance_id, worker.port, worker.root, 0, "worker")
    _record("http://127.0.0.1:2", web, worker).save(tmp_path)
    assert FleetRecord.load(tmp_path).workers == ("i-2",)
    saved = json.loads((tmp_path / "fleet.json").read_text())
    for host in saved["hosts"]:
        del host["role"]
    (tmp_path / "fleet.json").write_text(json.dumps(saved))
    assert FleetRecord.load(tmp_path).workers == ()


def test_fleet_record_refuses_a_missing_or_foreign_file_naming_it(tmp_path):
    """load without fleet.json names `local up`; a fleet.json without hosts names the file; both RehearsalError."""
    with pytest.raises(RehearsalError, match=r"fleet\.json is missing\): run `releaseflow local up`"):
        FleetRecord.load(tmp_path)
    (tmp_path / "fleet.json").write_text(json.dumps({"lb": {}}))
    with pytest.raises(RehearsalError, match=rf"{tmp_path / 'fleet.json'} is not a rehearsal fleet record"):
        FleetRecord.load(tmp_path)
