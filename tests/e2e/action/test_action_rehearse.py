"""action.yml in rehearse mode, run as a pull request's workflow runs it: a fleet of the app at the base,
the head deployed, then the base (plan and deploy mode: test_action_aws.py; shared fixtures:
tests/e2e/action/conftest.py, helpers: tests/support/action_workflow.py)."""

from __future__ import annotations

import re

import pytest

from action_workflow import FAILURE_LINE, pull_request, step_named

pytestmark = pytest.mark.rehearsal


def test_rehearse_mode_deploys_the_head_then_the_base_on_a_fleet_of_the_app(
    action, origin, workspace, python
):
    """mode: rehearse on a pull request: the summary shows one migration, every host healthy on the head, then back on the base."""
    revisions = origin[1]
    base, head = revisions["base"], revisions["head"]
    run = pull_request(action, workspace, python, base, head)
    assert run.failed is None, run.log
    assert f"### ✅ Rehearsal of `{head[:12]}` over `{base[:12]}`: passed" in run.summary, run.summary
    assert "- ✅ The migration ran once, on `i-" in run.summary
    assert "- ✅ Every host restarted on the head and passed its health check." in run.summary
    assert f"- ✅ Every host is back on the base `{base[:12]}`" in run.summary
    # The rehearsal's own table (four columns), not the two deploys' (five).
    rows = [line for line in run.summary.splitlines() if line.startswith("| `i-") and line.count("|") == 5]
    assert len(rows) == 2 and sum("(migrate)" in row for row in rows) == 1, rows
    assert all(f"Success, Success | `{base[:12]}`, `{base[:12]}`, healthy |" in row for row in rows), rows
    assert f"### ✅ Deploy of `{head}` to local: success" in run.summary
    assert f"### ✅ Deploy of `{base}` to local: success" in run.summary


def test_rehearse_mode_fails_on_a_failing_migration_with_the_hosts_output(action, origin, workspace, python):
    """mode: rehearse of a head whose migration fails: the step fails; the summary names the host and shows its output."""
    revisions = origin[1]
    base, broken = revisions["base"], revisions["broken"]
    # One host is enough to see the migration fail, and quicker to bring up.
    run = pull_request(action, workspace, python, base, broken, **{"rehearsal-hosts": "1"})
    assert run.failed is step_named(run, "Rehearse the pull request"), run.log
    assert f"### ❌ Rehearsal of `{broken[:12]}` over `{base[:12]}`: failed" in run.summary, run.summary
    assert "#### Failure" in run.summary and FAILURE_LINE in run.summary
    assert "- ❌ The migration did not run exactly once with success: `i-" in run.summary
    log = step_named(run, "Rehearse the pull request").stdout
    assert FAILURE_LINE in log
    assert re.search(r"::group::i-\w+-puma\.log \(last 40 lines but health checks\)\n", log), log[-3000:]
    assert '"/up"' not in log.split("-puma.log", 1)[1]
