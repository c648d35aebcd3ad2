"""`releaseflow probe` against the rehearsal endpoint reports exactly the readings it plays."""

from __future__ import annotations

import json

import pytest

from releaseflow.cli import main
from releaseflow.readings import DEFAULT, STRICT

pytestmark = pytest.mark.rehearsal


@pytest.mark.parametrize(
    ("readings", "code"),
    [
        (DEFAULT, 0),
        (STRICT, 0),
        ({**STRICT, "wait_multiple_values": "first"}, 1),
        ({**DEFAULT, "loop_nested_cancel_jump": "ignored"}, 1),
    ],
    ids=["default", "strict", "unproven", "nested-cancel-ignored"],
)
def test_probe_reports_the_readings_in_force(endpoint_launch, tmp_path, monkeypatch, capsys, readings, code):
    """Under default and under strict, probe --json prints the endpoint's readings exactly, exits 0 only
    where every one is a reading the runbooks are proven under, and leaves no probe document behind."""
    endpoint = endpoint_launch(tmp_path / "state", readings=json.dumps(readings))
    [instance] = endpoint.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)[
        "Instances"
    ]
    instance_id = instance["InstanceId"]
    root = tmp_path / instance_id
    root.mkdir()
    for key, value in endpoint.environment().items():
        monkeypatch.setenv(key, value)
    ssm = endpoint.client("ssm")
    with endpoint.real_agent(instance_id, root, tmp_path / "agent.log"):
        assert main(["probe", "--instance-id", instance_id, "--json"]) == code
    assert json.loads(capsys.readouterr().out) == readings
    names = [
        d["Name"]
        for d in ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]
    ]
    assert [name for name in names if name.startswith("releaseflow-probe-")] == []
