"""`releaseflow demo` (what `make demo` runs): the whole tour, ending with nothing left running."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from releaseflow.cli import main
from releaseflow.rehearsal.harness.app_repo import build_remote
from releaseflow.rehearsal.harness.fleet_record import recorded
from scenarios import fleet_state_dir

pytestmark = pytest.mark.rehearsal


@pytest.fixture
def state_dir():
    """A state dir other users can traverse; taken down after the test whatever the demo did."""
    with fleet_state_dir("rf-demo-") as path:
        yield path


def _running_from(state_dir: Path) -> list[str]:
    """Command lines of processes that name the state dir (endpoint, agents, haproxy)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) in text:
            found.append(text)
    return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_deploys_revision_2_to_every_host_and_leaves_nothing_running(state_dir, capsys, tmp_path):
    """demo --hosts 2: exit 0, five phases told, a web host and a worker host from revision 1 to 2, healthy
    behind the load balancer and running, then all stopped."""
    first, second = build_remote(tmp_path).revisions
    assert main(["demo", "--hosts", "2", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^\[(\d)/5\]", out, re.MULTILINE) == ["1", "2", "3", "4", "5"]
    result = out.split("[4/5] Result", 1)[1].split("[5/5]", 1)[0]
    rows = [line.split() for line in result.splitlines() if line.strip().startswith("i-")]
    assert sorted(row[1] for row in rows) == ["web", "worker"]
    assert sorted(row[2] for row in rows) == ["migrate", "rolling"]
    health = {"web": "healthy", "worker": "running"}
    assert [row[3:] for row in rows] == [
        [first[:12], "->", second[:12], second[:12], health[row[1]]] for row in rows
    ]
    ports = [int(port) for port in re.findall(r"\(port (\d+)[,)]", out)]
    assert len(ports) == 2
    assert [port for port in ports if _listening(port)] == []
    assert _running_from(state_dir) == []
    assert not recorded(state_dir)
