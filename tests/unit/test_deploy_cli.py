"""`releaseflow deploy` end to end in-process against a fake Automation API: exit codes and GitHub files."""

from __future__ import annotations

import os
import signal

import pytest
from botocore.exceptions import ClientError

from document_outputs import outputs
from releaseflow import follow
from releaseflow.cli import main
from releaseflow.commands import deploy as deploy_command
from releaseflow.execution import Snapshot, parse_step
from test_deploy import ALARM, REVISION, FakeSSM, _step, alarm_scenario, cancel_scenario, scenario

RUNBOOK = """\
schemaVersion: "0.3"
parameters:
  Revision:
    type: String
    allowedPattern: "^[0-9a-f]{40}$"
  FleetTagValue: {type: String}
  BatchSize: {type: String}
  TargetGroupArn: {type: String, default: ""}
  Services: {type: StringList}
mainSteps: []
"""
CONFIG = """\
environments:
  production:
    region: eu-west-1
    runbook: releaseflow-Deploy
    parameters:
      FleetTagValue: web
      BatchSize: 1
      TargetGroupArn: ""
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake SSM whose time advances with each GetAutomationExecution; no real pauses."""
    (tmp_path / "automation").mkdir()
    (tmp_path / "automation" / "releaseflow-Deploy.yaml").write_text(RUNBOOK)
    (tmp_path / "releaseflow.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    for name in (
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_RUN_ID",
        "RELEASEFLOW_CONFIG",
        "RELEASEFLOW_ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("MAX_DELAY", "POLL_SPACING"):
        monkeypatch.setattr(follow, name, 0.001)
    ticks = []
    box = {}

    def make(timeline=None, **kwargs):
        ssm = FakeSSM(timeline or scenario(), lambda: len(ticks), **kwargs)
        ssm.meta = type("Meta", (), {"region_name": "eu-west-1"})()
        original = ssm.get_automation_execution

        def tick(**kw):
            ticks.append(1)
            return original(**kw)

        ssm.get_automation_execution = tick
        box["ssm"] = ssm
        return ssm

    monkeypatch.setattr(deploy_command, "client", lambda service, region: box["ssm"])
    return make


def _deploy(*extra):
    return main(["deploy", "--revision", REVISION, "--environment", "production", *extra])


def test_successful_deploy_exits_0_and_prints_the_console_url(fake, capsys):
    """A deploy that succeeds exits 0 after printing the execution id, its console URL and the hosts."""
    ssm = fake()
    assert _deploy() == 0
    out = capsys.readouterr().out
    assert "started execution exec-1 of releaseflow-Deploy" in out
    assert "https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/exec-1" in out
    assert "step Rolling[0].Restart (aws:runCommand): Success" in out
    assert ssm.started[0]["Parameters"] == {
        "FleetTagValue": ["web"],
        "BatchSize": ["1"],
        "Revision": [REVISION],
    }


def test_failed_deploy_exits_1_and_shows_the_host_output(fake, capsys):
    """A failed deploy exits 1 and prints the failing host and its stderr."""
    fake(scenario("Failed"))
    assert _deploy() == 1
    out = capsys.readouterr().out
    assert "host: i-2" in out
    assert "Errno::EADDRINUSE" in out


def test_timed_out_execution_exits_3(fake):
    """An execution that times out exits 3."""
    fake(scenario("TimedOut"))
    assert _deploy() == 3


def test_refused_revision_exits_2_before_any_aws_call(fake, capsys):
    """A revision outside the runbook's pattern exits 2 and never touches AWS."""
    ssm = fake()
    assert _deploy_with("main") == 2
    assert ssm.calls == []
    assert "does not match the runbook's pattern" in capsys.readouterr().err


def _deploy_with(revision):
    return main(["deploy", "--revision", revision, "--environment", "production"])


def test_lock_held_exits_5_naming_the_other_execution(fake, capsys):
    """Another running deploy to the fleet makes deploy exit 5 and name it, without starting."""
    ssm = fake(running=[("other-exec", "web")])
    assert _deploy() == 5
    assert ssm.started == []
    assert (
        "execution other-exec of releaseflow-Deploy is still running on fleet web" in capsys.readouterr().err
    )


def test_no_wait_exits_0_after_starting(fake):
    """--no-wait starts the execution and returns without following it."""
    ssm = fake()
    assert _deploy("--no-wait") == 0
    assert "DescribeAutomationStepExecutions" not in ssm.calls


def test_param_and_named_flags_override_the_configuration(fake):
    """--param and --batch-size override configured parameters."""
    ssm = fake()
    assert _deploy("--batch-size", "50%", "--param", "Services=puma", "--param", "Services=sidekiq") == 0
    parameters = ssm.started[0]["Parameters"]
    assert parameters["BatchSize"] == ["50%"]
    assert parameters["Services"] == ["puma", "sidekiq"]


def test_sigterm_stops_the_execution_and_exits_4(fake):
    """SIGTERM while following stops the execution (StopAutomationExecution) and exits 4."""
    ssm = fake()
    original = ssm.get_automation_execution

    def signalled(**kwargs):
        answer = original(**kwargs)
        if ssm.calls.count("GetAutomationExecution") == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return answer

    ssm.get_automation_execution = signalled
    assert _deploy() == 4
    assert "StopAutomationExecution" in ssm.calls
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def _signal_at(ssm, *polls):
    """SIGTERM to this process at each of the given GetAutomationExecution calls (counted from 1)."""
    original = ssm.get_automation_execution

    def signalled(**kwargs):
        answer = original(**kwargs)
        if ssm.calls.count("GetAutomationExecution") in polls:
            os.kill(os.getpid(), signal.SIGTERM)
        return answer

    ssm.get_automation_execution = signalled


def test_sigterm_follows_the_rollback_the_cancel_started_prints_its_hosts_and_exits_4(fake, capsys):
    """After SIGTERM the trigger follows the RollbackFleet the cancel started to its end, prints the hosts
    back on the old revision and the rollback's outcome, and exits 4 (cancelled)."""
    ssm = fake(**cancel_scenario(rollback_ends=20))
    _signal_at(ssm, 2)
    assert _deploy() == 4
    out = capsys.readouterr().out
    assert ssm.stops == ["exec-1"]
    assert "== Rollback\nfollowing the rollback the cancel of exec-1 started" in out
    assert "step RollBackBatch (aws:runCommand): Success" in out
    old = outputs().old[:12]
    assert f"i-1                   migrate  {old} -> {old}" in out
    assert "rolled back" in out
    assert (
        f"rollback r-1 (releaseflow-RollbackFleet) ended Success: every host is back on revision {old}\n"
        in out
    )
    assert out.rstrip().endswith("deploy cancelled: execution exec-1 ended Cancelled")


def test_a_host_the_rollback_could_not_put_back_is_named(fake, capsys):
    """A rollback that fails on a host: the trigger names that host (still exit 4: it was a cancel)."""
    ssm = fake(**cancel_scenario(rollback_ends=20, failed_host="i-1"))
    _signal_at(ssm, 2)
    assert _deploy() == 4
    out = capsys.readouterr().out
    assert "rollback r-1 (releaseflow-RollbackFleet) ended Failed: not back on the previous revision: " in out
    assert "i-1 (rollback failed)" in out


def test_a_second_sigterm_stops_waiting_for_the_rollback_and_leaves_it_running(fake, capsys):
    """A second SIGTERM while the rollback runs stops waiting (exit 4 at once), never the rollback."""
    ssm = fake(**cancel_scenario(rollback_ends=None))
    _signal_at(ssm, 2, 8)
    assert _deploy() == 4
    out = capsys.readouterr().out
    assert ssm.stops == ["exec-1"]
    assert "rollback r-1 (releaseflow-RollbackFleet) is still InProgress: stopped waiting for it" in out
    assert "follow it with `releaseflow status r-1`" in out
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_signal_while_starting_still_stops_the_execution(fake):
    """A SIGINT that arrives while StartAutomationExecution runs stops the new execution and exits 4."""
    ssm = fake()
    original = ssm.start_automation_execution

    def interrupted(**request):
        os.kill(os.getpid(), signal.SIGINT)
        return original(**request)

    ssm.start_automation_execution = interrupted
    assert _deploy() == 4
    assert "StopAutomationExecution" in ssm.calls


def test_start_refused_by_ssm_exits_2(fake, capsys):
    """SSM refusing the runbook's input is a refusal before starting: exit 2 with SSM's message."""
    ssm = fake()

    def refuse(**_):
        raise ClientError(
            {
                "Error": {
                    "Code": "InvalidAutomationExecutionParametersException",
                    "Message": "Parameter BatchSize does not match",
                }
            },
            "StartAutomationExecution",
        )

    ssm.start_automation_execution = refuse
    assert _deploy() == 2
    assert "Error: releaseflow-Deploy: Parameter BatchSize does not match" in capsys.readouterr().err


def test_github_actions_writes_outputs_annotation_and_summary(fake, tmp_path, monkeypatch, capsys):
    """In Actions: ::group:: per phase, ::error:: naming host and step, outputs, and a summary with a gantt."""
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    fake(scenario("Failed"))
    assert _deploy() == 1
    out = capsys.readouterr().out
    assert "::group::Step Checkout" in out
    assert out.count("::group::") == out.count("::endgroup::")
    assert "::error title=Deploy failed::step Rolling[0].Restart on host i-2: puma did not come up" in out
    assert output.read_text() == (
        "execution-id=exec-1\nstatus=Failed\nconsole-url="
        "https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/exec-1?region=eu-west-1\n"
    )
    text = summary.read_text()
    old, new = outputs().old[:12], outputs().new[:12]
    assert f"| `i-1` | migrate | `{old}` → `{new}` | Success | 3s |" in text
    assert "| `i-2` | rolling | `?` → `?` | Failed | 3s |" in text
    assert "```mermaid\ngantt" in text
    assert "  RestartServices :crit, " in text


def test_alarm_comes_from_the_configuration_and_the_flag_overrides_it(fake, tmp_path):
    """`alarm:` is passed as AlarmConfiguration; --alarm and --ignore-alarm-poll-failure override it."""
    (tmp_path / "releaseflow.yaml").write_text(CONFIG + "    alarm: configured-alarm\n")
    ssm = fake()
    assert _deploy() == 0
    assert _deploy("--alarm", ALARM, "--ignore-alarm-poll-failure") == 0
    assert [request["AlarmConfiguration"] for request in ssm.started] == [
        {"IgnorePollAlarmFailure": False, "Alarms": [{"Name": "configured-alarm"}]},
        {"IgnorePollAlarmFailure": True, "Alarms": [{"Name": ALARM}]},
    ]


def test_deploy_stopped_by_its_alarm_exits_1_naming_it_in_error_line_and_summary(
    fake, tmp_path, monkeypatch, capsys
):
    """An alarm that stops the execution fails the deploy (1): the result line, ::error and summary name it."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    fake(alarm_scenario())
    assert _deploy("--alarm", ALARM) == 1
    out = capsys.readouterr().out
    reason = f"CloudWatch alarm {ALARM} went into ALARM and stopped the deploy"
    assert f"deploy failed: execution exec-1 ended Cancelled: {reason}" in out
    assert f"::error title=Deploy failed::step Rolling[0].Restart: {reason}" in out
    text = summary.read_text()
    assert f"**Stopped by an alarm:** {reason}" in text
    assert f"message: {reason}" in text


def test_terminal_live_line_gives_way_to_event_lines(capsys):
    """On a terminal the status line is redrawn in place and cleared before the next event line."""
    printer = deploy_command.Printer(github=False, tty=True)
    step = parse_step(_step("Checkout", "InProgress", 0, command="c1"))
    printer.progress(Snapshot("exec-1", "releaseflow-Deploy", "InProgress", steps=(step,)), [step])
    printer.line("next")
    printer.close()
    out = capsys.readouterr().out
    assert out == (
        "== Step Checkout\nstep Checkout (aws:runCommand): InProgress\n"
        "[InProgress] step Checkout; hosts: no hosts yet\r\x1b[Knext\n"
    )


def test_a_step_first_seen_finished_still_gets_its_phase_once(capsys):
    """A step that ran between two polls opens its ::group:: when first seen; a later change does not reopen it."""
    printer = deploy_command.Printer(github=True, tty=False)
    lock = parse_step(_step("Lock", "Success", 0))
    migrate = parse_step(_step("Migrate", "InProgress", 1, command="c1"))
    printer.progress(
        Snapshot("exec-1", "releaseflow-Deploy", "InProgress", steps=(lock, migrate)), [lock, migrate]
    )
    done = parse_step(_step("Migrate", "Success", 1, command="c1"))
    printer.progress(Snapshot("exec-1", "releaseflow-Deploy", "InProgress", steps=(lock, done)), [done])
    printer.close()
    out = capsys.readouterr().out
    assert out.count("::group::Step Lock\n") == 1
    assert out.count("::group::Step Migrate\n") == 1
    assert out.count("::group::") == out.count("::endgroup::") == 2
