"""Deploy trigger library: revision check, start request, fleet lock, following an execution."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from document_outputs import outputs
from releaseflow.config import Environment
from releaseflow.deploy import (
    LockHeld,
    LostTrack,
    RevisionRefused,
    StartRequest,
    acquire,
    check_revision,
    claim,
    revision_pattern,
    run_deploy,
    start_request,
    tag_value,
)
from releaseflow.execution import UNFINISHED, Snapshot, changes, host_summaries, parse_invocation, parse_step
from releaseflow.follow import UNREACHABLE_SECONDS, CallBudget, fetch, follow

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REVISION = "0123456789abcdef0123456789abcdef01234567"


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _step(
    name, status, start, end=None, *, command=None, parent=None, iteration=None, failure=None, action=None
):
    step = {
        "StepName": name,
        "StepExecutionId": f"{name}-{iteration}",
        "StepStatus": status,
        "Action": action or ("aws:runCommand" if command else "aws:loop"),
        "ExecutionStartTime": _at(start),
    }
    if end is not None:
        step["ExecutionEndTime"] = _at(end)
    if command:
        step["Outputs"] = {"CommandId": [command]}
    if parent:
        step["ParentStepDetails"] = {"StepName": parent, "Iteration": iteration}
    if failure:
        step["FailureMessage"] = failure
    return step


def _host(command, instance, document, status, start, end=None, output=""):
    plugin = {"Name": "deploy", "Output": output, "ResponseStartDateTime": _at(start)}
    if end is not None:
        plugin["ResponseFinishDateTime"] = _at(end)
    return {
        "CommandId": command,
        "InstanceId": instance,
        "DocumentName": document,
        "Status": status,
        "CommandPlugins": [plugin],
    }


def scenario(outcome: str = "Success") -> list[tuple[float, dict]]:
    """A deploy: checkout on i-1 (0-3 s), then a rolling loop restarting i-2 (3-6 s), then the end."""
    checkout_out = outputs().switched.output
    running = {
        "status": "InProgress",
        "steps": [_step("Checkout", "InProgress", 0, command="c1")],
        "hosts": {"c1": [_host("c1", "i-1", "releaseflow-CheckoutRevision", "InProgress", 0)]},
    }
    rolling = {
        "status": "InProgress",
        "steps": [
            _step("Checkout", "Success", 0, 3, command="c1"),
            _step("Rolling", "InProgress", 3),
            _step("Restart", "InProgress", 3, command="c2", parent="Rolling", iteration=0),
        ],
        "hosts": {
            "c1": [_host("c1", "i-1", "releaseflow-CheckoutRevision", "Success", 0, 3, checkout_out)],
            "c2": [_host("c2", "i-2", "releaseflow-RestartServices", "InProgress", 3)],
        },
    }
    failed = outcome != "Success"
    restart = "Failed" if failed else "Success"
    done = {
        "status": outcome,
        "failure": "Step Rolling failed" if failed else "",
        "steps": [
            _step("Checkout", "Success", 0, 3, command="c1"),
            _step("Rolling", restart, 3, 6),
            _step(
                "Restart",
                restart,
                3,
                6,
                command="c2",
                parent="Rolling",
                iteration=0,
                failure="puma did not come up" if failed else None,
            ),
        ],
        "hosts": {
            "c1": rolling["hosts"]["c1"],
            "c2": [_host("c2", "i-2", "releaseflow-RestartServices", restart, 3, 6)],
        },
    }
    return [(0, running), (3, rolling), (6, done)]


ALARM = "shop-5xx"


def alarm_scenario() -> list[tuple[float, dict]]:
    """The deploy watched by ALARM, which goes into ALARM while i-2 restarts: Automation cancels it."""
    timeline = [(at, {**state, "alarm": ALARM}) for at, state in scenario()]
    rolling = timeline[1][1]
    stopped = {
        **rolling,
        "status": "Cancelled",
        "triggered": [{"Name": ALARM, "State": "ALARM"}],
        "steps": [
            rolling["steps"][0],
            _step("Rolling", "Cancelled", 3, 5),
            _step("Restart", "Cancelled", 3, 5, command="c2", parent="Rolling", iteration=0),
        ],
    }
    return [*timeline[:2], (5, stopped)]


def cancel_scenario(rollback_ends: float | None = 20, *, failed_host: str = "") -> dict:
    """A deploy cancelled while i-2 restarts (i-1 switched): its RollBackOnCancel step started r-1, which
    puts i-1 back and finds i-2 never switched, ending at `rollback_ends` (never with None);
    `failed_host`'s rollback fails instead. FakeSSM's keyword arguments."""
    timeline = scenario()[:2]
    rolling = timeline[1][1]
    started = _step("RollBackOnCancel", "Success", 4, 4, action="aws:executeAwsApi")
    started["Outputs"] = {"RollbackExecutionId": ["r-1"]}
    cancelled = {
        **rolling,
        "status": "Cancelled",
        "steps": [
            rolling["steps"][0],
            _step("Rolling", "Cancelled", 3, 4),
            _step("Restart", "Cancelled", 3, 4, command="c2", parent="Rolling", iteration=0),
            started,
        ],
        "hosts": {
            **rolling["hosts"],
            "c2": [_host("c2", "i-2", "releaseflow-RestartServices", "Cancelled", 3, 4)],
        },
    }
    rolls = {"i-1": outputs().reverted, "i-2": outputs().not_switched}
    if failed_host:
        rolls[failed_host] = outputs().rollback_failed

    def rollback(status):
        done = status != "InProgress"
        hosts = [
            _host(
                "c3",
                host,
                "releaseflow-Rollback",
                (run.status if done else "InProgress"),
                5,
                6 if done else None,
                run.output if done else "",
            )
            for host, run in rolls.items()
        ]
        step_status = ("Failed" if failed_host else "Success") if done else "InProgress"
        steps = [_step("RollBackBatch", step_status, 5, 6 if done else None, command="c3")]
        return {"status": status, "steps": steps, "hosts": {"c3": hosts}}

    others = [(0, rollback("InProgress"))]
    if rollback_ends is not None:
        others.append((rollback_ends, rollback("Failed" if failed_host else "Success")))
    return {"timeline": timeline, "cancelled": cancelled, "others": {"r-1": others}}


class FakeSSM:
    """The Automation and Run Command calls releaseflow makes, answered from a timeline.

    `cancelled` is the deploy's state once stopped (default: the current one, Cancelled); `others` are
    further executions (a RollbackFleet), each with a timeline of its own on the same clock.
    """

    def __init__(self, timeline, now, *, running=(), cancelled=None, others=None):
        self.timeline = timeline
        self.now = now
        self.running = list(running)  # (execution id, fleet) pairs other deploys hold
        self.cancelled = cancelled
        self.others = others or {}
        self.calls: list[str] = []
        self.stopped = False
        self.stops: list[str] = []
        self.started: list[dict] = []

    def _state(self, execution_id: str = "exec-1") -> dict:
        if execution_id in self.others:
            return [entry for at, entry in self.others[execution_id] if at <= self.now()][-1]
        state = [entry for at, entry in self.timeline if at <= self.now()][-1]
        if self.stopped:
            return self.cancelled or {**state, "status": "Cancelled"}
        return state

    def get_automation_execution(self, AutomationExecutionId):
        self.calls.append("GetAutomationExecution")
        if AutomationExecutionId in self.others:
            state = self._state(AutomationExecutionId)
            execution = {
                "AutomationExecutionId": AutomationExecutionId,
                "DocumentName": "releaseflow-RollbackFleet",
                "AutomationExecutionStatus": state["status"],
                "StepExecutions": [s for s in state["steps"] if "ParentStepDetails" not in s],
            }
            return {"AutomationExecution": execution}
        for execution_id, fleet in self.running:
            if execution_id == AutomationExecutionId:
                return {
                    "AutomationExecution": {
                        "AutomationExecutionId": execution_id,
                        "Parameters": {"FleetTagValue": [fleet]},
                    }
                }
        state = self._state()
        execution = {
            "AutomationExecutionId": AutomationExecutionId,
            "DocumentName": "releaseflow-Deploy",
            "AutomationExecutionStatus": state["status"],
            "Parameters": {"Revision": [REVISION], "FleetTagValue": ["web"]},
            "StepExecutions": [s for s in state["steps"] if "ParentStepDetails" not in s],
        }
        if state.get("failure"):
            execution["FailureMessage"] = state["failure"]
        if state.get("alarm"):
            execution["AlarmConfiguration"] = {"IgnorePollAlarmFailure": False, "Alarms": [{"Name": ALARM}]}
        if state.get("triggered"):
            execution["TriggeredAlarms"] = state["triggered"]
        return {"AutomationExecution": execution}

    def describe_automation_step_executions(self, AutomationExecutionId, **_):
        self.calls.append("DescribeAutomationStepExecutions")
        return {"StepExecutions": self._state(AutomationExecutionId)["steps"]}

    def list_command_invocations(self, CommandId, Details, InstanceId=None):
        self.calls.append("ListCommandInvocations")
        states = [self._state(), *(self._state(other) for other in self.others)]
        rows = next((s["hosts"][CommandId] for s in states if CommandId in s["hosts"]), [])
        return {"CommandInvocations": [r for r in rows if InstanceId in (None, r["InstanceId"])]}

    def get_command_invocation(self, CommandId, InstanceId, PluginName=None):
        self.calls.append(f"GetCommandInvocation {PluginName}" if PluginName else "GetCommandInvocation")
        return {
            "StandardOutputContent": "".join(f"line {n}\n" for n in range(30)),
            "StandardErrorContent": "Errno::EADDRINUSE\n",
        }

    def stop_automation_execution(self, AutomationExecutionId, Type):
        self.calls.append("StopAutomationExecution")
        self.stops.append(AutomationExecutionId)
        if self._state()["status"] in ("Success", "Failed"):
            raise ClientError(
                {"Error": {"Code": "InvalidAutomationStatusUpdateException"}}, "StopAutomationExecution"
            )
        self.stopped = True

    def start_automation_execution(self, **request):
        self.calls.append("StartAutomationExecution")
        self.started.append(request)
        return {"AutomationExecutionId": "exec-1"}

    def describe_automation_executions(self, Filters):
        self.calls.append("DescribeAutomationExecutions")
        return {
            "AutomationExecutionMetadataList": [
                {"AutomationExecutionId": execution_id, "DocumentName": "releaseflow-Deploy"}
                for execution_id, _ in self.running
            ]
        }

    def get_paginator(self, name):
        method = getattr(self, name)

        class Paginator:
            def paginate(self, **kwargs):
                yield method(**kwargs)

        return Paginator()


def _follow(ssm, clock, **kwargs):
    events = []
    outcome = follow(
        ssm,
        "exec-1",
        listener=lambda snap, changed: events.extend(changed),
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )
    return outcome, events


def test_follow_reports_steps_loop_iterations_and_hosts_to_success():
    """Following a good deploy reports each step, the loop iteration and each host, and ends in success."""
    clock = FakeClock()
    outcome, events = _follow(FakeSSM(scenario(), clock), clock)
    assert outcome.result == "success"
    labels = [(getattr(e, "label", None) or e.instance_id, e.status) for e in events]
    assert ("Rolling[0].Restart", "InProgress") in labels
    assert ("Rolling[0].Restart", "Success") in labels
    assert ("i-1", "Success") in labels
    assert ("i-2", "Success") in labels


def test_follow_makes_about_one_call_a_second_and_notices_the_end_within_two_seconds():
    """Polling averages at most about one call a second and returns within 2 s of the end."""
    clock = FakeClock()
    timeline = scenario()
    ssm = FakeSSM([*timeline[:2], (3.0, timeline[1][1]), (60.0, timeline[2][1])], clock)
    follow(ssm, "exec-1", listener=lambda *_: None, clock=clock, sleep=clock.sleep)
    assert 60.0 <= clock.now <= 62.0
    assert len(ssm.calls) / clock.now <= 1.1


def test_failed_deploy_names_the_step_the_host_and_its_output_tail():
    """A failure carries the failing step, its message, the host and the last 20 lines of its output."""
    clock = FakeClock()
    outcome, _ = _follow(FakeSSM(scenario("Failed"), clock), clock)
    assert outcome.result == "failed"
    failure = outcome.failure
    assert (failure.step, failure.instance_id) == ("Rolling[0].Restart", "i-2")
    assert failure.message == "puma did not come up"
    assert failure.stdout.splitlines() == [f"line {n}" for n in range(10, 30)]
    assert failure.stderr == "Errno::EADDRINUSE"


def test_a_failed_host_of_a_several_step_document_is_read_by_its_failed_step():
    """GetCommandInvocation needs PluginName for a document of several steps: the failure's output is
    asked for by the first failed step's name, which ListCommandInvocations with Details gives."""
    clock = FakeClock()
    timeline = scenario("Failed")
    failed_host = timeline[-1][1]["hosts"]["c2"][0]
    failed_host["CommandPlugins"] = [
        {"Name": "SwitchTree", "Status": "Success", "Output": ""},
        {"Name": "InstallDependencies", "Status": "Failed", "Output": "bundle: command not found"},
        {"Name": "Record", "Status": "Cancelled", "Output": ""},
    ]
    ssm = FakeSSM(timeline, clock)
    outcome, _ = _follow(ssm, clock)
    assert outcome.failure.instance_id == "i-2"
    assert outcome.failure.stderr == "Errno::EADDRINUSE"
    assert [call for call in ssm.calls if call.startswith("GetCommandInvocation")] == [
        "GetCommandInvocation InstallDependencies"
    ]


# A failed host's output: 60,000 characters of stdout whose last lines GetCommandInvocation never shows.
LONG_STDOUT = (
    "".join(f"gem {n:05d} " + "." * 49 + "\n" for n in range(999)) + "An error occurred while installing pg\n"
)
LOG_GROUP = "/releaseflow/commands"


class FakeSSMLogged(FakeSSM):
    """GetCommandInvocation as SSM answers it for a command sent with (or without) CloudWatchOutputConfig:
    stdout cut to its first 24,000 characters."""

    def __init__(self, *args, enabled=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.enabled = enabled

    def get_command_invocation(self, CommandId, InstanceId, PluginName=None):
        answer = super().get_command_invocation(CommandId, InstanceId, PluginName)
        answer["StandardOutputContent"] = LONG_STDOUT[:24000]
        answer["CloudWatchOutputConfig"] = {
            "CloudWatchLogGroupName": LOG_GROUP if self.enabled else "",
            "CloudWatchOutputEnabled": self.enabled,
        }
        return answer


class FakeLogs:
    """GetLogEvents over streams of one group; a missing group or stream is ResourceNotFoundException."""

    def __init__(self, streams: dict[str, str], group: str = LOG_GROUP):
        self.streams, self.group = streams, group
        self.calls: list[dict] = []

    def get_log_events(self, **request):
        self.calls.append(request)
        if request["logGroupName"] != self.group:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ResourceNotFoundException",
                        "Message": "The specified log group does not exist.",
                    }
                },
                "GetLogEvents",
            )
        if request["logStreamName"] not in self.streams:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ResourceNotFoundException",
                        "Message": "The specified log stream does not exist.",
                    }
                },
                "GetLogEvents",
            )
        # The agent's events: whole lines, here 100 to an event; the last `limit` of them, oldest first.
        lines = self.streams[request["logStreamName"]].splitlines(keepends=True)
        events = [{"message": "".join(lines[n : n + 100])} for n in range(0, len(lines), 100)]
        return {"events": events[-request["limit"] :]}


def _failed_restart(clock, **kwargs):
    timeline = scenario("Failed")
    timeline[-1][1]["hosts"]["c2"][0]["CommandPlugins"] = [
        {"Name": "Restart", "Status": "Failed", "Output": ""}
    ]
    return FakeSSMLogged(timeline, clock, **kwargs)


def test_a_failed_hosts_true_last_lines_are_read_from_the_end_of_its_log_streams():
    """With CloudWatchOutputConfig, the failure's tails are the last 20 lines of the host's streams
    <CommandId>/<InstanceId>/<step>/stdout and /stderr, read from the end (startFromHead false), and
    it names the group and the streams."""
    clock = FakeClock()
    logs = FakeLogs({"c2/i-2/Restart/stdout": LONG_STDOUT, "c2/i-2/Restart/stderr": "Gem::Ext::BuildError\n"})
    outcome, _ = _follow(_failed_restart(clock), clock, logs=logs)
    failure = outcome.failure
    assert failure.stdout.splitlines() == LONG_STDOUT.splitlines()[-20:]
    assert failure.stdout.endswith("An error occurred while installing pg")
    assert failure.stderr == "Gem::Ext::BuildError"
    assert failure.log_group == LOG_GROUP
    assert failure.log_streams == ("c2/i-2/Restart/stdout", "c2/i-2/Restart/stderr")
    assert not failure.output_note
    assert [(c["logStreamName"], c["startFromHead"]) for c in logs.calls] == [
        ("c2/i-2/Restart/stdout", False),
        ("c2/i-2/Restart/stderr", False),
    ]


def test_a_missing_stderr_stream_is_no_stderr_but_no_stream_at_all_falls_back_to_the_cut_text():
    """The agent makes a stream only for output there is: no stderr stream is empty stderr; neither
    stream (the host could not write) falls back to GetCommandInvocation, saying the output is cut."""
    clock = FakeClock()
    only_stdout = FakeLogs({"c2/i-2/Restart/stdout": LONG_STDOUT})
    outcome, _ = _follow(_failed_restart(clock), clock, logs=only_stdout)
    assert (outcome.failure.stderr, outcome.failure.log_group) == ("", LOG_GROUP)
    clock = FakeClock()
    outcome, _ = _follow(_failed_restart(clock), clock, logs=FakeLogs({}))
    assert outcome.failure.log_group == ""
    assert "no log stream of it in /releaseflow/commands" in outcome.failure.output_note
    assert "the output is cut" in outcome.failure.output_note
    assert outcome.failure.stdout.splitlines() == LONG_STDOUT[:24000].splitlines()[-20:]


@pytest.mark.parametrize(
    ("enabled", "logs", "why"),
    [
        (False, FakeLogs({}), "its command was sent without CloudWatchOutputConfig"),
        (
            True,
            FakeLogs({}, group="/other"),
            "GetLogEvents on /releaseflow/commands: ResourceNotFoundException",
        ),
    ],
    ids=["config-disabled", "old-stack-without-the-group"],
)
def test_without_the_log_group_the_failure_falls_back_to_get_command_invocation_and_says_it_is_cut(
    enabled, logs, why
):
    """With CloudWatch output disabled, or its group missing (an old stack), the tails are GetCommandInvocation's
    and the failure says why and that the output is cut there."""
    clock = FakeClock()
    outcome, _ = _follow(_failed_restart(clock, enabled=enabled), clock, logs=logs)
    failure = outcome.failure
    assert failure.log_group == ""
    assert why in failure.output_note
    assert "keeps only the first 24000 characters of stdout and 8000 of stderr" in failure.output_note
    assert "the output is cut" in failure.output_note
    assert "An error occurred while installing pg" not in failure.stdout
    assert len(logs.calls) == (1 if enabled else 0)


def test_the_log_reads_are_taken_from_the_triggers_call_budget():
    """The two GetLogEvents calls count against the same 60-calls-a-minute budget as the SSM calls."""
    counts = []
    for logs in (None, FakeLogs({"c2/i-2/Restart/stdout": "x\n", "c2/i-2/Restart/stderr": "y\n"})):
        clock = FakeClock()
        budget = CallBudget(clock, clock.sleep)
        _follow(_failed_restart(clock), clock, logs=logs, budget=budget)
        counts.append(len(budget.others) + len(budget.ends))
    assert counts[1] == counts[0] + 2


class FakeSSMByHost(FakeSSM):
    """FakeSSM whose ListCommandInvocations also answers by InstanceId with an InvokedAfter filter."""

    def list_command_invocations(self, CommandId=None, Details=False, InstanceId=None, Filters=()):
        if CommandId:
            return super().list_command_invocations(CommandId, Details)
        self.calls.append(f"ListCommandInvocations {InstanceId} {[f['key'] for f in Filters]}")
        window = {f["key"]: datetime.fromisoformat(f["value"]) for f in Filters}
        rows = [h for hosts in self._state()["hosts"].values() for h in hosts]
        return {
            "CommandInvocations": [
                h
                for h in rows
                if h["InstanceId"] == InstanceId
                and window["InvokedAfter"] <= h["CommandPlugins"][0]["ResponseStartDateTime"]
                and h["CommandPlugins"][0]["ResponseStartDateTime"] <= window["InvokedBefore"]
            ]
        }


def test_a_failed_command_step_without_outputs_is_traced_to_its_host_through_the_hosts_it_was_sent_to():
    """Under failed_run_command_outputs=none a failed step has no CommandId: its sent hosts' invocations name it."""
    clock = FakeClock()
    timeline = scenario("Failed")
    restart = timeline[-1][1]["steps"][2]
    del restart["Outputs"]
    restart["Action"] = "aws:runCommand"
    restart["Inputs"] = {"InstanceIds": '["i-1", "i-2"]'}
    ssm = FakeSSMByHost(timeline, clock)
    outcome, _ = _follow(ssm, clock)
    failure = outcome.failure
    assert (failure.step, failure.instance_id, failure.stderr) == (
        "Rolling[0].Restart",
        "i-2",
        "Errno::EADDRINUSE",
    )
    assert "ListCommandInvocations i-1 ['InvokedAfter', 'InvokedBefore']" in ssm.calls
    # The report's host lines see the failed host too, not only the failure.
    assert ("i-2", "Failed") in {(i.instance_id, i.status) for i in outcome.snapshot.invocations}


class FakeSSMDown(FakeSSM):
    """FakeSSM whose endpoint cannot be reached for the GetAutomationExecution calls in `down` (by count)."""

    def __init__(self, timeline, now, down):
        super().__init__(timeline, now)
        self.down = down
        self.polls = 0

    def get_automation_execution(self, AutomationExecutionId):
        self.polls += 1
        if self.polls in self.down:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
        return super().get_automation_execution(AutomationExecutionId)


def test_follow_rides_out_an_endpoint_that_is_briefly_unreachable():
    """A few unreachable polls (an endpoint restart) are waited out; the deploy's own outcome is reported."""
    clock = FakeClock()
    outcome, _ = _follow(FakeSSMDown(scenario("Success"), clock, down={2, 3, 4}), clock)
    assert outcome.result == "success"


def test_follow_gives_up_when_the_endpoint_stays_unreachable():
    """Unreachable for UNREACHABLE_SECONDS: the connection error goes to the caller (the CLI names it)."""
    clock = FakeClock()
    with pytest.raises(EndpointConnectionError):
        _follow(FakeSSMDown(scenario("Success"), clock, down=set(range(2, 1000))), clock)
    assert clock() >= UNREACHABLE_SECONDS


def test_the_first_failure_is_named_not_the_failure_paths_report():
    """A script step that broke the deploy is named, not the failure path's ReportFailure or a rollback host."""
    clock = FakeClock()
    done = {
        "status": "Failed",
        "failure": "Step ReportFailure failed",
        "steps": [
            _step("Checkout", "Success", 0, 3, command="c1"),
            _step("Rolling", "Failed", 3, 4),
            _step(
                "PickBatch",
                "Failed",
                3,
                4,
                parent="Rolling",
                iteration=0,
                action="aws:executeScript",
                failure="not online in Systems Manager: i-2",
            ),
            _step("RollBack", "Failed", 4, 5, command="c3"),
            _step("ReportFailure", "Failed", 5, 6, action="aws:executeScript", failure="deploy failed"),
        ],
        "hosts": {"c3": [_host("c3", "i-1", "releaseflow-Rollback", "Failed", 4, 5)]},
    }
    outcome, _ = _follow(FakeSSM([(0, done)], clock), clock)
    failure = outcome.failure
    assert (failure.step, failure.message) == ("Rolling[0].PickBatch", "not online in Systems Manager: i-2")
    assert failure.instance_id == ""


def test_timeout_stops_the_execution():
    """--timeout stops the execution with StopAutomationExecution and reports timed_out."""
    clock = FakeClock()
    ssm = FakeSSM([(0, scenario()[0][1])], clock)
    outcome, _ = _follow(ssm, clock, timeout=5)
    assert outcome.result == "timed_out"
    assert "StopAutomationExecution" in ssm.calls
    assert outcome.snapshot.status == "Cancelled"


def test_stop_request_cancels_the_execution():
    """A stop request (a signal in the CLI) stops the execution and reports cancelled."""
    clock = FakeClock()
    ssm = FakeSSM(scenario(), clock)
    outcome, _ = _follow(ssm, clock, stop_requested=lambda: clock.now >= 1)
    assert outcome.result == "cancelled"
    assert ssm.stopped


def test_execution_cancelled_elsewhere_is_cancelled():
    """An execution cancelled from the console ends the follow with cancelled."""
    clock = FakeClock()
    timeline = scenario()
    outcome, _ = _follow(FakeSSM([timeline[0], (2, {**timeline[1][1], "status": "Cancelled"})], clock), clock)
    assert outcome.result == "cancelled"


@pytest.mark.parametrize("revision", ["main", "abc123", f"{REVISION}; rm -rf /", ""])
def test_revision_not_matching_the_whole_pattern_is_refused(revision):
    """A revision is checked against the runbook's pattern as a whole, even if the pattern is unanchored."""
    with pytest.raises(RevisionRefused):
        check_revision(revision, "[0-9a-f]{7,40}")


def test_revision_matching_the_pattern_passes():
    """A full commit id passes the anchored pattern: the check returns and raises nothing."""
    assert check_revision(REVISION, "^[0-9a-f]{7,40}$") is None


def test_revision_pattern_comes_from_the_runbook_source_even_with_a_prefix(tmp_path):
    """The pattern is read from automation/<runbook>.yaml; staging-releaseflow-Deploy finds it too."""
    (tmp_path / "automation").mkdir()
    (tmp_path / "automation" / "releaseflow-Deploy.yaml").write_text(
        'schemaVersion: "0.3"\nparameters:\n  Revision:\n    type: String\n    allowedPattern: "^[0-9a-f]{40}$"\n'
        "mainSteps: []\n"
    )
    assert revision_pattern(tmp_path, "staging-releaseflow-Deploy") == "^[0-9a-f]{40}$"


ENV = Environment(
    name="production", parameters={"FleetTagValue": ["web"], "BatchSize": ["1"], "TargetGroupArn": [""]}
)
GITHUB = {
    "GITHUB_RUN_ID": "42",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_SERVER_URL": "https://github.com",
}


def test_start_request_merges_parameters_and_drops_empty_values():
    """Overrides win over the configuration, the revision is added and empty values are left out."""
    request = start_request(ENV, REVISION, {"BatchSize": ["50%"]}, {})
    assert request.parameters == {"FleetTagValue": ["web"], "BatchSize": ["50%"], "Revision": [REVISION]}


def test_client_token_is_stable_per_run_attempt():
    """The same run and attempt give the same token; a re-run attempt gives a new one."""
    first = start_request(ENV, REVISION, {}, GITHUB).client_token
    again = start_request(ENV, REVISION, {}, GITHUB).client_token
    rerun = start_request(ENV, REVISION, {}, {**GITHUB, "GITHUB_RUN_ATTEMPT": "2"}).client_token
    assert first == again != rerun
    assert len(first) == 36


def test_start_request_tags_commit_actor_and_run_url():
    """Tags carry the commit, the actor and the run URL."""
    tags = dict(start_request(ENV, REVISION, {}, GITHUB).tags)
    assert tags["releaseflow:commit"] == REVISION
    assert tags["releaseflow:actor"] == "octocat"
    assert tags["releaseflow:run"] == "https://github.com/acme/shop/actions/runs/42"


def test_a_bot_actor_is_tagged_in_characters_ssm_takes():
    """GitHub's app actors have brackets, off SSM's tag value pattern: they become `_`, the rest stays."""
    github = {**GITHUB, "GITHUB_ACTOR": "dependabot[bot]"}
    tags = dict(start_request(ENV, REVISION, {}, github).tags)
    assert tags["releaseflow:actor"] == "dependabot_bot_"
    assert tag_value("Zoë Müller-Smith@acme") == "Zoë Müller-Smith@acme"
    assert tag_value("a" * 300) == "a" * 256


def test_start_request_passes_the_alarm_as_alarm_configuration():
    """An environment's alarm becomes StartAutomationExecution's AlarmConfiguration; none, no key."""
    watched = replace(ENV, alarm="shop-5xx", ignore_alarm_poll_failure=True)
    assert start_request(watched, REVISION, {}, {}).api_input()["AlarmConfiguration"] == {
        "IgnorePollAlarmFailure": True,
        "Alarms": [{"Name": "shop-5xx"}],
    }
    assert "AlarmConfiguration" not in start_request(ENV, REVISION, {}, {}).api_input()


def test_execution_stopped_by_its_alarm_is_a_failure_naming_the_alarm():
    """Cancelled by Automation for its alarm is `failed`, not `cancelled`, and the failure names the alarm."""
    clock = FakeClock()
    ssm = FakeSSM(alarm_scenario(), clock)
    outcome, _ = _follow(ssm, clock)
    assert outcome.result == "failed"
    assert outcome.failure.step == "Rolling[0].Restart"
    assert outcome.failure.message == f"CloudWatch alarm {ALARM} went into ALARM and stopped the deploy"
    assert "StopAutomationExecution" not in ssm.calls


def _request(fleet="web") -> StartRequest:
    return StartRequest("releaseflow-Deploy", {"FleetTagValue": [fleet], "Revision": [REVISION]}, "t", ())


def test_lock_held_by_a_deploy_to_the_same_fleet_refuses_naming_it():
    """A running execution on the same fleet makes the start refuse, naming that execution."""
    clock = FakeClock()
    ssm = FakeSSM([], clock, running=[("other-exec", "web")])
    with pytest.raises(LockHeld, match="other-exec"):
        acquire(ssm, _request(), wait=False, notify=print)


def test_lock_ignores_deploys_to_other_fleets():
    """An execution running on another fleet does not hold the lock."""
    clock = FakeClock()
    ssm = FakeSSM([], clock, running=[("other-exec", "db")])
    waits = []
    acquire(ssm, _request(), wait=False, notify=waits.append)
    # It looked at the running execution (its fleet is in its parameters) and let the start go on.
    assert "GetAutomationExecution" in ssm.calls
    assert waits == []


def test_claim_by_a_younger_start_its_runbook_already_failed_still_yields():
    """When the younger execution's own Lock step ended it first, the trigger's claim still refuses, naming the older."""
    clock = FakeClock()
    ssm = FakeSSM([(0, {"status": "Failed"})], clock, running=[("older", "web")])
    with pytest.raises(
        LockHeld, match=r"^execution older of releaseflow-Deploy is still running on fleet web"
    ):
        claim(ssm, _request(), "exec-1")
    assert "StopAutomationExecution" in ssm.calls


def test_wait_lock_waits_until_the_other_deploy_ends():
    """With wait, the start waits until the other execution is no longer running."""
    clock = FakeClock()
    ssm = FakeSSM([], clock, running=[("other-exec", "web")])
    notes = []

    def sleep(seconds):
        clock.sleep(seconds)
        ssm.running.clear()

    acquire(ssm, _request(), wait=True, notify=notes.append, clock=clock, sleep=sleep)
    assert clock.now > 0
    assert notes == ["waiting for execution other-exec of releaseflow-Deploy on fleet web to finish"]


def test_transitions_seen_in_one_poll_are_told_in_time_order():
    """A loop that ended after its last iteration is reported after that iteration, not before."""
    loop = parse_step(_step("Rolling", "Success", 3, 9))
    inner = parse_step(_step("Restart", "Success", 3, 6, command="c2", parent="Rolling", iteration=0))
    snapshot = Snapshot("exec-1", "releaseflow-Deploy", "InProgress", steps=(loop, inner))
    assert [step.label for step in changes(None, snapshot)] == ["Rolling[0].Restart", "Rolling"]


def test_the_planned_migration_host_is_shown_even_when_the_deploy_failed_before_migrating():
    """PlanRollout's MigrationHost output names the migration host in the summary, migrated or not."""
    plan = parse_step(
        {
            **_step("PlanRollout", "Success", 0, 1, action="aws:executeScript"),
            "Outputs": {"MigrationHost": ["i-2"]},
        }
    )
    prepare = parse_step(
        _step("PrepareChunk", "Failed", 1, 2, command="c1", parent="PrepareHosts", iteration=1)
    )
    runs = tuple(
        parse_invocation(_host("c1", host, "releaseflow-PrepareRevision", "Failed", 1, 2))
        for host in ("i-1", "i-2")
    )
    rows = host_summaries(
        Snapshot("exec-1", "releaseflow-Deploy", "Failed", steps=(plan, prepare), invocations=runs)
    )
    assert {row.instance_id: row.role for row in rows} == {"i-1": "rolling", "i-2": "migrate"}


class FakeDeployAndRollback:
    """A failed deploy whose StartRollback step started r-1, which rolled i-1 back."""

    def __init__(self):
        self.calls: list[str] = []

    def get_automation_execution(self, AutomationExecutionId):
        execution = {"AutomationExecutionId": "exec-1", "DocumentName": "releaseflow-Deploy"}
        return {"AutomationExecution": {**execution, "AutomationExecutionStatus": "Failed"}}

    def describe_automation_step_executions(self, AutomationExecutionId):
        self.calls.append(AutomationExecutionId)
        if AutomationExecutionId == "r-1":
            return {"StepExecutions": [_step("RollBackBatch", "Success", 5, 6, command="c2")]}
        started = _step("StartRollback", "Success", 4, 5, action="aws:executeAwsApi")
        started["Outputs"] = {"RollbackExecutionId": ["r-1"]}
        return {"StepExecutions": [_step("SwitchBatch", "Success", 0, 3, command="c1"), started]}

    def list_command_invocations(self, CommandId, Details):
        checked_out = outputs().switched.output
        if CommandId == "c1":
            return {
                "CommandInvocations": [
                    _host("c1", "i-1", "releaseflow-CheckoutRevision", "Success", 0, 3, checked_out)
                ]
            }
        reverted = outputs().reverted.output
        return {"CommandInvocations": [_host("c2", "i-1", "releaseflow-Rollback", "Success", 5, 6, reverted)]}


def test_a_finished_deploy_reports_the_hosts_its_fleet_rollback_reverted():
    """The rollback runs as its own execution; its host commands count in the deploy's host summary."""
    ssm = FakeDeployAndRollback()
    snapshot = fetch(ssm, "exec-1")
    assert ssm.calls == ["exec-1", "r-1"]
    (row,) = host_summaries(snapshot)
    assert (row.instance_id, row.before, row.after) == ("i-1", outputs().old, outputs().old)
    assert row.outcome.rolled_back


def test_host_checked_out_outside_the_loop_is_the_migration_host_even_if_it_failed():
    """A host whose checkout failed before migrating is still shown as the migration host."""
    checkout = parse_step(_step("CheckOutMigrationHost", "Failed", 0, 1, command="c1"))
    failed = parse_invocation(_host("c1", "i-1", "releaseflow-CheckoutRevision", "Failed", 0, 1))
    (row,) = host_summaries(
        Snapshot("exec-1", "releaseflow-Deploy", "Failed", steps=(checkout,), invocations=(failed,))
    )
    assert (row.instance_id, row.role, row.before, row.after, row.status) == (
        "i-1",
        "migrate",
        None,
        None,
        "Failed",
    )


def test_stop_after_the_execution_ended_reports_its_own_outcome():
    """A stop that comes after the execution succeeded keeps the success (SSM refuses the stop)."""
    clock = FakeClock()
    ssm = FakeSSM(scenario(), clock)
    ssm.timeline = [(0, scenario()[2][1])]
    outcome, _ = _follow(ssm, clock, stop_requested=lambda: True)
    assert outcome.result == "success"
    assert "StopAutomationExecution" in ssm.calls


# --- run_deploy: the library call behind the CLI, the demo and the bench ---------------------------


class Recorder:
    """A run_deploy progress that keeps what it was told."""

    def __init__(self):
        self.phases: list[str] = []
        self.lines: list[str] = []
        self.changes: list = []

    def phase(self, name):
        self.phases.append(name)

    def line(self, text):
        self.lines.append(text)

    def progress(self, snapshot, changed):
        self.changes.extend(changed)


def _ssm(timeline, clock):
    ssm = FakeSSM(timeline, clock)
    ssm.meta = SimpleNamespace(region_name="eu-west-1")
    return ssm


@pytest.mark.parametrize(("status", "result", "code"), [("Success", "success", 0), ("Failed", "failed", 1)])
def test_run_deploy_locks_starts_and_follows_to_the_outcome(status, result, code):
    """run_deploy takes the lock, starts once, tells its progress, and returns the outcome and exit code."""
    clock = FakeClock()
    ssm = _ssm(scenario(status), clock)
    seen = Recorder()
    deployment = run_deploy(ssm, _request(), progress=seen, stopping=_stopping_at(clock))
    assert (deployment.execution_id, deployment.outcome.result, deployment.exit_code) == (
        "exec-1",
        result,
        code,
    )
    assert deployment.url.startswith("https://eu-west-1.console.aws.amazon.com/")
    assert seen.phases == ["Lock", "Start"]
    assert seen.lines[0].startswith("started execution exec-1 of releaseflow-Deploy")
    assert {getattr(item, "instance_id", None) for item in seen.changes} >= {"i-1", "i-2"}
    assert ssm.calls.count("StartAutomationExecution") == 1


def _refused_at_lock(failure: str) -> list[tuple[float, dict]]:
    """A deploy whose runbook's Lock step failed with `failure` (as Automation words a script's error)."""
    running = {
        "status": "InProgress",
        "steps": [_step("Lock", "InProgress", 0, action="aws:executeScript")],
        "hosts": {},
    }
    lock = _step("Lock", "Failed", 0, 1, action="aws:executeScript", failure=failure)
    return [(0, running), (1, {"status": "Failed", "failure": failure, "steps": [lock], "hosts": {}})]


def test_a_deploy_its_runbook_refused_at_the_lock_step_is_lock_held_like_the_triggers_check():
    """An execution that took the fleet after the trigger's check makes the runbook's Lock step fail: the
    deploy ends as the check would have ended it, LockHeld (exit 5) naming the holder, not a failure."""
    failure = (
        "Step fails when it is Executing the script. RuntimeError: execution r-9 of releaseflow-RollbackFleet "
        "is still running on fleet web; this execution yields before touching any host\nTraceback (most recent"
    )
    clock = FakeClock()
    with pytest.raises(LockHeld) as raised:
        run_deploy(_ssm(_refused_at_lock(failure), clock), _request(), stopping=_stopping_at(clock))
    assert raised.value.exit_code == 5
    assert str(raised.value) == (
        "execution exec-1 of releaseflow-Deploy yielded in its Lock step: "
        "execution r-9 of releaseflow-RollbackFleet is still running on fleet web"
    )


def test_a_lock_step_that_failed_for_another_reason_stays_a_failed_deploy():
    """A Lock step failing without naming a holder (say, access denied) is a failed deploy, exit 1."""
    clock = FakeClock()
    ssm = _ssm(_refused_at_lock("AccessDeniedException: not authorized"), clock)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock))
    assert (deployment.outcome.result, deployment.exit_code) == ("failed", 1)


def test_run_deploy_without_wait_returns_once_started():
    """wait=False: started and claimed, not followed; the exit code is 0."""
    ssm = _ssm(scenario(), FakeClock())
    deployment = run_deploy(ssm, _request(), wait=False)
    assert (deployment.outcome, deployment.exit_code) == (None, 0)
    assert "DescribeAutomationStepExecutions" not in ssm.calls


def test_run_deploy_that_loses_aws_after_the_start_says_the_execution_may_still_run():
    """An AWS error while following is LostTrack (exit 1) naming the execution, not a refusal (exit 2)."""
    clock = FakeClock()
    ssm = _ssm(scenario(), clock)

    def refused(**_):
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListCommandInvocations"
        )

    ssm.list_command_invocations = refused
    with pytest.raises(LostTrack, match=r"^lost track of execution exec-1, which may still run") as raised:
        run_deploy(ssm, _request(), stopping=_stopping_at(clock))
    assert raised.value.exit_code == 1


def _stopping_at(clock, *moments):
    """A stopper that gets a stop request (a signal) at each of `moments` on the fake clock (none: never
    asked to stop), and sleeps on it."""

    class Stopper:
        def is_set(self):
            return self.requests() > 0

        def requests(self):
            return sum(clock.now >= moment for moment in moments)

        def pause(self, seconds):
            clock.sleep(seconds)

    @contextlib.contextmanager
    def stopping():
        yield Stopper()

    return stopping


def test_a_cancelled_deploy_follows_the_rollback_it_started_to_its_end_and_stays_cancelled():
    """A stop request cancels the deploy; its RollBackOnCancel's RollbackFleet is followed (never stopped)
    to its end, the hosts include what it did, and the exit code stays 4."""
    clock = FakeClock()
    ssm = _ssm([], clock)
    ssm.__init__(**cancel_scenario(rollback_ends=30), now=clock)
    seen = Recorder()
    deployment = run_deploy(ssm, _request(), progress=seen, stopping=_stopping_at(clock, 4), clock=clock)
    assert (deployment.outcome.result, deployment.exit_code) == ("cancelled", 4)
    assert (deployment.rollback.result, deployment.rollback.snapshot.execution_id) == ("success", "r-1")
    assert clock.now >= 30
    assert ssm.stops == ["exec-1"]
    assert "Rollback" in seen.phases
    assert ("RollBackBatch", "Success") in [(getattr(c, "name", ""), c.status) for c in seen.changes]
    rows = {row.instance_id: row for row in host_summaries(deployment.outcome.snapshot)}
    assert rows["i-1"].outcome.rolled_back
    assert (rows["i-1"].after, rows["i-2"].outcome.outcome) == (outputs().old, "not-switched")


def test_a_deploy_cancelled_elsewhere_follows_its_rollback_too():
    """Cancelled from the console (no stop request here): the rollback it started is followed all the same."""
    clock = FakeClock()
    kwargs = cancel_scenario(rollback_ends=30)
    kwargs["timeline"] = [*kwargs["timeline"], (4, kwargs["cancelled"])]
    ssm = _ssm([], clock)
    ssm.__init__(**kwargs, now=clock)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock), clock=clock)
    assert (deployment.outcome.result, deployment.rollback.result) == ("cancelled", "success")
    assert ssm.stops == []


def test_a_second_stop_request_stops_waiting_for_the_rollback_without_stopping_it():
    """A further signal while the rollback runs stops waiting: the rollback is left running, unfinished."""
    clock = FakeClock()
    ssm = _ssm([], clock)
    ssm.__init__(**cancel_scenario(rollback_ends=None), now=clock)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, 4, 40), clock=clock)
    assert (deployment.exit_code, deployment.rollback.result) == (4, UNFINISHED)
    assert deployment.rollback.snapshot.status == "InProgress"
    assert ssm.stops == ["exec-1"]
    assert 40 <= clock.now < 45


def test_the_rollback_is_followed_only_within_what_is_left_of_the_timeout():
    """--timeout bounds the whole wait, the rollback's included; the rollback is never stopped."""
    clock = FakeClock()
    ssm = _ssm([], clock)
    ssm.__init__(**cancel_scenario(rollback_ends=None), now=clock)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, 4), clock=clock, timeout=60)
    assert deployment.rollback.result == UNFINISHED
    assert ssm.stops == ["exec-1"]
    assert 60 <= clock.now < 65


def test_a_cancel_that_started_no_rollback_is_not_waited_for():
    """A cancel while preparing (no RollbackExecutionId) ends at once, with no rollback to report."""
    clock = FakeClock()
    ssm = _ssm(scenario(), clock)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, 1), clock=clock)
    assert (deployment.exit_code, deployment.rollback) == (4, None)


def test_a_step_without_outputs_is_traced_to_its_own_command_even_when_the_host_listing_has_later_ones():
    """Under failed_run_command_outputs=none a cancelled switch is read from its host's listing, newest first:
    only the step's own document, sent while it ran, counts there: the host shows rolled back."""
    clock = FakeClock()
    kwargs = cancel_scenario(rollback_ends=0)
    cancelled = kwargs["cancelled"]
    switch = _step("Switch", "Cancelled", 3, 4, parent="Rolling", iteration=1, action="aws:runCommand")
    switch["Inputs"] = {"InstanceIds": '["i-3"]', "DocumentName": '"releaseflow-CheckoutRevision"'}
    cancelled["steps"].append(switch)
    switched = _host("c4", "i-3", "releaseflow-CheckoutRevision", "Success", 3, 4, outputs().switched.output)
    reverted = _host("c3", "i-3", "releaseflow-Rollback", "Success", 5, 6, outputs().reverted.output)
    previous = _host(
        "c0", "i-3", "releaseflow-CheckoutRevision", "Success", -100, -99, outputs().already_at.output
    )
    kwargs["others"]["r-1"][-1][1]["hosts"]["c3"].append(reverted)

    class ByHost(FakeSSM):
        def list_command_invocations(self, CommandId=None, Details=False, InstanceId=None, Filters=()):
            if CommandId:
                return super().list_command_invocations(CommandId, Details)
            # Newest first, and the window not applied: the listing must not be trusted to leave them out
            # (the rollback's run, later; a previous deploy's switch of the same host, earlier).
            return {
                "CommandInvocations": [
                    {**reverted, "RequestedDateTime": _at(5)},
                    {**switched, "RequestedDateTime": _at(3)},
                    {**previous, "RequestedDateTime": _at(-100)},
                ]
            }

    ssm = ByHost(**kwargs, now=clock)
    ssm.meta = SimpleNamespace(region_name="eu-west-1")
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, 4), clock=clock)
    rows = {row.instance_id: row for row in host_summaries(deployment.outcome.snapshot)}
    assert rows["i-3"].outcome.rolled_back
    assert rows["i-3"].after == outputs().old
    # The switch's own run, then the rollback's: neither the earlier deploy's nor the rollback's first.
    assert [i.command_id for i in deployment.outcome.snapshot.invocations if i.instance_id == "i-3"] == [
        "c4",
        "c3",
    ]


def test_a_deploy_its_alarm_stopped_follows_its_rollback_and_still_fails():
    """Automation cancelled it for its alarm: the rollback it started is followed, and the deploy exits 1."""
    clock = FakeClock()
    kwargs = cancel_scenario(rollback_ends=30)
    stopped = {**kwargs["cancelled"], "alarm": ALARM, "triggered": [{"Name": ALARM, "State": "ALARM"}]}
    kwargs["timeline"] = [*kwargs["timeline"], (4, stopped)]
    ssm = _ssm([], clock)
    ssm.__init__(**kwargs, now=clock)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock), clock=clock)
    assert (deployment.outcome.result, deployment.exit_code) == ("failed", 1)
    assert deployment.rollback.result == "success"
    assert ssm.stops == []


def test_a_short_output_without_cloudwatch_logs_is_said_to_be_whole():
    """Under GetCommandInvocation's limits its text is the whole output: the note says so, not that it is cut."""
    clock = FakeClock()
    ssm = FakeSSM(scenario("Failed"), clock)
    outcome, _ = _follow(ssm, clock, logs=FakeLogs({}))
    assert "without CloudWatchOutputConfig" in outcome.failure.output_note
    assert outcome.failure.output_note.endswith("this output is within them, whole")
