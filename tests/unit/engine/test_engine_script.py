"""aws:executeScript: each handler runs in its own process, forked by the warm worker; it returns the Payload."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from engine_helpers import FakeAws, runbook, statuses
from releaseflow.rehearsal.engine.actions import script as script_module
from releaseflow.rehearsal.engine.automation import AutomationRun

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


def plain_step(name, script, outputs=(), **step):
    """An aws:executeScript step without input, its Payload read by (name, selector) outputs as Strings."""
    return {
        "name": name,
        "action": "aws:executeScript",
        "inputs": {"Runtime": "python3.11", "Handler": "handler", "Script": script, **step.pop("inputs", {})},
        "outputs": [{"Name": output, "Selector": selector, "Type": "String"} for output, selector in outputs],
        **step,
    }


def running(pid):
    """Whether process `pid` runs (a zombie, killed and not yet reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for(predicate, seconds=10.0):
    """Poll `predicate` until it is true or `seconds` pass; its last value."""
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


# Starts `sleep 60` in the background, records its pid in events["pidfile"], then waits a minute itself.
STARTS_A_PROCESS = """
import subprocess
import time

def handler(events, context):
    child = subprocess.Popen(["sleep", "60"])
    with open(events["pidfile"], "w") as file:
        file.write(str(child.pid))
    time.sleep(60)
"""


def real_run(content, script_env=None):
    """An AutomationRun on the real clock (scripts are real processes), not yet started."""
    return AutomationRun(
        "exec-1",
        "Runbook",
        "1",
        content,
        {},
        aws=FakeAws(),
        script_env={"PATH": os.defpath} if script_env is None else script_env,
        clock=time.time,
        sleep=time.sleep,
    )


def test_each_script_runs_in_a_fresh_process_that_sees_nothing_of_the_one_before(execute):
    """A module attribute, a builtin, a global and an env var set by one script are unseen by the next."""
    setter = """
import builtins
import os
import boto3

LEFT = "script one"

def handler(events, context):
    boto3.LEFT = builtins.LEFT = os.environ["LEFT"] = "by script one"
    return str(os.getpid())
"""
    getter = """
import builtins
import os
import boto3

def handler(events, context):
    seen = [getattr(boto3, "LEFT", "-"), getattr(builtins, "LEFT", "-"), os.environ.get("LEFT", "-"),
            globals().get("LEFT", "-")]
    return {"seen": ",".join(seen), "pid": str(os.getpid())}
"""
    pid = [("Pid", "$.Payload")]
    run = execute(
        runbook(
            plain_step("one", setter, pid),
            plain_step("two", getter, [("Seen", "$.Payload.seen"), ("Pid", "$.Payload.pid")]),
        )
    )
    assert statuses(run) == [("one", "Success"), ("two", "Success")]
    one, two = (step["Outputs"] for step in run.step_executions())
    assert two["Seen"] == ["-,-,-,-"]
    assert len({one["Pid"][0], two["Pid"][0], str(os.getpid())}) == 3


def test_concurrent_executions_each_give_their_scripts_their_own_environment(tmp_path):
    """Two executions at once with different script_env: each script sees its own variables, not the other's."""
    # Each script waits for the other's file: both succeed only if the worker runs them side by side.
    script = """
import os
import pathlib
import time

def handler(events, context):
    pathlib.Path(events["mine"]).touch()
    deadline = time.monotonic() + 10
    while not os.path.exists(events["other"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.environ.get("MARKER", "-") + "," + os.environ.get("ONLY_ONE", "-") + "," + str(
        os.path.exists(events["other"])
    )
"""
    files = [str(tmp_path / "one"), str(tmp_path / "two")]
    runs = [
        real_run(
            runbook(plain_step("env", script, [("Seen", "$.Payload")], inputs={"InputPayload": payload})), env
        )
        for env, payload in (
            ({"MARKER": "one", "ONLY_ONE": "yes"}, {"mine": files[0], "other": files[1]}),
            ({"MARKER": "two"}, {"mine": files[1], "other": files[0]}),
        )
    ]
    threads = [threading.Thread(target=run.run) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    seen = [run.step_executions()[0]["Outputs"]["Seen"] for run in runs]
    assert seen == [["one,yes,True"], ["two,-,True"]]


def test_cancel_kills_the_script_and_the_process_it_started(tmp_path):
    """A cancel while a script runs: the step ends Cancelled and the process the script started is killed."""
    pidfile = tmp_path / "pid"
    step = plain_step("compute", STARTS_A_PROCESS, inputs={"InputPayload": {"pidfile": str(pidfile)}})
    run = real_run(runbook(step))
    thread = threading.Thread(target=run.run)
    thread.start()
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text())
    started = int(pidfile.read_text())
    assert running(started)
    run.cancel()
    thread.join(10)
    assert statuses(run) == [("compute", "Cancelled")]
    assert wait_for(lambda: not running(started), 5)


def test_step_timeout_kills_the_script_and_the_process_it_started(tmp_path):
    """A script past the step's timeoutSeconds is killed with what it started; the step times out."""
    pidfile = tmp_path / "pid"
    step = plain_step("compute", STARTS_A_PROCESS, inputs={"InputPayload": {"pidfile": str(pidfile)}})
    started = time.monotonic()
    run = real_run(runbook({**step, "timeoutSeconds": 1}))
    run.run()
    assert statuses(run) == [("compute", "TimedOut")]
    assert time.monotonic() - started < 10
    assert wait_for(lambda: not running(int(pidfile.read_text())), 5)


def test_a_script_past_the_aws_maximum_times_out_naming_it(monkeypatch):
    """Without timeoutSeconds a script is stopped at aws:executeScript's maximum (600 s; 0.3 s here)."""
    monkeypatch.setattr(script_module, "MAX_SECONDS", 0.3)
    run = real_run(
        runbook(plain_step("compute", "import time\ndef handler(events, context):\n    time.sleep(30)\n"))
    )
    run.run()
    step = run.step_executions()[0]
    assert step["StepStatus"] == "TimedOut"
    assert "longer than the maximum of 0.3 seconds" in step["FailureMessage"]


def test_a_script_process_that_ends_early_fails_the_step_with_its_stderr(execute):
    """A script that ends its own process (os._exit) fails the step, quoting what it wrote on stderr."""
    script = "import os\ndef handler(events, context):\n    os.write(2, b'going away')\n    os._exit(3)\n"
    step = execute(runbook(plain_step("compute", script))).step_executions()[0]
    assert step["StepStatus"] == "Failed"
    assert "The script process ended early: going away" in step["FailureMessage"]


def test_a_failing_script_keeps_what_it_printed_and_sys_exit_is_a_failure(execute):
    """sys.exit in a handler fails the step as SystemExit; what it printed is the step's ExecutionLog."""
    script = "import sys\ndef handler(events, context):\n    print('half way')\n    sys.exit(4)\n"
    step = execute(runbook(plain_step("compute", script))).step_executions()[0]
    assert step["StepStatus"] == "Failed"
    assert "SystemExit: 4" in step["FailureMessage"]
    assert step["FailureDetails"]["Details"]["ExecutionLog"] == ["half way\n"]


def test_a_dead_worker_is_replaced_at_the_next_script(execute):
    """When the script worker has died (killed here), the next script starts a new one and succeeds."""
    script = "def handler(events, context):\n    return 'ran'\n"
    assert statuses(execute(runbook(plain_step("first", script)))) == [("first", "Success")]
    dead = script_module.WORKER.pid
    os.kill(dead, signal.SIGKILL)
    assert wait_for(lambda: not running(dead), 5)
    assert statuses(execute(runbook(plain_step("second", script)))) == [("second", "Success")]
    assert script_module.WORKER.pid not in (None, dead)


# The engine's process in the next test: starts the worker, prints its pid, runs STARTS_A_PROCESS.
OWNER = """
import json, sys, time
sys.path[:0] = sys.argv[1].split(":")
from engine_helpers import FakeAws, runbook
from releaseflow.rehearsal.engine.actions.script import WORKER
from releaseflow.rehearsal.engine.automation import AutomationRun
WORKER.start()
print(WORKER.pid, flush=True)
step = json.loads(sys.argv[2])
AutomationRun("exec-1", "Runbook", "1", runbook(step), {}, aws=FakeAws(), script_env={"PATH": sys.argv[3]},
              clock=time.time, sleep=time.sleep).run()
"""


def test_the_worker_and_its_scripts_end_with_the_process_that_owns_it(tmp_path):
    """SIGKILL of the engine's process: its worker kills the running script, what that started, removes
    the script's scratch directory, and exits."""
    pidfile = tmp_path / "pid"
    # The engine's scratch directories, where only this engine makes them.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    step = plain_step("compute", STARTS_A_PROCESS, inputs={"InputPayload": {"pidfile": str(pidfile)}})
    # engine_helpers, and tests/support that it imports from.
    helpers = f"{Path(__file__).parent}:{Path(__file__).parents[2] / 'support'}"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, helpers, json.dumps(step), os.defpath],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        worker = int(owner.stdout.readline())
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text())
        started = int(pidfile.read_text())
        assert running(worker) and running(started)
        assert [path.name[:19] for path in scratch.iterdir()] == ["releaseflow-script-"]
    finally:
        owner.kill()
        owner.wait()
    assert wait_for(lambda: not running(worker) and not running(started), 5)
    assert list(scratch.iterdir()) == []


def test_a_script_runs_in_the_engines_working_directory(execute, tmp_path, monkeypatch):
    """The child runs where the engine is now, as a subprocess of the engine did, not where the worker began."""
    script_module.WORKER.start()  # it began elsewhere, in the directory pytest runs in
    monkeypatch.chdir(tmp_path)
    script = "import os\ndef handler(events, context):\n    return os.getcwd()\n"
    run = execute(runbook(plain_step("where", script, [("Cwd", "$.Payload")])))
    assert run.step_executions()[0]["Outputs"]["Cwd"] == [str(tmp_path)]
