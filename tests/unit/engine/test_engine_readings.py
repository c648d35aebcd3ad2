"""The open readings: the engine plays each reading of every behaviour AWS's documentation leaves open."""

import pytest

from engine_helpers import FakeAws, FakeFleet, cancelling_run, runbook, statuses
from releaseflow.errors import UsageError
from releaseflow.readings import DEFAULT, OPEN_READINGS, STRICT, check, choose
from releaseflow.rehearsal.engine.automation import AwsCallError


def note(name, **step):
    """A step that calls the fake svc.Note."""
    return {"name": name, "action": "aws:executeAwsApi", "inputs": {"Service": "svc", "Api": "Note"}, **step}


def failing(name, **step):
    """A step whose call fails."""
    return {"name": name, "action": "aws:executeAwsApi", "inputs": {"Service": "svc", "Api": "Fail"}, **step}


def fake_aws(extra=None):
    """svc.Note answers, svc.Fail fails, plus `extra` handlers."""

    def fail(params):
        raise AwsCallError("Boom", "broke")

    return FakeAws({("svc", "Note"): lambda params: {}, ("svc", "Fail"): fail, **(extra or {})})


def loop(*steps):
    """An aws:loop over two values with these nested steps."""
    return {"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a", "b"], "Steps": list(steps)}}


def test_table_defaults_and_strict():
    """Each row's default is its first reading; strict is one of its readings; the agreed names are all there."""
    assert set(OPEN_READINGS) == {
        "loop_nested_continue",
        "loop_nested_jump",
        "loop_nested_cancel_jump",
        "wait_multiple_values",
        "failed_run_command_outputs",
        "output_selector_no_match",
        "script_output_over_limit",
        "run_command_document_version",
    }
    for row in OPEN_READINGS.values():
        assert DEFAULT[row.name] == row.readings[0]
        assert STRICT[row.name] in row.readings


def test_choose_reads_files_and_refuses_unknown_names(tmp_path):
    """`choose` takes default, strict, or a JSON file completed with defaults; a wrong name or reading is UsageError."""
    assert choose("default") == DEFAULT and choose("strict") == STRICT
    path = tmp_path / "readings.json"
    path.write_text('{"wait_multiple_values": "first"}')
    assert choose(str(path)) == {**DEFAULT, "wait_multiple_values": "first"}
    with pytest.raises(UsageError, match="unknown open reading 'nope'"):
        check({"nope": "x"})
    with pytest.raises(UsageError, match="has no reading 'some'; choose one of all, any, first"):
        check({"wait_multiple_values": "some"})
    with pytest.raises(UsageError, match="not default, strict or a readable file"):
        choose(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        ("next-nested-step", [("each", "Success"), ("try", "Failed"), ("x", "Success")]),
        ("fail-loop", [("each", "Failed"), ("try", "Failed")]),
    ],
)
def test_loop_nested_continue(execute, reading, expected):
    """A failing nested step with onFailure Continue goes on to the next nested step, or fails the loop."""
    content = runbook(loop(failing("try", onFailure="Continue"), note("x")))
    run = execute(content, aws=fake_aws(), readings={"loop_nested_continue": reading})
    assert statuses(run)[: len(expected)] == expected
    if reading == "fail-loop":
        assert len(statuses(run)) == 2  # the second iteration never ran


@pytest.mark.parametrize(("reading", "loop_status"), [("jump", "Success"), ("refused", "Failed")])
def test_loop_nested_jump(execute, reading, loop_status):
    """A nested nextStep to another nested step jumps there, or fails the loop step: target not found."""
    content = runbook(loop(note("x", nextStep="z"), note("y"), note("z")))
    run = execute(content, aws=fake_aws(), readings={"loop_nested_jump": reading})
    assert statuses(run)[0] == ("each", loop_status)
    if reading == "jump":
        assert ("y", "Success") not in statuses(run)
    else:
        assert "Step x leads to step z, which does not exist" in run.step_executions()[0]["FailureMessage"]


@pytest.mark.parametrize(
    ("reading", "ran"),
    [
        ("jump", [("each", "Cancelled"), ("wait", "Cancelled"), ("after", "Success")]),
        ("ignored", [("each", "Cancelled"), ("wait", "Cancelled")]),
    ],
)
def test_loop_nested_cancel_jump(reading, ran):
    """A cancel in a nested step whose onCancel names a step after the loop runs that step (jump), or
    ends the execution Cancelled with nothing after the loop (ignored)."""
    wait = {"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}, "onCancel": "step:after"}
    after = {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True}
    done = {"name": "done", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True}
    content = runbook(
        {"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a"], "Steps": [wait]}}, done, after
    )
    run = cancelling_run(content, after_seconds=2, readings={"loop_nested_cancel_jump": reading})
    run.run()
    assert statuses(run) == ran
    assert run.execution()["AutomationExecutionStatus"] == "Cancelled"


@pytest.mark.parametrize(("reading", "passes"), [("all", False), ("any", True), ("first", True)])
def test_wait_multiple_values(execute, reading, passes):
    """Selected values [healthy, draining] against DesiredValues [healthy]: all fails, any and first pass."""
    states = {"States": [{"S": "healthy"}, {"S": "draining"}]}
    step = {
        "name": "check",
        "action": "aws:assertAwsResourceProperty",
        "inputs": {
            "Service": "svc",
            "Api": "States",
            "PropertySelector": "$.States[*].S",
            "DesiredValues": ["healthy"],
        },
    }
    run = execute(
        runbook(step),
        aws=fake_aws({("svc", "States"): lambda p: states}),
        readings={"wait_multiple_values": reading},
    )
    assert statuses(run) == [("check", "Success" if passes else "Failed")]


@pytest.mark.parametrize(("reading", "outputs"), [("all", True), ("none", False)])
def test_failed_run_command_outputs(execute, reading, outputs):
    """A failed aws:runCommand step keeps CommandId/Status/Output, or has no outputs at all."""
    fleet = FakeFleet({"i-1": {}}, fail={("Doc", "i-1"): "Failed"})
    step = {
        "name": "run",
        "action": "aws:runCommand",
        "inputs": {"DocumentName": "Doc", "InstanceIds": ["i-1"]},
    }
    run = execute(runbook(step), aws=fleet, readings={"failed_run_command_outputs": reading})
    record = run.step_executions()[0]
    assert record["StepStatus"] == "Failed"
    assert ("Outputs" in record and record["Outputs"]["Status"] == ["Failed"]) is outputs


@pytest.mark.parametrize(("reading", "status"), [("absent", "Success"), ("step-fails", "Failed")])
def test_output_selector_no_match(execute, reading, status):
    """An output whose Selector matches nothing stays unset, or fails the step naming the output."""
    step = note("x", outputs=[{"Name": "Missing", "Selector": "$.Nothing", "Type": "String"}])
    run = execute(runbook(step), aws=fake_aws(), readings={"output_selector_no_match": reading})
    assert statuses(run) == [("x", status)]
    if status == "Failed":
        assert (
            "Output Missing: selector $.Nothing matched nothing" in run.step_executions()[0]["FailureMessage"]
        )


@pytest.mark.parametrize(("reading", "status"), [("accepted", "Success"), ("refused", "Failed")])
def test_run_command_document_version(execute, reading, status):
    """aws:runCommand with DocumentVersion runs, or fails its step without sending the command."""
    fleet = FakeFleet({"i-1": {}})
    step = {
        "name": "run",
        "action": "aws:runCommand",
        "inputs": {"DocumentName": "Doc", "DocumentVersion": "2", "InstanceIds": ["i-1"]},
    }
    run = execute(runbook(step), aws=fleet, readings={"run_command_document_version": reading})
    assert statuses(run) == [("run", status)]
    assert len(fleet.sent()) == (1 if status == "Success" else 0)


BIG_SCRIPT = """
def handler(events, context):
    return {"hosts": [f"i-{n:017x}" for n in range(events["count"])], "blob": "x" * events["size"]}
"""


def _big_script_step(count: int, size: int) -> dict:
    return {
        "name": "big",
        "action": "aws:executeScript",
        "inputs": {
            "Runtime": "python3.11",
            "Handler": "handler",
            "Script": BIG_SCRIPT,
            "InputPayload": {"count": count, "size": size},
        },
        "outputs": [{"Name": "Hosts", "Selector": "$.Payload.hosts", "Type": "StringList"}],
    }


@pytest.mark.parametrize(
    ("reading", "status", "hosts"), [("cut", "Success", 100), ("step-fails", "Failed", None)]
)
def test_script_output_of_more_than_100_items(execute, reading, status, hosts):
    """A list output of 101 items from aws:executeScript ("a maximum of 100 items is returned") keeps its
    first 100, or fails the step naming the output."""
    run = execute(
        runbook(_big_script_step(101, 0)), aws=fake_aws(), readings={"script_output_over_limit": reading}
    )
    record = run.step_executions()[0]
    assert record["StepStatus"] == status
    if hosts is None:
        assert "Output Hosts: a list of 101 items, over the 100" in record["FailureMessage"]
    else:
        assert len(record["Outputs"]["Hosts"]) == hosts


@pytest.mark.parametrize(("reading", "status"), [("cut", "Success"), ("step-fails", "Failed")])
def test_script_output_of_more_than_100_kb(execute, reading, status):
    """A Payload of 150 KB of JSON ("Up to 100KB is returned") is cut at 100,000 bytes, which no selector
    reads into (the output stays unset), or fails the step saying its size; 99 items and 90 KB pass whole."""
    readings = {"script_output_over_limit": reading, "output_selector_no_match": "absent"}
    run = execute(runbook(_big_script_step(3, 150_000)), aws=fake_aws(), readings=readings)
    record = run.step_executions()[0]
    assert record["StepStatus"] == status
    if status == "Failed":
        assert "bytes of JSON, over the 100000 aws:executeScript returns" in record["FailureMessage"]
    else:
        assert "Hosts" not in record.get("Outputs", {})
    run = execute(runbook(_big_script_step(99, 90_000)), aws=fake_aws(), readings=readings)
    assert len(run.step_executions()[0]["Outputs"]["Hosts"]) == 99


def _referencing(step: dict) -> dict:
    """A runbook whose second step reads the first step's CommandId."""
    reader = note("after", inputs={"Service": "svc", "Api": "Note", "Command": "{{ run.CommandId }}"})
    return runbook({**step, "onFailure": "Continue"}, reader)


def _fleet_and_svc() -> FakeFleet:
    """A fake fleet on which Doc fails on i-1, answering svc.Note, svc.Fail and svc.One ({"S": "ok"}) too."""
    fleet = FakeFleet({"i-1": {}}, fail={("Doc", "i-1"): "Failed"})
    two = {"States": [{"S": "healthy"}, {"S": "draining"}]}
    answers = {("svc", "One"): lambda params: {"S": "ok"}, ("svc", "Two"): lambda params: two}
    fleet.handlers.update(fake_aws(answers).handlers)
    return fleet


FAILING_COMMAND = {
    "name": "run",
    "action": "aws:runCommand",
    "inputs": {"DocumentName": "Doc", "InstanceIds": ["i-1"]},
}

PINNED_COMMAND = {**FAILING_COMMAND, "inputs": {**FAILING_COMMAND["inputs"], "DocumentVersion": "2"}}
TWO_VALUES = {
    "name": "check",
    "action": "aws:assertAwsResourceProperty",
    "inputs": {
        "Service": "svc",
        "Api": "Two",
        "PropertySelector": "$.States[*].S",
        "DesiredValues": ["healthy"],
    },
}


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("loop_nested_continue", runbook(loop(failing("try", onFailure="Continue"), note("x"))), "step try"),
        ("loop_nested_jump", runbook(loop(note("x", nextStep="z"), note("y"), note("z"))), "step x"),
        (
            "output_selector_no_match",
            runbook(note("x", outputs=[{"Name": "M", "Selector": "$.No"}])),
            "step x",
        ),
        ("script_output_over_limit", runbook(_big_script_step(101, 0)), "output Hosts"),
        ("failed_run_command_outputs", _referencing(FAILING_COMMAND), "step run"),
        ("run_command_document_version", runbook(PINNED_COMMAND), "step run"),
        ("wait_multiple_values", runbook(TWO_VALUES), "step check"),
    ],
)
def test_a_run_that_reaches_an_open_behaviour_records_the_reading_met(execute, name, content, where):
    """Where the readings would differ, the engine records the row as met, with the reading it played
    and the step: the ledger the scenario tests read to know whether their run depended on a reading."""
    run = execute(content, aws=_fleet_and_svc())
    met = run.readings.met.report()
    assert list(met) == [name]
    assert met[name]["reading"] == DEFAULT[name]
    assert met[name]["where"] == [f"Runbook {where}"]


def test_a_run_that_only_uses_settled_behaviour_meets_no_reading(execute):
    """A loop whose nested steps neither continue nor jump, a failed command nobody reads, a wait on one
    value and a small script meet no open reading: such a run is the same under every setting."""
    wait = {
        "name": "check",
        "action": "aws:assertAwsResourceProperty",
        "inputs": {"Service": "svc", "Api": "One", "PropertySelector": "$.S", "DesiredValues": ["ok"]},
    }
    content = runbook(
        loop(note("x"), note("y")),
        wait,
        _big_script_step(3, 10),
        {**FAILING_COMMAND, "onFailure": "Continue"},
        note("end"),
    )
    run = execute(content, aws=_fleet_and_svc())
    assert [status for _, status in statuses(run)][-2:] == ["Failed", "Success"]
    assert run.readings.met.report() == {}


def test_a_cancel_leading_out_of_a_loop_records_the_reading_met():
    """A cancel reaching a nested step whose onCancel leads out of the loop meets loop_nested_cancel_jump."""
    wait = {"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}, "onCancel": "step:after"}
    after = {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True}
    content = runbook(
        {"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a"], "Steps": [wait]}}, after
    )
    run = cancelling_run(content, after_seconds=2)
    run.run()
    assert run.readings.met.report() == {
        "loop_nested_cancel_jump": {"reading": "jump", "count": 1, "where": ["Runbook step wait"]}
    }
