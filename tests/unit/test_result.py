"""The one table of deploy results and exit codes, and everything that reads it."""

import re
from pathlib import Path

import pytest

from releaseflow.cli import build_parser
from releaseflow.deploy import LockHeld, ParameterRefused, RevisionRefused, StartRefused
from releaseflow.errors import DocumentError, ReleaseflowError, UsageError
from releaseflow.result import COMMON, EXITS, Result, deploy_only, exit_code


def _help(*argv: str) -> str:
    parser = build_parser()
    if argv:
        parser = parser._subparsers._group_actions[0].choices[argv[0]]
    return parser.format_help()


def test_every_end_of_a_deploy_has_its_own_exit_code():
    """Each result but UNFINISHED has an exit code, no two share one, and the contract's codes hold."""
    assert set(EXITS) == set(Result) - {Result.UNFINISHED}
    codes = [exit.code for exit in EXITS.values()]
    assert len(set(codes)) == len(codes)
    assert {result.value: exit_code(result) for result in EXITS} == {
        "success": 0,
        "failed": 1,
        "refused": 2,
        "timed_out": 3,
        "cancelled": 4,
        "locked": 5,
    }
    assert [exit_code(result) for result in COMMON] == [0, 1, 2]


def test_unfinished_is_not_an_end_and_has_no_exit_code():
    """Following that left the execution running has no exit code to give."""
    with pytest.raises(KeyError):
        exit_code(Result.UNFINISHED)


def test_results_read_as_their_values():
    """A result prints and compares as the bare string reports, JSON and older callers use."""
    assert f"deploy {Result.TIMED_OUT}" == "deploy timed_out"
    assert Result.CANCELLED == "cancelled"


def test_deploy_help_lists_every_exit_code_with_its_meaning_in_order():
    """`releaseflow deploy --help` ends with one line a code, the table's meaning, in code order."""
    lines = re.findall(r"^  (\d)  (.+)$", _help("deploy"), re.MULTILINE)
    assert lines == [(str(exit.code), exit.meaning) for exit in EXITS.values()]


def test_cli_and_demo_help_name_every_deploy_only_code():
    """The top-level and the demo's epilogs name codes 3, 4 and 5 with the table's words."""
    for text in (_help(), _help("demo")):
        flat = " ".join(text.split())
        for result in deploy_only():
            assert f"{exit_code(result)} {EXITS[result].brief}" in flat


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (ReleaseflowError, Result.FAILED),
        (DocumentError, Result.FAILED),
        (UsageError, Result.REFUSED),
        (RevisionRefused, Result.REFUSED),
        (ParameterRefused, Result.REFUSED),
        (StartRefused, Result.REFUSED),
        (LockHeld, Result.LOCKED),
    ],
)
def test_errors_exit_with_the_code_of_their_result(error, result):
    """The CLI's errors carry the exit code the table gives their result."""
    assert error.exit_code == exit_code(result)


def test_docs_name_each_deploy_only_exit_code_where_they_speak_of_its_result():
    """A paragraph of the README or docs/ that says `exit(s) 3|4|5` speaks of timing out, cancelling or the lock."""
    root = Path(__file__).resolve().parents[2]
    codes = {exit_code(result): result for result in deploy_only()}
    seen = set()
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for paragraph in page.read_text().split("\n\n"):
            if "systemctl" in paragraph or "systemd" in paragraph:
                continue  # the rehearsal's systemctl stand-in exits as systemd does
            for code in re.findall(r"\bexits? (\d)\b", paragraph):
                if int(code) in codes:
                    seen.add(int(code))
                    stem = codes[int(code)].value[:4]  # time, canc, lock
                    assert stem in paragraph.lower(), (
                        f"{page.name}: exit {code} without {stem!r}: {paragraph}"
                    )
    assert seen == set(codes)
