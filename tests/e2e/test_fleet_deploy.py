"""A real rolling deploy on the rehearsal fleet: the shared database is migrated and no request fails."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.request

import pytest

from releaseflow.cli import main
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from scenarios import fleet_state_dir

pytestmark = pytest.mark.rehearsal


@pytest.fixture
def state_dir():
    """A state dir other users can traverse, taken down after the test."""
    with fleet_state_dir("rf-deploy-") as path:
        yield path


def test_rolling_deploy_of_revision_2_migrates_and_fails_no_request(state_dir, monkeypatch, capsys):
    """Deploying revision 2 to 3 hosts behind HAProxy: every host serves it, the migration ran, 0 failed requests."""
    assert main(["local", "up", "--hosts", "3", "--state-dir", str(state_dir)]) == 0
    for key, value in fleet.env(state_dir).items():
        monkeypatch.setenv(key, value)
    recorded = FleetRecord.load(state_dir)
    second = recorded.revisions[1]
    answers, failures = [], []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{recorded.lb.url}/up", timeout=5) as response:
                    answers.append(response.read().decode().split()[1])
            except OSError as error:
                failures.append(error)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        exit_code = main(["deploy", "--revision", second])
    finally:
        stop.set()
        worker.join()
    assert exit_code == 0, capsys.readouterr().out[-3000:]
    assert failures == []
    assert answers[-1] == second and recorded.revisions[0] in answers

    capsys.readouterr()
    assert main(["local", "status", "--json", "--state-dir", str(state_dir)]) == 0
    hosts = json.loads(capsys.readouterr().out)["hosts"]
    assert [(h["revision"], h["serving"], h["lb_state"]) for h in hosts] == [(second, second, "healthy")] * 3
    with sqlite3.connect(state_dir / "db" / "production.sqlite3") as db:
        versions = [row[0] for row in db.execute("select version from schema_migrations")]
        assert versions == ["20260102000000"]
        assert db.execute("select count(*) from notes").fetchone() == (0,)
