"""The host agent process against a real HTTP server speaking the agent API: SSM's run semantics, end to end."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from releaseflow.rehearsal.host.agent import COMMAND_WORKERS, Host

DEADLINE = 20


class AgentApi:
    """The endpoint's side of the agent API: hands out commands once, records every report."""

    def __init__(self):
        self.condition = threading.Condition()
        self.pending: dict[str, list[dict]] = {}
        self.cancels: dict[str, list[str]] = {}
        self.reports: list[dict] = []
        self.ids = itertools.count(1)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = api.poll(body) if self.path.endswith("/poll") else api.report(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # An agent stopped in the middle of a long poll has gone away: nobody to answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def poll(self, body):
        instance = body["instance_id"]
        with self.condition:
            self.condition.wait_for(
                lambda: self.pending.get(instance) or self.cancels.get(instance),
                timeout=min(body["wait"], 0.5),
            )
            commands, self.pending[instance] = self.pending.get(instance, []), []
            cancels, self.cancels[instance] = self.cancels.get(instance, []), []
        return {"commands": commands, "cancel": cancels}

    def report(self, body):
        with self.condition:
            self.reports.append(body)
            self.condition.notify_all()
        return {}

    def send(self, instance_id, content, parameters=None, timeout_seconds=3600):
        command_id = f"cmd-{next(self.ids)}"
        command = {
            "command_id": command_id,
            "document_name": "test",
            "document_version": "1",
            "content": content,
            "parameters": parameters or {},
            "timeout_seconds": timeout_seconds,
        }
        with self.condition:
            self.pending.setdefault(instance_id, []).append(command)
            self.condition.notify_all()
        return command_id

    def cancel(self, instance_id, command_id):
        with self.condition:
            self.cancels.setdefault(instance_id, []).append(command_id)
            self.condition.notify_all()

    def wait_report(self, command_id, status=None, timeout=DEADLINE):
        """The first report of the command (with that status, or final when none is given)."""

        def found():
            for report in self.reports:
                if report["command_id"] == command_id and (
                    report["status"] == status if status else report["status"] != "InProgress"
                ):
                    return report
            return None

        with self.condition:
            assert self.condition.wait_for(found, timeout=timeout), f"no report for {command_id}"
            return found()


@pytest.fixture
def api():
    server = AgentApi()
    yield server
    server.server.shutdown()


@pytest.fixture
def start_agent(api, tmp_path):
    """Start agent processes for this test; each is stopped with SIGTERM and must exit 0."""
    processes = []

    def start(instance_id="i-test", binds=(), path_prefix=""):
        root = tmp_path / instance_id
        root.mkdir()
        argv = [sys.executable, "-m", "releaseflow.rehearsal.host.agent", "--endpoint", api.url]
        argv += ["--instance-id", instance_id, "--host-root", str(root), "--poll-wait", "1"]
        for source, target in binds:
            argv += ["--bind", f"{source}:{target}"]
        if path_prefix:
            argv += ["--path-prefix", path_prefix]
        log = (tmp_path / f"{instance_id}.log").open("w")
        processes.append(subprocess.Popen(argv, stderr=log))
        return instance_id

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        assert process.wait(timeout=10) == 0


@pytest.fixture
def bind_target():
    """A fresh absolute path for bind mounts; the empty mount point is removed afterwards."""
    target = Path(f"/srv/releaseflow-agent-test-{uuid.uuid4().hex[:8]}")
    yield str(target)
    shutil.rmtree(target, ignore_errors=True)


def shell(*steps, parameters=None):
    """A 2.2 document of aws:runShellScript steps, each (name, lines) or (name, lines, extra inputs)."""
    main_steps = []
    for name, lines, *extra in steps:
        inputs = {"runCommand": lines, **(extra[0] if extra else {})}
        main_steps.append({"action": "aws:runShellScript", "name": name, "inputs": inputs})
    return {"schemaVersion": "2.2", "parameters": parameters or {}, "mainSteps": main_steps}


def run(api, instance_id, content, parameters=None):
    return api.wait_report(api.send(instance_id, content, parameters))


def plugin(report, name):
    return next(p for p in report["plugins"] if p["name"] == name)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; it only waits for its parent to reap it.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


# --- exit codes and control flow ------------------------------------------------------------------


def test_success_reports_in_progress_then_success(api, start_agent):
    """A command is reported InProgress when it starts, then Success with exit 0 and its output."""
    host = start_agent()
    command_id = api.send(host, shell(("hello", ["echo hello"])))
    assert api.wait_report(command_id, "InProgress")["plugins"] == []
    report = api.wait_report(command_id)
    assert (report["status"], report["response_code"]) == ("Success", 0)
    step = plugin(report, "hello")
    assert (step["status"], step["response_code"], step["stdout"], step["output"]) == (
        "Success",
        0,
        "hello\n",
        "hello\n",
    )


def test_failed_step_does_not_stop_later_steps(api, start_agent):
    """Exit 1 fails the step, adds the agent's error line, and the next step still runs."""
    report = run(api, start_agent(), shell(("bad", ["echo oops >&2", "exit 3"]), ("after", ["echo after"])))
    bad, after = plugin(report, "bad"), plugin(report, "after")
    assert (bad["status"], bad["response_code"]) == ("Failed", 3)
    assert bad["stderr"] == "oops\n\nfailed to run commands: exit status 3"
    assert bad["output"] == "\n----------ERROR-------\noops\n\nfailed to run commands: exit status 3"
    assert (after["status"], after["stdout"]) == ("Success", "after\n")
    assert (report["status"], report["response_code"]) == ("Failed", 3)


def test_on_failure_exit_skips_the_rest_but_not_the_finally_step(api, start_agent):
    """onFailure: exit skips later steps, except a finallyStep in last place."""
    content = shell(
        ("bad", ["exit 1"], {"onFailure": "exit"}),
        ("skipped", ["echo never"]),
        ("cleanup", ["echo cleanup"], {"finallyStep": True}),
    )
    report = run(api, start_agent(), content)
    assert plugin(report, "bad")["stdout"].endswith(
        "Step was found to have onFailure property. Further document steps will be skipped."
    )
    skipped = plugin(report, "skipped")
    assert (skipped["status"], skipped["output"]) == (
        "Skipped",
        "Plugin with name aws:runShellScript and id skipped skipped due to prior step with an exit condition",
    )
    assert (plugin(report, "cleanup")["status"], plugin(report, "cleanup")["stdout"]) == (
        "Success",
        "cleanup\n",
    )
    assert report["status"] == "Failed"


def test_success_and_exit_and_on_success_exit(api, start_agent):
    """onFailure: successAndExit turns a failure into Success (code 168); onSuccess: exit skips the rest."""
    host = start_agent()
    rescued = run(
        api, host, shell(("bad", ["exit 2"], {"onFailure": "successAndExit"}), ("later", ["echo x"]))
    )
    bad = plugin(rescued, "bad")
    assert (bad["status"], bad["response_code"], plugin(rescued, "later")["status"]) == (
        "Success",
        168,
        "Skipped",
    )
    assert rescued["status"] == "Success"
    done = run(api, host, shell(("ok", ["true"], {"onSuccess": "exit"}), ("later", ["echo x"])))
    assert [p["status"] for p in done["plugins"]] == ["Success", "Skipped"]


def test_exit_168_succeeds_and_skips_later_steps(api, start_agent):
    """Exit 168 marks the step succeeded, drops its stderr and skips every later step."""
    report = run(
        api,
        start_agent(),
        shell(("stop", ["echo done", "echo noise >&2", "exit 168"]), ("later", ["echo x"])),
    )
    stop = plugin(report, "stop")
    assert (stop["status"], stop["response_code"], stop["stderr"], stop["output"]) == (
        "Success",
        168,
        "",
        "done\n",
    )
    assert (
        stop["stdout"]
        == "done\n\nStep exited with code 168. Therefore, marking step as succeeded. Further document steps will be skipped."
    )
    assert plugin(report, "later")["status"] == "Skipped"
    assert report["status"] == "Success"


def test_exit_169_fails_and_skips_later_steps(api, start_agent):
    """Exit 169 fails the step and skips every later step."""
    report = run(api, start_agent(), shell(("stop", ["exit 169"]), ("later", ["echo x"])))
    stop = plugin(report, "stop")
    assert (stop["status"], stop["response_code"]) == ("Failed", 169)
    assert stop["stderr"].endswith(
        "Step exited with code 169. Therefore, marking step as Failed. Further document steps will be skipped."
    )
    assert plugin(report, "later")["status"] == "Skipped"
    assert (report["status"], report["response_code"]) == ("Failed", 169)


def test_a_script_exiting_137_is_timed_out_and_on_failure_exit_does_not_stop_the_rest(api, start_agent):
    """A script's own exit 137 is reported TimedOut, as the agent's GetStatus does, so `onFailure: exit`
    (which reacts to Failed only) lets the next step run."""
    content = shell(("killed", ["exit 137"]), ("later", ["echo ran"]))
    content["mainSteps"][0]["inputs"]["onFailure"] = "exit"
    report = run(api, start_agent(), content)
    assert (plugin(report, "killed")["status"], plugin(report, "killed")["response_code"]) == (
        "TimedOut",
        137,
    )
    assert plugin(report, "later")["status"] == "Success"


def test_reboot_exit_code_is_refused(api, start_agent):
    """Exit 194 (reboot) fails the step: the rehearsal does not reboot hosts."""
    report = run(api, start_agent(), shell(("reboot", ["exit 194"])))
    step = plugin(report, "reboot")
    assert (step["status"], step["response_code"]) == ("Failed", 194)
    assert "reboot is not supported by the rehearsal" in step["stderr"]


def test_unsupported_action_fails_the_step_by_name(api, start_agent):
    """Actions other than aws:runShellScript fail their step with a message naming it."""
    content = {
        "schemaVersion": "2.2",
        "mainSteps": [
            {"action": "aws:runPowerShellScript", "name": "win", "inputs": {"runCommand": ["dir"]}}
        ],
    }
    report = run(api, start_agent(), content)
    assert (
        plugin(report, "win")["output"]
        == "aws:runPowerShellScript is not supported by the rehearsal (step 'win')"
    )
    assert report["status"] == "Failed"


def test_unmet_precondition_skips_the_step(api, start_agent):
    """A Windows-only step is Skipped on the Linux host; the document still succeeds."""
    content = shell(("lin", ["echo linux"]))
    content["mainSteps"].append(
        {
            "action": "aws:runShellScript",
            "name": "win",
            "precondition": {"StringEquals": ["platformType", "Windows"]},
            "inputs": {"runCommand": ["exit 1"]},
        }
    )
    report = run(api, start_agent(), content)
    assert plugin(report, "win")["status"] == "Skipped"
    assert report["status"] == "Success"


# --- timeouts, cancel, stop -----------------------------------------------------------------------


def test_timeout_kills_the_whole_process_group(api, start_agent, tmp_path):
    """At timeoutSeconds the script and its children get SIGKILL: TimedOut, exit code 137."""
    pid_file = tmp_path / "child.pid"
    lines = [f"sleep 300 & echo $! > {pid_file}", "wait"]
    report = run(api, start_agent(), shell(("slow", lines, {"timeoutSeconds": 5})))
    step = plugin(report, "slow")
    assert (step["status"], step["response_code"], report["status"]) == ("TimedOut", 137, "TimedOut")
    assert not process_alive(int(pid_file.read_text()))


def test_cancel_kills_the_running_script(api, start_agent, tmp_path):
    """A cancel id kills the running script's group: Cancelled with 137, and later steps are Cancelled too."""
    host = start_agent()
    pid_file = tmp_path / "child.pid"
    lines = [f"sleep 300 & echo $! > {pid_file}", "wait"]
    command_id = api.send(host, shell(("slow", lines), ("next", ["echo no"])))
    api.wait_report(command_id, "InProgress")
    deadline = time.monotonic() + DEADLINE
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.cancel(host, command_id)
    report = api.wait_report(command_id)
    assert (plugin(report, "slow")["status"], plugin(report, "slow")["response_code"]) == ("Cancelled", 137)
    assert plugin(report, "next")["status"] == "Cancelled"
    assert report["status"] == "Cancelled"
    assert not process_alive(int(pid_file.read_text()))


def test_cancel_before_start_never_runs_the_command(api, start_agent, tmp_path):
    """A command cancelled while it waits behind the agent's busy workers is reported Cancelled without
    running."""
    host = start_agent()
    marker = tmp_path / "ran"
    busy = [api.send(host, shell(("slow", ["sleep 300"]))) for _ in range(COMMAND_WORKERS)]
    second = api.send(host, shell(("never", [f"touch {marker}"])))
    for command_id in busy:
        api.wait_report(command_id, "InProgress")
    api.cancel(host, second)
    for command_id in busy:
        api.cancel(host, command_id)
    assert {api.wait_report(command_id)["status"] for command_id in busy} == {"Cancelled"}
    report = api.wait_report(second)
    assert (report["status"], report["plugins"]) == ("Cancelled", [])
    assert [r["status"] for r in api.reports if r["command_id"] == second] == ["Cancelled"]
    assert not marker.exists()


def test_sigterm_stops_the_agent_and_kills_its_script(api, tmp_path):
    """SIGTERM makes the agent kill the running script's group and exit 0."""
    root = tmp_path / "host"
    root.mkdir()
    argv = [sys.executable, "-m", "releaseflow.rehearsal.host.agent", "--endpoint", api.url]
    process = subprocess.Popen(
        [*argv, "--instance-id", "i-stop", "--host-root", str(root), "--poll-wait", "1"]
    )
    pid_file = tmp_path / "child.pid"
    api.send("i-stop", shell(("slow", [f"sleep 300 & echo $! > {pid_file}", "wait"])))
    deadline = time.monotonic() + DEADLINE
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert not process_alive(int(pid_file.read_text()))


# --- output ---------------------------------------------------------------------------------------


def test_output_is_truncated_like_the_agent(api, start_agent):
    """stdout keeps 24000 and stderr 8000 characters ending in the suffix; Output stays within 2500."""
    lines = ["head -c 30000 /dev/zero | tr '\\0' o", "head -c 9000 /dev/zero | tr '\\0' e >&2"]
    step = plugin(run(api, start_agent(), shell(("big", lines))), "big")
    assert len(step["stdout"]) == 24000 and step["stdout"].endswith("o--output truncated--")
    assert len(step["stderr"]) == 8000 and step["stderr"].endswith("e--output truncated--")
    assert len(step["output"]) <= 2500
    assert "---Output truncated---\n----------ERROR-------\n" in step["output"]


# --- environment and files ------------------------------------------------------------------------


def test_environment_is_exactly_the_agents(api, start_agent):
    """Scripts see the agent's PATH (with the host's prefix first), LANG, the AWS_SSM_* and SSM_* variables, no HOME."""
    host = start_agent(path_prefix="/opt/host-bin")
    content = shell(
        ("env", ["env"]), parameters={"Revision": {"type": "String", "interpolationType": "ENV_VAR"}}
    )
    command_id = api.send(host, content, {"Revision": ["abc def"]})
    step = plugin(api.wait_report(command_id), "env")
    env = dict(line.split("=", 1) for line in step["stdout"].splitlines())
    assert sorted(env) == [
        "AWS_SSM_INSTANCE_ID",
        "AWS_SSM_PLATFORM_NAME",
        "AWS_SSM_PLATFORM_VERSION",
        "AWS_SSM_REGION_NAME",
        "LANG",
        "PATH",
        "PWD",
        "SSM_COMMAND_ID",
        "SSM_Revision",
    ]
    assert env["PATH"] == "/opt/host-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
    assert (env["AWS_SSM_INSTANCE_ID"], env["SSM_COMMAND_ID"], env["SSM_Revision"]) == (
        host,
        command_id,
        "abc def",
    )


def test_env_var_fallback_line_keeps_the_exported_value(api, start_agent):
    """The old-agent fallback does not override SSM_<Name>; the quoted variable carries the value intact."""
    lines = ['if [ -z "${SSM_Msg+x}" ]; then export SSM_Msg="{{Msg}}"; fi', 'printf "%s" "$SSM_Msg"']
    content = shell(("say", lines), parameters={"Msg": {"type": "String", "interpolationType": "ENV_VAR"}})
    report = run(api, start_agent(), content, {"Msg": ['a; $x "q"']})
    assert plugin(report, "say")["stdout"] == 'a; $x "q"'


def test_working_directory_defaults_to_the_agents(api, start_agent, tmp_path):
    """Without workingDirectory a script runs in /usr/bin; an absolute one is used as given."""
    content = shell(("default", ["pwd"]), ("given", ["pwd"], {"workingDirectory": str(tmp_path)}))
    report = run(api, start_agent(), content)
    assert plugin(report, "default")["stdout"] == "/usr/bin\n"
    assert plugin(report, "given")["stdout"] == f"{tmp_path}\n"


def test_script_file_and_interpreter_line(api, start_agent, tmp_path):
    """The lines become one _script.sh (mode 0700) in the orchestration dir; a #! line picks the interpreter."""
    host = start_agent()
    command_id = api.send(host, shell(("bash", ["#!/bin/bash", 'echo "${BASH_VERSION:+bash}"'])))
    step = plugin(api.wait_report(command_id), "bash")
    assert step["stdout"] == "bash\n"
    script = (
        tmp_path
        / host
        / "var/lib/amazon/ssm"
        / host
        / "document/orchestration"
        / command_id
        / "bash/_script.sh"
    )
    assert script.read_text() == '#!/bin/bash\necho "${BASH_VERSION:+bash}"\n'
    assert script.stat().st_mode & 0o777 == 0o700


def test_parameters_are_interpolated_into_the_script(api, start_agent):
    """{{ Name }} in runCommand gets the parameter value, defaults included."""
    content = shell(
        ("say", ["echo {{ Greeting }} {{Name}}"]),
        parameters={"Greeting": {"type": "String", "default": "hello"}, "Name": {"type": "String"}},
    )
    assert plugin(run(api, start_agent(), content, {"Name": ["world"]}), "say")["stdout"] == "hello world\n"


# --- host isolation -------------------------------------------------------------------------------


@pytest.mark.rehearsal
def test_binds_isolate_hosts_sharing_one_path(api, start_agent, tmp_path, bind_target):
    """Two hosts bind different folders at the same path: each script sees and writes its own."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "name").write_text(name)
    host_a = start_agent("i-a", binds=[(tmp_path / "a", bind_target)])
    host_b = start_agent("i-b", binds=[(tmp_path / "b", bind_target)])
    content = shell(("read", [f"cat {bind_target}/name", f"echo written > {bind_target}/out"]))
    command_a, command_b = api.send(host_a, content), api.send(host_b, content)
    assert plugin(api.wait_report(command_a), "read")["stdout"] == "a"
    assert plugin(api.wait_report(command_b), "read")["stdout"] == "b"
    assert (tmp_path / "a/out").read_text() == (tmp_path / "b/out").read_text() == "written\n"
    assert not (Path(bind_target) / "out").exists()


@pytest.mark.rehearsal
def test_bound_working_directory_is_the_mount(api, start_agent, tmp_path, bind_target):
    """A workingDirectory inside a bind is entered after mounting, so it is the host's folder."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app/marker").write_text("app")
    host = start_agent(binds=[(tmp_path / "app", bind_target)])
    report = run(api, host, shell(("ls", ["cat marker"], {"workingDirectory": bind_target})))
    assert plugin(report, "ls")["stdout"] == "app"


@pytest.mark.rehearsal
def test_daemonized_child_survives_in_the_hosts_namespace(api, start_agent, tmp_path, bind_target):
    """A setsid daemon outlives its script and still sees the host's mounts."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app/name").write_text("mine")
    host = start_agent(binds=[(tmp_path / "app", bind_target)])
    daemon = f"sleep 1; cat {bind_target}/name > {bind_target}/seen"
    lines = [f"setsid sh -c '{daemon}' </dev/null >/dev/null 2>&1 &", "echo started"]
    report = run(api, host, shell(("start", lines)))
    assert plugin(report, "start")["status"] == "Success"
    seen = tmp_path / "app/seen"
    deadline = time.monotonic() + DEADLINE
    while not seen.exists() or not seen.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert seen.read_text() == "mine"


@pytest.mark.rehearsal
def test_a_host_command_and_its_shell_line_run_the_same(tmp_path, bind_target):
    """Host.command run directly and as its shell() line (the Ansible peer's wrappers) see the same mount,
    working directory and environment, and nothing of the caller's."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app/name").write_text("mine")
    host = Host(
        "i-1", tmp_path / "agent", binds=((str(tmp_path / "app"), bind_target),), path_prefix="/opt/x"
    )
    probe = ["sh", "-c", 'cat name; echo " $(pwd)"; env | sort']
    command = host.command(probe, "c-1", {"SSM_Name": "a b"}, working_directory=bind_target)
    direct = subprocess.run(
        command.argv, cwd=command.cwd, env=command.environment, capture_output=True, text=True, check=True
    ).stdout
    environment = {**os.environ, "CALLER_ONLY": "1"}
    line = subprocess.run(
        ["sh", "-c", command.shell()], env=environment, capture_output=True, text=True, check=True
    ).stdout
    assert direct == line
    assert direct.startswith(f"mine {bind_target}\n")
    assert "SSM_Name=a b\n" in direct and "PATH=/opt/x:/usr/local/sbin" in direct
    assert "CALLER_ONLY" not in line and "OLDPWD" not in line


# --- the agent's workers and its pipes -------------------------------------------------------------


def test_up_to_five_commands_run_at_once_and_the_sixth_waits(api, start_agent, tmp_path):
    """The agent runs COMMAND_WORKERS (5, appconfig's DefaultCommandWorkersLimit) documents at once on a
    host; one more starts only when one of them ends."""
    host = start_agent()
    started = tmp_path / "started"
    started.mkdir()
    gate = tmp_path / "gate"
    lines = [f"touch {started}/$$", f"while [ ! -e {gate} ]; do sleep 0.05; done"]
    commands = [api.send(host, shell(("wait", lines))) for _ in range(COMMAND_WORKERS + 1)]
    deadline = time.monotonic() + DEADLINE
    while len(list(started.iterdir())) < COMMAND_WORKERS:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert len(list(started.iterdir())) == COMMAND_WORKERS
    gate.touch()
    assert {api.wait_report(command_id)["status"] for command_id in commands} == {"Success"}
    assert len(list(started.iterdir())) == COMMAND_WORKERS + 1


def test_a_background_child_holding_the_output_holds_the_step_until_its_timeout(api, start_agent):
    """Output comes through pipes, as the agent's: a child left in the background with the script's
    stdout keeps the step running until its timeoutSeconds (TimedOut, 137); one that lets go of it
    (a daemon's own log) does not."""
    host = start_agent()
    held = api.send(host, shell(("held", ["sleep 300 &", "echo done"], {"timeoutSeconds": 5})))
    freed = api.send(
        host, shell(("freed", ["sleep 300 >/dev/null 2>&1 &", "echo done"], {"timeoutSeconds": 5}))
    )
    report = api.wait_report(freed, timeout=4)
    assert (report["status"], plugin(report, "freed")["stdout"]) == ("Success", "done\n")
    report = api.wait_report(held)
    step = plugin(report, "held")
    assert (step["status"], step["response_code"], step["stdout"]) == ("TimedOut", 137, "done\n")


def test_the_agent_replies_after_each_step(api, start_agent):
    """After a step that is not the last, the agent sends an InProgress reply carrying that step's result,
    as the agent replies per plugin; the final report carries every step."""
    host = start_agent()
    command_id = api.send(host, shell(("first", ["echo one"]), ("second", ["sleep 1", "echo two"])))
    final = api.wait_report(command_id)
    progress = [r for r in api.reports if r["command_id"] == command_id and r["plugins"] and r is not final]
    assert [(r["status"], [p["name"] for p in r["plugins"]]) for r in progress] == [("InProgress", ["first"])]
    assert plugin(progress[0], "first")["stdout"] == "one\n"
    assert [p["stdout"] for p in final["plugins"]] == ["one\n", "two\n"]
