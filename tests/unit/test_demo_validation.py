"""`releaseflow demo` validates strictly before it starts anything."""

from __future__ import annotations

import shutil
from pathlib import Path

from releaseflow.cli import main

WARNINGS = Path(__file__).parent / "fixtures" / "cli" / "warnings"


def test_a_warning_stops_the_demo_before_any_fleet_starts(tmp_path, monkeypatch, capsys):
    """A document with only warnings makes the demo print them and exit 1 without touching the state dir."""
    shutil.copytree(WARNINGS, tmp_path / "documents")
    (tmp_path / "automation").mkdir()
    # The demo reads the documents where every command does (releaseflow.sources): here, the current folder.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RELEASEFLOW_CONFIG", raising=False)
    state_dir = tmp_path / "state"
    assert main(["demo", "--state-dir", str(state_dir)]) == 1
    out = capsys.readouterr().out
    assert "releaseflow-Pasted.yaml:14: W101 parameter 'Branch'" in out
    assert "fix them before deploying" in out
    assert "[2/5]" not in out
    assert not state_dir.exists()
