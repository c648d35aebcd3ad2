"""The test folders keep their meaning: end-to-end deploys are `slow`, and `-m "not slow"` runs everything else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collected(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # 5: nothing selected, which is a correct answer here.
    assert result.returncode in (0, 5), result.stdout[-2000:] + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_every_end_to_end_test_is_slow_and_no_other_is():
    """`-m slow` over the harness and e2e folders selects exactly the tests under tests/e2e."""
    slow = _collected("-m", "slow", "tests/harness", "tests/e2e")
    assert slow and all(test.startswith("tests/e2e/") for test in slow)
    assert _collected("-m", "not slow", "tests/e2e") == []


def test_only_the_three_folders_and_support_hold_tests():
    """Test modules live in tests/unit, tests/harness or tests/e2e; tests/support has helpers only."""
    folders = {path.relative_to(ROOT / "tests").parts[0] for path in (ROOT / "tests").rglob("test_*.py")}
    assert folders == {"unit", "harness", "e2e"}
    assert not list((ROOT / "tests" / "support").glob("test_*.py"))


def _asserts_or_expects(function: ast.FunctionDef) -> bool:
    """Whether a test's body has an assert, an expected exception (pytest.raises/warns/fail), or a call to
    a helper named assert_* or _assert_* (which asserts for it)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in ("raises", "warns", "fail") or name.startswith(("assert_", "_assert")):
                return True
    return False


def test_every_test_asserts_or_expects_an_exception():
    """No test function passes by running code alone: each asserts, expects an exception, or hands its
    check to an assert_* helper."""
    silent = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
        and not _asserts_or_expects(node)
    ]
    assert silent == []
