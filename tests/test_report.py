"""The deploy reports' host rows: reached, switched, rolled back or never reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from releaseflow import report
from releaseflow.execution import Invocation, Outcome, Snapshot, Step

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
REVISION = "0123456789abcdef"
EXECUTION = "exec-1"
CHECKED_OUT = f"checked out {REVISION}; previous revision 1111111 recorded for execution {EXECUTION}"
REVERTED = (
    f"checked out 1111111 (the revision before execution {EXECUTION})\nrolled back from execution {EXECUTION}"
)
NOTHING_TO_DO = f"no rollback needed: this host was not switched by execution {EXECUTION} (record: none); nothing to roll back"


def run(command, instance, document, status, start, end, output=""):
    return Invocation(
        command_id=command,
        instance_id=instance,
        document=f"releaseflow-{document}",
        status=status,
        start=T0 + timedelta(seconds=start),
        end=T0 + timedelta(seconds=end),
        output=output,
    )


def rolled_back_deploy() -> Snapshot:
    """i-1 migrated and was rolled back, i-2 failed its health check and was rolled back, i-3 got only Rollback."""
    return Snapshot(
        execution_id=EXECUTION,
        runbook="releaseflow-Deploy",
        status="Failed",
        parameters={"Revision": [REVISION]},
        steps=(
            Step(
                key="s1",
                name="CheckOutMigrationHost",
                action="aws:runCommand",
                status="Success",
                command_id="c1",
            ),
        ),
        invocations=(
            run("c1", "i-1", "CheckoutRevision", "Success", 0, 2, CHECKED_OUT),
            run("c2", "i-1", "Migrate", "Success", 2, 4),
            run("c3", "i-2", "CheckoutRevision", "Success", 4, 6, CHECKED_OUT),
            run("c4", "i-2", "HealthCheck", "Failed", 6, 8),
            run("c5", "i-1", "Rollback", "Success", 9, 11, REVERTED),
            run("c5", "i-2", "Rollback", "Success", 9, 11, REVERTED),
            run("c5", "i-3", "Rollback", "Success", 9, 10, NOTHING_TO_DO),
        ),
    )


def lines_of(text: str) -> dict[str, str]:
    return {line.split()[0]: line for line in text.splitlines()[1:]}


def test_a_host_that_only_got_the_fleet_wide_rollback_shows_as_not_reached():
    """A host the deploy never reached reads `not reached`, status and duration `-`, not `? -> ? Success`."""
    line = lines_of(report.hosts_text(rolled_back_deploy()))["i-3"]
    assert line.split()[2:] == ["not", "reached", "-", "-"]
    assert "Success" not in line and "?" not in line


def test_a_host_the_rollback_reverted_shows_as_rolled_back_to_where_it_was():
    """A switched host that Rollback reverted ends on its previous revision with status `rolled back`."""
    line = lines_of(report.hosts_text(rolled_back_deploy()))["i-1"]
    assert line.split()[1:] == ["migrate", "1111111", "->", "1111111", "rolled", "back", "11s"]


def test_a_failed_host_that_was_rolled_back_keeps_its_failure_visible():
    """The host whose health check failed reads `Failed, rolled back`."""
    line = lines_of(report.hosts_text(rolled_back_deploy()))["i-2"]
    assert "1111111 -> 1111111" in line
    assert "Failed, rolled back" in line


def test_a_rollback_with_nothing_to_do_does_not_count_as_rolled_back():
    """Rollback's `no rollback needed` answer (a check, or an unswitched host) leaves the host as it was."""
    snapshot = Snapshot(
        execution_id=EXECUTION,
        runbook="releaseflow-Deploy",
        status="Failed",
        parameters={"Revision": [REVISION]},
        invocations=(
            run("c1", "i-1", "CheckoutRevision", "Failed", 0, 2),
            run("c2", "i-1", "Rollback", "Success", 3, 4, NOTHING_TO_DO),
        ),
    )
    [row] = report.host_rows(snapshot)
    assert (row.reached, row.rolled_back, row.status) == (True, False, "Failed")


def test_a_successful_deploy_shows_every_host_switched():
    """Without a rollback each host reads previous -> new revision and its own status."""
    snapshot = Snapshot(
        execution_id=EXECUTION,
        runbook="releaseflow-Deploy",
        status="Success",
        parameters={"Revision": [REVISION]},
        invocations=(run("c1", "i-1", "CheckoutRevision", "Success", 0, 2, CHECKED_OUT),),
    )
    line = lines_of(report.hosts_text(snapshot))["i-1"]
    assert line.split()[2:] == ["1111111", "->", "0123456789ab", "Success", "2s"]


def test_job_summary_and_json_tell_the_same_story():
    """The markdown table and `status --json` say not reached / rolled back as the terminal table does."""
    snapshot = rolled_back_deploy()
    markdown = report.deploy_markdown(Outcome("failed", snapshot), "production", "https://example.test")
    assert "| `i-3` | rolling | not reached | - | - |" in markdown
    assert "| `i-1` | migrate | `1111111` → `1111111` | rolled back | 11s |" in markdown
    hosts = {h["instance_id"]: h for h in report.status_json(snapshot)["hosts"]}
    assert (hosts["i-3"]["reached"], hosts["i-3"]["rolled_back"]) == (False, False)
    assert (hosts["i-2"]["reached"], hosts["i-2"]["rolled_back"]) == (True, True)
