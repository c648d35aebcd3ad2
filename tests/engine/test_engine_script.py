"""aws:executeScript: the handler runs in a real subprocess; its return value is the Payload output."""

import os
import time
from datetime import UTC, datetime

from engine_helpers import FakeAws, runbook, statuses

SCRIPT = """
import os

def handler(events, context):
    print("working")
    return {"hosts": events["hosts"], "count": len(events["hosts"]), "env": os.environ.get("MARKER"),
            "execution": context["automation:EXECUTION_ID"]}
"""


def script_step(script, **step):
    """An aws:executeScript step named compute that passes the Hosts parameter as events."""
    return {
        "name": "compute",
        "action": "aws:executeScript",
        "inputs": {
            "Runtime": "python3.11",
            "Handler": "handler",
            "Script": script,
            "InputPayload": {"hosts": "{{ Hosts }}"},
        },
        **step,
    }


def test_handler_return_value_is_the_payload(execute):
    """InputPayload arrives as events; selectors on $.Payload pick from the returned value; env is script_env."""
    step = script_step(
        SCRIPT,
        outputs=[
            {"Name": "Count", "Selector": "$.Payload.count", "Type": "Integer"},
            {"Name": "Hosts", "Selector": "$.Payload.hosts", "Type": "StringList"},
            {"Name": "Marker", "Selector": "$.Payload.env", "Type": "String"},
            {"Name": "Execution", "Selector": "$.Payload.execution", "Type": "String"},
        ],
    )
    content = runbook(step, parameters={"Hosts": {"type": "StringList"}}, outputs=["compute.Count"])
    run = execute(content, {"Hosts": ["a", "b"]}, script_env={"MARKER": "from-endpoint", "PATH": os.defpath})
    assert statuses(run) == [("compute", "Success")]
    outputs = run.step_executions()[0]["Outputs"]
    assert outputs["Count"] == ["2"]
    assert outputs["Hosts"] == ["a", "b"]
    assert outputs["Marker"] == ["from-endpoint"]
    assert outputs["Execution"] == ["exec-1"]
    assert run.execution()["Outputs"] == {"compute.Count": ["2"]}


def test_exception_fails_the_step_with_its_text(execute):
    """An exception in the handler fails the step; FailureMessage carries the exception and traceback."""
    script = "def handler(events, context):\n    raise ValueError('no hosts given')\n"
    run = execute(runbook(script_step(script)), {})
    step = run.step_executions()[0]
    assert step["StepStatus"] == "Failed"
    assert "ValueError: no hosts given" in step["FailureMessage"]
    assert "Traceback" in step["FailureMessage"]


def test_missing_handler_fails_the_step(execute):
    """A Handler the script does not define fails the step, naming it."""
    run = execute(runbook(script_step("x = 1\n")))
    assert "handler 'handler' is not defined" in run.step_executions()[0]["FailureMessage"]


def test_step_timeout_kills_the_script(execute):
    """A script running past the step's timeoutSeconds is killed and the step times out."""
    script = "import time\ndef handler(events, context):\n    time.sleep(30)\n"
    started = time.monotonic()
    # The subprocess runs in real time, so this test uses the real clock.
    run = execute(runbook(script_step(script, timeoutSeconds=1)), clock=time.time, sleep=time.sleep)
    assert statuses(run) == [("compute", "TimedOut")]
    assert time.monotonic() - started < 10


def test_non_python_runtime_is_refused(execute):
    """A PowerShell runtime is not supported by the rehearsal; the message names the step."""
    step = script_step("x", inputs={"Runtime": "PowerShell 7.4", "Handler": "h", "Script": "x"})
    run = execute(runbook(step))
    assert "not supported by the rehearsal (step 'compute')" in run.step_executions()[0]["FailureMessage"]


def test_timestamps_from_aws_responses_reach_the_script_as_iso_strings(execute):
    """A MapList output holding botocore datetimes is passed to the script with ISO 8601 strings."""
    launched = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    aws = FakeAws({("ec2", "DescribeInstances"): lambda params: {"Reservations": [{"LaunchTime": launched}]}})
    listing = {
        "name": "list",
        "action": "aws:executeAwsApi",
        "inputs": {"Service": "ec2", "Api": "DescribeInstances"},
        "outputs": [{"Name": "Reservations", "Selector": "$.Reservations", "Type": "MapList"}],
    }
    echo = {
        "name": "echo",
        "action": "aws:executeScript",
        "inputs": {
            "Runtime": "python3.11",
            "Handler": "handler",
            "InputPayload": {"r": "{{ list.Reservations }}"},
            "Script": "def handler(events, context):\n    return events['r'][0]['LaunchTime']\n",
        },
        "outputs": [{"Name": "Launched", "Selector": "$.Payload", "Type": "String"}],
    }
    run = execute(runbook(listing, echo), aws=aws)
    assert run.step_executions()[1]["Outputs"]["Launched"] == ["2026-11-26T10:00:00+00:00"]
