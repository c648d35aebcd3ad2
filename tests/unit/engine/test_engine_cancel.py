"""StopAutomationExecution Type=Cancel: the running step ends Cancelled, onCancel runs, status Cancelled."""

import threading
import time

from engine_helpers import FakeAws, FakeClock, cancelling_run, runbook, statuses
from releaseflow.rehearsal.engine.automation import AutomationRun
from releaseflow.rehearsal.engine.limits import Limits


def nap(name, **step):
    """A step that sleeps for a minute."""
    return {"name": name, "action": "aws:sleep", "inputs": {"Duration": "PT1M"}, **step}


def test_cancel_stops_the_running_step_and_the_execution():
    """A cancel during a step ends that step Cancelled, runs nothing after it, and the execution Cancelled."""
    run = cancelling_run(runbook(nap("first"), nap("second")), after_seconds=2)
    run.run()
    assert statuses(run) == [("first", "Cancelled")]
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"


def test_on_cancel_step_runs_the_cancellation_path():
    """onCancel step:X runs X after the cancel; the execution still ends Cancelled."""
    cleanup = {"name": "cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
    run = cancelling_run(
        runbook(nap("first", onCancel="step:cleanup"), nap("second", isEnd=True), cleanup), 2
    )
    run.run()
    assert statuses(run) == [("first", "Cancelled"), ("cleanup", "Success")]
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"


def test_on_cancel_of_a_nested_step_leads_out_of_the_loop():
    """A nested step's onCancel step:X naming a sibling of the loop runs X after the cancel, as onFailure does."""
    cleanup = {"name": "cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
    loop = {
        "name": "batches",
        "action": "aws:loop",
        "inputs": {"Iterators": ["a", "b"], "Steps": [nap("inner", onCancel="step:cleanup")]},
    }
    run = cancelling_run(runbook(loop, nap("after", isEnd=True), cleanup), after_seconds=90)
    run.run()
    assert statuses(run) == [
        ("batches", "Cancelled"),
        ("inner", "Success"),
        ("inner", "Cancelled"),
        ("cleanup", "Success"),
    ]
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"


def test_nested_step_without_on_cancel_stops_the_execution():
    """A cancel inside a loop whose nested step has no onCancel ends the loop and the execution Cancelled."""
    cleanup = {"name": "cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
    loop = {"name": "batches", "action": "aws:loop", "inputs": {"Iterators": ["a"], "Steps": [nap("inner")]}}
    run = cancelling_run(runbook(loop, cleanup), after_seconds=2)
    run.run()
    assert statuses(run) == [("batches", "Cancelled"), ("inner", "Cancelled")]
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"


def test_cancel_before_start_ends_the_execution_without_steps():
    """Cancelling a pending execution makes it Cancelled; running it afterwards does nothing."""
    run = AutomationRun("exec-1", "Runbook", "1", runbook(nap("first")), {}, aws=FakeAws())
    run.cancel()
    run.run()
    assert run.step_executions() == []
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"


def test_cancel_from_another_thread_with_real_time():
    """run() in a thread returns promptly after cancel() from another thread, as the endpoint uses it."""
    changes = []
    run = AutomationRun(
        "exec-1",
        "Runbook",
        "1",
        runbook(nap("first")),
        {},
        aws=FakeAws(),
        on_change=lambda: changes.append(run.status),
    )
    thread = threading.Thread(target=run.run)
    started = time.monotonic()
    thread.start()
    time.sleep(0.1)
    assert run.execution()["AutomationExecutionStatus"] == "InProgress"
    assert run.execution()["CurrentStepName"] == "first"
    run.cancel()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"
    assert changes[-1] == "Cancelled"


def test_restored_unfinished_run_is_marked_failed():
    """from_json of a run saved while in progress restores it Failed, saying the endpoint restarted."""
    saved = {}
    clock = FakeClock()

    def sleep(seconds):
        saved.setdefault("json", run.to_json())
        clock.sleep(seconds)

    run = AutomationRun(
        "exec-1", "Runbook", "1", runbook(nap("first")), {}, aws=FakeAws(), clock=clock, sleep=sleep
    )
    run.run()
    restored = AutomationRun.from_json(saved["json"]).execution()
    assert restored["AutomationExecutionStatus"] == "Failed"
    assert "restarted" in restored["FailureMessage"]
    assert restored["StepExecutions"][0]["StepStatus"] == "Failed"


def test_cancellation_workflow_is_stopped_after_the_cancel_limit():
    """An onCancel path still running cancel_seconds after the cancel is stopped there: Cancelled, no more steps."""
    clock = FakeClock()
    start = clock.now
    holder = {}

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now - start >= 2 and holder["run"].status == "InProgress":
            holder["run"].cancel()

    long_cleanup = {"name": "cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT5M"}}
    after = {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
    content = runbook(nap("first", onCancel="step:cleanup"), nap("second", isEnd=True), long_cleanup, after)
    run = AutomationRun(
        "exec-1",
        "Runbook",
        "1",
        content,
        {},
        aws=FakeAws(),
        script_env={},
        clock=clock,
        sleep=sleep,
        limits=Limits(cancel_seconds=120),
    )
    holder["run"] = run
    run.run()
    assert statuses(run) == [("first", "Cancelled"), ("cleanup", "Cancelled")]
    execution = run.execution()
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert "stopped 120 s after the cancel" in execution["FailureMessage"]
    # The cut came at the limit, not at the end of the five-minute sleep.
    assert 120 <= clock.now - start - 2 < 121


def test_cancellation_workflow_within_the_limit_runs_to_its_end():
    """A cancellation path shorter than the limit runs every step and the execution ends Cancelled, no message."""
    short_cleanup = {"name": "cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}}
    run = cancelling_run(
        runbook(nap("first", onCancel="step:cleanup"), nap("x", isEnd=True), short_cleanup), 2
    )
    run.run()
    assert statuses(run) == [("first", "Cancelled"), ("cleanup", "Success")]
    assert "FailureMessage" not in run.execution()
