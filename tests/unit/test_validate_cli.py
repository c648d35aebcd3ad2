"""Snapshots of `releaseflow validate`: exact output and exit code for each format and mode.

Each case runs the CLI in tests/unit/fixtures/cli (or a folder below it) and compares the command line,
exit code, stdout and stderr with tests/unit/fixtures/cli/snapshots/<case>.txt. Regenerate them after a
deliberate change (then review the diff):

    UPDATE_FIXTURES=1 .venv/bin/pytest tests/unit/test_validate_cli.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from releaseflow.cli import main

CLI_FIXTURES = Path(__file__).parent / "fixtures" / "cli"
SNAPSHOTS = CLI_FIXTURES / "snapshots"
UPDATE = os.environ.get("UPDATE_FIXTURES") == "1"

# case name -> (folder to run in, relative to tests/unit/fixtures/cli; arguments after `releaseflow`)
CASES = {
    "clean": (".", ["validate", "clean"]),
    "warnings-pass": (".", ["validate", "warnings"]),
    "warnings-strict": (".", ["validate", "--strict", "warnings"]),
    "errors-text": (".", ["validate", "errors", "clean"]),
    "errors-json": (".", ["validate", "--format", "json", "errors"]),
    "errors-github": (".", ["validate", "--format", "github", "errors"]),
    "default-paths": ("repo", ["validate"]),
    # No documents here and no releaseflow.yaml: the documents packaged with releaseflow are checked.
    "packaged-defaults": ("clean", ["validate"]),
    "missing-path": (".", ["validate", "clean", "nowhere"]),
}
# argparse words its own errors by Python version and terminal width: checked by exit code only.
EXIT_ONLY = {"unknown-format": (".", ["validate", "--format", "xml", "clean"])}


def run_cli(args: list[str]) -> int:
    """The exit code `releaseflow ARGS` ends with, argparse's own exits included."""
    try:
        return main(args)
    except SystemExit as exit_:
        return exit_.code


def snapshot_text(args: list[str], code: int, out: str, err: str) -> str:
    return f"$ releaseflow {' '.join(args)}\nexit {code}\n--- stdout\n{out}--- stderr\n{err}"


@pytest.mark.parametrize("case", CASES)
def test_cli_output_matches_snapshot(case, capsys, monkeypatch):
    """`releaseflow validate` prints exactly the snapshot and exits with its code."""
    folder, args = CASES[case]
    monkeypatch.chdir(CLI_FIXTURES / folder)
    code = run_cli(args)
    captured = capsys.readouterr()
    actual = snapshot_text(args, code, captured.out, captured.err)
    snapshot = SNAPSHOTS / f"{case}.txt"
    if UPDATE:
        snapshot.write_text(actual)
    assert snapshot.exists(), f"missing snapshot {snapshot.name}: run with UPDATE_FIXTURES=1"
    assert actual == snapshot.read_text()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("clean", 0),
        ("warnings-pass", 0),
        ("warnings-strict", 1),
        ("errors-text", 1),
        ("errors-json", 1),
        ("errors-github", 1),
        ("default-paths", 0),
        ("packaged-defaults", 0),
        ("missing-path", 2),
        ("unknown-format", 2),
    ],
)
def test_exit_code_follows_the_cli_contract(case, expected, monkeypatch, capsys):
    """Exit 0 clean (warnings allowed unless --strict), 1 findings, 2 usage: independent of the snapshots."""
    folder, args = {**CASES, **EXIT_ONLY}[case]
    monkeypatch.chdir(CLI_FIXTURES / folder)
    assert run_cli(args) == expected


def test_every_snapshot_belongs_to_a_case():
    """No snapshot is left over after its case was renamed or removed."""
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.txt") if p.stem not in CASES) == []
