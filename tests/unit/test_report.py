"""The deploy reports' host rows: reached, switched, rolled back or never reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from document_outputs import outputs
from releaseflow import report
from releaseflow.execution import HostFailure, Invocation, Outcome, Snapshot, Step

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
# What the real documents print on a host (tests/support/document_outputs.py runs them).
OUT = outputs()
OLD, NEW = OUT.old[:12], OUT.new[:12]
EXECUTION = "exec-1"


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


def deploy_of(status: str, *invocations: Invocation, steps: tuple[Step, ...] = ()) -> Snapshot:
    """A snapshot of a releaseflow-Deploy execution of revision OUT.new that ran these invocations."""
    return Snapshot(
        execution_id=EXECUTION,
        runbook="releaseflow-Deploy",
        status=status,
        parameters={"Revision": [OUT.new]},
        steps=steps,
        invocations=invocations,
    )


def rolled_back_deploy() -> Snapshot:
    """Runbook v2 failing: every host prepared; i-1 migrated, switched and was rolled back; i-2 switched,
    failed its health check, and its rollback failed; i-3 was only prepared, then checked by the rollback."""
    return deploy_of(
        "Failed",
        run("c0", "i-1", "PrepareRevision", "Success", 0, 1),
        run("c0", "i-2", "PrepareRevision", "Success", 0, 1),
        run("c0", "i-3", "PrepareRevision", "Success", 0, 1),
        run("c1", "i-1", "CheckoutRevision", "Success", 1, 2, OUT.switched.output),
        run("c2", "i-1", "Migrate", "Success", 2, 4),
        run("c3", "i-2", "CheckoutRevision", "Success", 4, 6, OUT.switched.output),
        run("c4", "i-2", "HealthCheck", "Failed", 6, 8),
        # The fleet rollback's check, then its rollback of the hosts that need it.
        run("c5", "i-1", "Rollback", "Success", 9, 10, OUT.check_only.output),
        run("c5", "i-2", "Rollback", "Success", 9, 10, OUT.check_only.output),
        run("c5", "i-3", "Rollback", "Success", 9, 10, OUT.not_switched.output),
        run("c6", "i-1", "Rollback", "Success", 10, 11, OUT.reverted.output),
        run("c6", "i-2", "Rollback", "Failed", 10, 11, OUT.rollback_failed.output),
        steps=(
            Step(
                key="s1",
                name="CheckOutMigrationHost",
                action="aws:runCommand",
                status="Success",
                command_id="c1",
            ),
        ),
    )


def lines_of(text: str) -> dict[str, str]:
    return {line.split()[0]: line for line in text.splitlines()[1:]}


def test_a_host_that_was_only_prepared_shows_as_not_reached():
    """A host the deploy only prepared reads `not reached`, status and duration `-`, not `? -> ? Success`."""
    line = lines_of(report.hosts_text(rolled_back_deploy()))["i-3"]
    assert line.split()[2:] == ["not", "reached", "-", "-"]
    assert "Success" not in line and "?" not in line


def test_a_host_the_rollback_reverted_shows_as_rolled_back_to_where_it_was():
    """A switched host that Rollback reverted ends on its previous revision with status `rolled back`."""
    line = lines_of(report.hosts_text(rolled_back_deploy()))["i-1"]
    assert line.split()[1:] == ["migrate", OLD, "->", OLD, "rolled", "back", "11s"]


def test_a_host_whose_rollback_failed_shows_the_revision_it_still_runs():
    """Switched, then its rollback failed: it still runs the new revision and says `Failed, rollback failed`."""
    line = lines_of(report.hosts_text(rolled_back_deploy()))["i-2"]
    assert f"{OLD} -> {NEW}" in line
    assert "Failed, rollback failed" in line


def test_a_check_only_rollback_does_not_count_as_rolled_back():
    """The rollback's check (`rollback needed`) reverts nothing: the host still reads switched."""
    snapshot = deploy_of(
        "Failed",
        run("c1", "i-1", "CheckoutRevision", "Success", 0, 2, OUT.switched.output),
        run("c2", "i-1", "Rollback", "Success", 3, 4, OUT.check_only.output),
    )
    [row] = report.host_rows(snapshot)
    assert (row.reached, row.rolled_back, row.host.after) == (True, False, OUT.new)


def test_a_failed_checkout_leaves_the_host_not_switched_with_unknown_revisions():
    """A checkout that failed before switching: reached, not switched, revisions unknown (null in JSON)."""
    snapshot = deploy_of(
        "Failed",
        run(
            "c1",
            "i-1",
            "CheckoutRevision",
            OUT.unknown_revision.status,
            0,
            2,
            OUT.unknown_revision.output,
        ),
        run("c2", "i-1", "Rollback", "Success", 3, 4, OUT.not_switched.output),
    )
    [host] = report.status_json(snapshot)["hosts"]
    assert (host["outcome"], host["before"], host["after"], host["status"]) == (
        "not-switched",
        None,
        None,
        "Failed",
    )
    assert lines_of(report.hosts_text(snapshot))["i-1"].split()[2:5] == ["?", "->", "?"]


def test_a_successful_deploy_shows_every_host_switched():
    """Without a rollback each host reads previous -> new revision and its own status."""
    snapshot = deploy_of(
        "Success",
        run("c1", "i-1", "CheckoutRevision", "Success", 0, 2, OUT.switched.output),
        run("c2", "i-2", "CheckoutRevision", "Success", 0, 1, OUT.already_at.output),
    )
    lines = lines_of(report.hosts_text(snapshot))
    assert lines["i-1"].split()[2:] == [OLD, "->", NEW, "Success", "2s"]
    assert lines["i-2"].split()[2:] == [NEW, "->", NEW, "Success", "1s"]


def test_job_summary_and_json_tell_the_same_story():
    """The markdown table and `status --json` say not reached / rolled back as the terminal table does."""
    snapshot = rolled_back_deploy()
    markdown = report.deploy_markdown(Outcome("failed", snapshot), "production", "https://example.test")
    assert "| `i-3` | rolling | not reached | - | - |" in markdown
    assert f"| `i-1` | migrate | `{OLD}` → `{OLD}` | rolled back | 11s |" in markdown
    assert f"| `i-2` | rolling | `{OLD}` → `{NEW}` | Failed, rollback failed | 11s |" in markdown
    hosts = {h["instance_id"]: h for h in report.status_json(snapshot)["hosts"]}
    assert (hosts["i-3"]["reached"], hosts["i-3"]["status"], hosts["i-3"]["outcome"]) == (
        False,
        None,
        "not-reached",
    )
    assert (hosts["i-3"]["before"], hosts["i-3"]["after"]) == (None, None)
    assert (hosts["i-1"]["outcome"], hosts["i-1"]["rolled_back"], hosts["i-1"]["after"]) == (
        "rolled-back",
        True,
        OUT.old,
    )
    assert (hosts["i-2"]["outcome"], hosts["i-2"]["rolled_back"], hosts["i-2"]["after"]) == (
        "rollback-failed",
        False,
        OUT.new,
    )


def test_a_failure_read_from_cloudwatch_logs_names_the_group_and_streams_in_the_terminal_and_summary():
    """The failure text, in the terminal and the job summary alike, names the log group and the host's
    streams and titles the tails as CloudWatch Logs' last lines."""
    failure = HostFailure(
        "PrepareHosts[1].PrepareChunk",
        "Step fails when it is Executing.",
        "i-2",
        "An error occurred while installing pg",
        "Gem::Ext::BuildError",
        log_group="/releaseflow/commands",
        log_streams=("c2/i-2/Prepare/stdout", "c2/i-2/Prepare/stderr"),
    )
    text = report.failure_text(failure)
    assert "whole output: CloudWatch Logs group /releaseflow/commands" in text
    assert "  stream c2/i-2/Prepare/stdout\n  stream c2/i-2/Prepare/stderr\n" in text
    assert "--- stdout (last lines, CloudWatch Logs) ---\nAn error occurred while installing pg\n" in text
    assert "GetCommandInvocation" not in text
    markdown = report.deploy_markdown(
        Outcome("failed", deploy_of("Failed"), failure), "production", "https://x.test"
    )
    assert text.rstrip("\n") in markdown


def test_a_failure_without_cloudwatch_logs_says_its_output_is_cut():
    """Without the log group, the text says the tails are GetCommandInvocation's, and why."""
    note = "GetCommandInvocation keeps only the first 24000 characters of stdout (...): the output is cut"
    failure = HostFailure("Migrate", "failed", "i-1", "line\n", "", output_note=note)
    text = report.failure_text(failure)
    assert f"output: {note}\n--- stdout (tail) ---\nline" in text
    assert "CloudWatch Logs group" not in text
