"""SSM's status sets are written once, in ssm.py: no other module of the package restates one."""

import ast
from pathlib import Path

from releaseflow.ssm import COMMAND_TERMINAL, EXECUTION_RUNNING, EXECUTION_TERMINAL, UNSUCCESSFUL

PACKAGE = Path(__file__).resolve().parents[2] / "tooling" / "releaseflow"
# Orderings of statuses (which one a summary shows first), not sets of them.
ORDERINGS = ("STATUS_PRIORITY", "_SEVERITY")


def _restated(source: str) -> list[int]:
    """Lines of `source` with a literal tuple, list or set holding two or more unsuccessful statuses, or
    two or more running ones, outside an ordering."""
    tree = ast.parse(source)
    exempt = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(target, ast.Name) and target.id in ORDERINGS
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    }
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and id(node) not in exempt:
            values = {elt.value for elt in node.elts if isinstance(elt, ast.Constant)}
            if len(values & UNSUCCESSFUL) >= 2 or len(values & set(EXECUTION_RUNNING)) >= 3:
                lines.append(node.lineno)
    return lines


def test_no_module_restates_a_status_set_of_ssm():
    """Every module outside ssm.py reads UNSUCCESSFUL, COMMAND_TERMINAL, EXECUTION_TERMINAL or EXECUTION_RUNNING."""
    found = {
        path.relative_to(PACKAGE).as_posix(): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "ssm.py" and (lines := _restated(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_finds_a_restated_set():
    """A tuple of the unsuccessful statuses, or of the running ones, is found; an ordering is not."""
    assert _restated('if s in ("Failed", "TimedOut", "Cancelled"):\n    pass\n') == [1]
    assert _restated('RUNNING = {"Pending", "InProgress", "Waiting"}\n') == [1]
    assert _restated('STATUS_PRIORITY = ("Failed", "TimedOut", "Success")\n') == []


def test_the_sets_nest_as_ssm_defines_them():
    """Unsuccessful statuses end both executions and commands; a running execution has not ended."""
    assert UNSUCCESSFUL <= EXECUTION_TERMINAL
    assert UNSUCCESSFUL <= COMMAND_TERMINAL
    assert not set(EXECUTION_RUNNING) & EXECUTION_TERMINAL
