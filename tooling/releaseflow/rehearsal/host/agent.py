"""The host agent of the rehearsal: polls the endpoint and runs Command documents as the SSM agent does."""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from releaseflow.errors import ReleaseflowError
from releaseflow.rehearsal.command_document import Plugin, plan_plugins, resolve_parameters
from releaseflow.rehearsal.host import cloudwatch_output, shell_runner
from releaseflow.ssm import SHELL_PLUGIN

log = logging.getLogger("releaseflow.rehearsal.host.agent")

# The environment the SSM agent has under systemd, which its scripts inherit.
AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
AGENT_LANG = "C.UTF-8"
# The agent's working directory under systemd, hence the scripts' default one.
DEFAULT_WORKING_DIRECTORY = "/usr/bin"
# Exit codes the agent gives a meaning (appconfig): stop with success / with failure, reboot.
EXIT_WITH_SUCCESS, EXIT_WITH_FAILURE, REBOOT = 168, 169, 194
FURTHER_SKIPPED = "Further document steps will be skipped."
# Document status from plugin statuses, highest first (contracts.DocumentResultAggregator).
STATUS_PRIORITY = ("SuccessAndReboot", "Failed", "TimedOut", "Cancelled", "Success")
# appconfig DefaultCommandRetryLimit: processor.go processInProgressDocuments takes a document that was in
# progress when the agent stopped up again while its RunCount is below this, else moves it to `corrupt`.
COMMAND_RETRY_LIMIT = 15
# Plugin statuses RunPlugins executes again on a resumed document; any other is kept as it is.
UNFINISHED = ("NotStarted", "InProgress")
# outofproc/master.go's message when the document worker went away without a result.
WORKER_LOST = (
    "document process failed unexpectedly: the worker of step {step} exited without a result, "
    "check [ssm-document-worker] log for crash reason"
)


@dataclass(frozen=True)
class Host:
    """What makes this agent's host: its id, its directories, and its differences from a real host."""

    instance_id: str
    root: Path
    region: str = "us-east-1"
    binds: tuple[tuple[str, str], ...] = ()
    path_prefix: str = ""
    # platformType, which preconditions test; the name and version are the OS's (os-release).
    platform_type: str = "Linux"
    platform_name: str = "Linux"
    platform_version: str = ""

    def environment(self, command_id: str, extra: dict[str, str]) -> dict[str, str]:
        """The exact environment of a script: the agent's own plus what it adds per command."""
        path = f"{self.path_prefix}:{AGENT_PATH}" if self.path_prefix else AGENT_PATH
        return {
            "PATH": path,
            "LANG": AGENT_LANG,
            "AWS_SSM_INSTANCE_ID": self.instance_id,
            "AWS_SSM_REGION_NAME": self.region,
            "AWS_SSM_PLATFORM_NAME": self.platform_name,
            "AWS_SSM_PLATFORM_VERSION": self.platform_version,
            # Provisioning runs as the host but not from a command: it has no command id.
            **({"SSM_COMMAND_ID": command_id} if command_id else {}),
            **extra,
        }

    def command(
        self,
        argv: list[str],
        command_id: str,
        extra: dict[str, str] | None = None,
        working_directory: str = DEFAULT_WORKING_DIRECTORY,
    ) -> shell_runner.HostCommand:
        """`argv` as this host's agent runs a script: its environment, its mounts, `working_directory`.

        The one way anything runs on a rehearsal host: the agent's plugins, provisioning, the Ansible
        peer's tasks and the document tests.
        """
        return shell_runner.host_command(
            argv,
            working_directory=working_directory,
            environment=self.environment(command_id, extra or {}),
            binds=self.binds,
        )

    def script_command(self, plugin: Plugin, script: Path, command_id: str) -> shell_runner.HostCommand:
        """How the agent runs a plugin's written `_script.sh`: `sh -c` in the plugin's working directory
        (an absolute workingDirectory, else the agent's own), with the plugin's SSM_ variables."""
        working_directory = plugin.inputs.get("workingDirectory")
        # A relative workingDirectory names a folder of downloaded content, which the rehearsal never has.
        if not isinstance(working_directory, str) or not working_directory.startswith("/"):
            working_directory = DEFAULT_WORKING_DIRECTORY
        return self.command(["sh", "-c", str(script)], command_id, plugin.environment, working_directory)

    def orchestration_dir(self, command_id: str, step: str) -> Path:
        """Where the agent writes a step's `_script.sh`, stdout and stderr."""
        base = self.root / "var/lib/amazon/ssm" / self.instance_id / "document/orchestration"
        return base / command_id / step

    def state_dir(self, folder: str) -> Path:
        """The agent's document state folder `current`, `completed` or `corrupt` (appconfig)."""
        return self.root / "var/lib/amazon/ssm" / self.instance_id / "document/state" / folder


@dataclass
class CommandState:
    """The agent's state file of one command (document/state/current/<command id>), written as its plugins
    start and end, so that an agent started again takes the command up where it was.

    `plugins[i]` is `{"status", "result", "worker"}`: NotStarted/InProgress (with the worker that runs it)
    or the plugin's final result."""

    path: Path
    command: dict
    start: str
    run_count: int = 0
    plugins: list[dict] = field(default_factory=list)

    @classmethod
    def create(cls, host: Host, command: dict, start: str) -> CommandState:
        state = cls(host.state_dir("current") / command["command_id"], command, start)
        state.save()
        return state

    @classmethod
    def load(cls, path: Path) -> CommandState:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, saved["command"], saved["start"], int(saved.get("run_count", 0)), saved["plugins"])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "command": self.command,
            "start": self.start,
            "run_count": self.run_count,
            "plugins": self.plugins,
        }
        partial = self.path.with_name(self.path.name + ".part")
        partial.write_text(json.dumps(body), encoding="utf-8")
        partial.replace(self.path)

    def saved(self, index: int) -> dict:
        return self.plugins[index] if index < len(self.plugins) else {"status": "NotStarted"}

    def record(
        self, index: int, name: str, status: str, result: StepResult | None = None, worker: dict | None = None
    ) -> None:
        while len(self.plugins) <= index:
            self.plugins.append({"status": "NotStarted"})
        self.plugins[index] = {
            "name": name,
            "status": status,
            "result": result.as_report() if result else None,
            "worker": worker,
        }
        self.save()

    def move(self, folder: str) -> None:
        """Move the file to `completed` (the command ended) or `corrupt` (past the retry limit)."""
        target = self.path.parent.parent / folder / self.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path.replace(target)
        self.path = target


@dataclass(frozen=True)
class StepResult:
    """One plugin's result as the agent reports it (outputs already cut to SSM's limits)."""

    name: str
    status: str
    response_code: int
    start: str
    end: str
    output: str = ""
    stdout: str = ""
    stderr: str = ""

    def as_report(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "response_code": self.response_code,
            "start": self.start,
            "end": self.end,
            "output": self.output,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


def now() -> str:
    """ISO 8601 UTC with milliseconds, as the agent's reports carry them."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_command(
    command: dict,
    host: Host,
    cancel: threading.Event,
    progress: Callable[[dict], None] = lambda _: None,
    logs=None,
    state: CommandState | None = None,
    stopping: threading.Event | None = None,
) -> dict | None:
    """Run one command from the endpoint to the end and return its final report; `progress` gets an
    InProgress report after each plugin that is not the last, as the agent replies per plugin.

    With CloudWatchOutputConfig enabled, each plugin's whole stdout and stderr go to that group through
    `logs` (a CloudWatch Logs client) before its result is reported, as the agent waits for its upload.

    With a `state` the command's progress is saved as plugins start and end, and a state saved by an
    agent before this one is resumed as RunPlugins does: a plugin that ended keeps its result; one that
    had not started runs; one in progress is waited for if its worker still runs (outofproc's orphan
    worker), else it fails as outofproc reports a lost worker. None when `stopping` is set while a worker
    runs: the agent goes away and leaves the command to the next one.
    """
    command_id = command["command_id"]
    output_config = cloudwatch_output.OutputConfig.from_request(
        command.get("cloudwatch_output"), command.get("document_name", "")
    )
    start = state.start if state else now()
    stopping = stopping or threading.Event()
    try:
        resolved = resolve_parameters(command["content"], command.get("parameters") or {})
        plugins = plan_plugins(command["content"], resolved, host.platform_type)
    except ReleaseflowError as error:
        failed = StepResult("", "Failed", 1, start, now(), output=str(error), stderr=str(error))
        return _report(host, command_id, "Failed", 1, start, [failed])
    results: list[StepResult] = []
    for index, plugin in enumerate(plugins):
        saved: dict = state.saved(index) if state else {"status": "NotStarted"}
        if saved["status"] not in UNFINISHED:
            # runpluginutil.RunPlugins: "already executed, skipping": the result stands, sent already.
            results.append(StepResult(**saved["result"]))
            continue
        run = _Run(host, command_id, cancel, stopping, state, index, saved.get("worker"))
        result = _run_plugin(plugin, index, plugins, results, run)
        if result is None:
            return None
        if state:
            state.record(index, plugin.name, result.status, result)
        results.append(result)
        if logs is not None:
            folder = host.orchestration_dir(command_id, plugin.name)
            cloudwatch_output.publish(logs, output_config, command_id, host.instance_id, plugin.name, folder)
        if index < len(plugins) - 1:
            progress(_report(host, command_id, "InProgress", 0, start, results))
    status = document_status([result.status for result in results])
    return _report(host, command_id, status, response_code(status, results), start, results)


def _report(
    host: Host, command_id: str, status: str, code: int, start: str, results: list[StepResult]
) -> dict:
    return {
        "instance_id": host.instance_id,
        "command_id": command_id,
        "status": status,
        "response_code": code,
        "start": start,
        "end": now(),
        "plugins": [result.as_report() for result in results],
    }


def _corrupt_report(host: Host, state: CommandState) -> dict:
    """A command past the retry limit: its kept results, every other plugin Failed."""
    message = (
        f"in progress when the agent stopped, already taken up {state.run_count} times "
        f"(CommandRetryLimit {COMMAND_RETRY_LIMIT}): moved to corrupt"
    )
    results = [
        StepResult(**p["result"])
        if p["status"] not in UNFINISHED
        else StepResult(p.get("name", ""), "Failed", 1, state.start, now(), output=message, stderr=message)
        for p in state.plugins
    ] or [StepResult("", "Failed", 1, state.start, now(), output=message, stderr=message)]
    return _report(host, state.command["command_id"], "Failed", 1, state.start, results)


def document_status(statuses: list[str]) -> str:
    """The document's status from its plugins' (Skipped counts as Success)."""
    for status in STATUS_PRIORITY:
        if status in statuses:
            return status
    return "Success"


def response_code(status: str, results: list[StepResult]) -> int:
    """The invocation's code: that of the last plugin with the document's status (unverified rule)."""
    for result in reversed(results):
        if result.status == status:
            return result.response_code
    return 0


def _skipped_by_control_flow(index: int, plugins: list[Plugin], results: list[StepResult]) -> bool:
    """The agent's getShouldPluginSkipBasedOnControlFlow: an earlier step ended the document."""
    plugin = plugins[index]
    if plugin.finally_step and index == len(plugins) - 1:
        return False
    for earlier, result in zip(plugins, results, strict=False):
        if result.response_code in (EXIT_WITH_SUCCESS, EXIT_WITH_FAILURE):
            return True
        if result.status == "Failed" and earlier.on_failure == "exit":
            return True
        if result.status == "Success" and earlier.on_success == "exit":
            return True
    return False


@dataclass(frozen=True)
class _Run:
    """What running one plugin needs besides the plugin: the host, the command, its cancel, the agent's
    stopping, and the state it is saved in (with the worker an earlier agent left running it)."""

    host: Host
    command_id: str
    cancel: threading.Event
    stopping: threading.Event
    state: CommandState | None = None
    index: int = 0
    worker: dict | None = None


def _run_plugin(
    plugin: Plugin, index: int, plugins: list[Plugin], results: list[StepResult], run: _Run
) -> StepResult | None:
    start = now()
    cancel = run.cancel
    if _skipped_by_control_flow(index, plugins, results):
        reason = (
            f"Plugin with name {plugin.action} and id {plugin.name} "
            "skipped due to prior step with an exit condition"
        )
        return StepResult(plugin.name, "Skipped", 0, start, now(), output=reason)
    if plugin.skip_reason:
        return StepResult(plugin.name, "Skipped", 0, start, now(), output=plugin.skip_reason)
    if plugin.fail_reason:
        return StepResult(plugin.name, "Failed", 1, start, now(), output=plugin.fail_reason)
    if plugin.action != SHELL_PLUGIN:
        message = f"{plugin.action} is not supported by the rehearsal (step '{plugin.name}')"
        return StepResult(plugin.name, "Failed", 1, start, now(), output=message, stderr=message)
    if cancel.is_set():
        return StepResult(plugin.name, "Cancelled", 1, start, now())
    lines = plugin.inputs.get("runCommand")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        message = (
            f"Invalid format in plugin properties {plugin.inputs};\nerror runCommand is not a list of strings"
        )
        return StepResult(plugin.name, "Failed", 1, start, now(), output=message, stderr=message)
    return _run_shell(plugin, lines, run, start)


def _run_shell(plugin: Plugin, lines: list[str], run: _Run, start: str) -> StepResult | None:
    """Run the plugin's script in a worker of its own (or wait for the one an earlier agent started)."""
    directory = run.host.orchestration_dir(run.command_id, plugin.name)
    child = None
    if run.worker is not None:
        worker = shell_runner.Worker(int(run.worker["pid"]), int(run.worker["start_time"]))
        log.info(
            "%s: step %s: waiting for the worker %d left running", run.command_id, plugin.name, worker.pid
        )
    else:
        script = directory / "_script.sh"
        shell_runner.write_script(script, lines)
        worker, child = shell_runner.start_worker(
            run.host.script_command(plugin, script, run.command_id),
            timeout_seconds=shell_runner.execution_timeout(plugin.inputs.get("timeoutSeconds")),
            output_dir=directory,
        )
        if run.state:
            run.state.record(run.index, plugin.name, "InProgress", worker=worker.as_json())
    result = shell_runner.wait_worker(worker, directory, run.cancel, run.stopping, child)
    if result is None:
        if run.stopping.is_set() and not run.cancel.is_set():
            return None
        message = WORKER_LOST.format(step=plugin.name)
        return StepResult(plugin.name, "Failed", 1, start, now(), output=message, stderr=message)
    return _shell_result(plugin, result, start)


def _append(text: str, message: str) -> str:
    # The agent's AppendError: a new line first when there is already text.
    return f"{text}\n{message}" if text else message


def _shell_result(plugin: Plugin, result: shell_runner.ScriptResult, start: str) -> StepResult:
    """Status, code and outputs of a finished script, with the agent's messages and cuts."""
    code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    if result.cancelled:
        status = "Cancelled"
    elif result.timed_out or code == shell_runner.KILLED_EXIT_CODE:
        # pluginutil_unix.go GetStatus: a script's own exit 137 is the agent's "stopped preemptively"
        # code, reported TimedOut (not Failed: onFailure: exit does not react to it).
        status = "TimedOut"
    elif code == 0:
        status = "Success"
    else:
        status = "Failed"
        stderr = _append(stderr, f"failed to run commands: {result.error}")
        if code == REBOOT:
            stderr = _append(stderr, "reboot is not supported by the rehearsal")
    # The plugin Output is made before the control-flow notes below; exit 168 drops stderr from it.
    output = shell_runner.plugin_output(stdout, "" if code == EXIT_WITH_SUCCESS else stderr)
    if code == EXIT_WITH_SUCCESS:
        status, stderr = "Success", ""
        stdout += f"\nStep exited with code 168. Therefore, marking step as succeeded. {FURTHER_SKIPPED}"
    elif code == EXIT_WITH_FAILURE:
        note = f"\nStep exited with code 169. Therefore, marking step as Failed. {FURTHER_SKIPPED}"
        stdout, stderr = stdout + note, stderr + note
    elif status == "Failed" and plugin.on_failure in ("exit", "successAndExit"):
        note = f"\nStep was found to have onFailure property. {FURTHER_SKIPPED}"
        stdout, stderr = stdout + note, stderr + note
        if plugin.on_failure == "successAndExit":
            status, code = "Success", EXIT_WITH_SUCCESS
    return StepResult(
        name=plugin.name,
        status=status,
        response_code=code,
        start=start,
        end=now(),
        output=output,
        stdout=shell_runner.prefix(stdout, shell_runner.MAX_STDOUT),
        stderr=shell_runner.prefix(stderr, shell_runner.MAX_STDERR),
    )


# --- the polling loop -----------------------------------------------------------------------------


def post_json(url: str, body: dict, timeout: float) -> dict:
    """POST a JSON body and return the JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


# appconfig DefaultCommandWorkersLimit: the agent runs up to 5 documents at once on a host.
COMMAND_WORKERS = 5


@dataclass
class Agent:
    """One host's agent: a poller that queues commands and COMMAND_WORKERS workers that run them."""

    endpoint: str
    host: Host
    poll_wait: float = 20
    post: Callable[[str, dict, float], dict] = post_json
    # A CloudWatch Logs client of the endpoint, for commands sent with CloudWatchOutputConfig.
    logs: object = None
    stopping: threading.Event = field(default_factory=threading.Event)
    _queue: queue.Queue = field(default_factory=queue.Queue)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cancelled: set = field(default_factory=set)
    # The commands running now, each with the event that cancels it.
    _running: dict[str, threading.Event] = field(default_factory=dict)
    workers: int = COMMAND_WORKERS
    # One per agent process: the endpoint tells a restarted agent from one that was merely silent.
    session: str = field(default_factory=lambda: uuid.uuid4().hex)

    def poll_forever(self) -> None:
        """Long-poll the endpoint until stopped; commands go to the worker, cancels to what they name."""
        while not self.stopping.is_set():
            try:
                answer = self.post(
                    f"{self.endpoint}/_rehearsal/agent/poll",
                    {"instance_id": self.host.instance_id, "wait": self.poll_wait, "session": self.session},
                    self.poll_wait + 10,
                )
            except (OSError, ValueError) as error:
                log.warning("poll failed: %s", error)
                self.stopping.wait(1)
                continue
            for command_id in answer.get("cancel") or []:
                self.cancel(command_id)
            for command in answer.get("commands") or []:
                log.info("received %s (%s)", command["command_id"], command.get("document_name"))
                self._queue.put(command)

    def cancel(self, command_id: str) -> None:
        """Kill the command if it runs, or drop it before it starts."""
        with self._lock:
            self._cancelled.add(command_id)
            if command_id in self._running:
                log.info("cancelling %s", command_id)
                self._running[command_id].set()

    def work_forever(self) -> None:
        """Run queued commands one at a time until stopped (the agent runs `workers` of these)."""
        while not self.stopping.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            command, state = item if isinstance(item, tuple) else (item, None)
            self.run_one(command, state)

    def resume_in_progress(self) -> None:
        """processor.go processInProgressDocuments: every command in `current` (in progress when the
        agent before this one stopped) is run again with its RunCount incremented, where it was; one
        already taken up COMMAND_RETRY_LIMIT times goes to `corrupt` (reported Failed here)."""
        folder = self.host.state_dir("current")
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            if path.name.endswith(".part"):
                continue
            try:
                state = CommandState.load(path)
            except (OSError, ValueError, KeyError) as error:
                log.error("unreadable state %s: %s", path, error)
                continue
            if state.run_count >= COMMAND_RETRY_LIMIT:
                log.warning("%s: taken up %d times already: moved to corrupt", path.name, state.run_count)
                state.move("corrupt")
                self._send(_corrupt_report(self.host, state))
                continue
            state.run_count += 1
            state.save()
            log.info("resuming %s (run %d)", path.name, state.run_count)
            self._queue.put((state.command, state))

    def run_one(self, command: dict, state: CommandState | None = None) -> None:
        """Report InProgress, run, report the end; a command cancelled before it starts is just Cancelled."""
        command_id = command["command_id"]
        cancel = threading.Event()
        with self._lock:
            cancelled_before = command_id in self._cancelled
            self._running[command_id] = cancel
        start = state.start if state else now()
        if cancelled_before:
            final: dict | None = _report(self.host, command_id, "Cancelled", 0, start, [])
        else:
            if state is None:
                state = CommandState.create(self.host, command, start)
            kept = [StepResult(**p["result"]) for p in state.plugins if p["status"] not in UNFINISHED]
            self._send(_report(self.host, command_id, "InProgress", 0, start, kept))
            final = run_command(
                command, self.host, cancel, self._send, self.logs, state=state, stopping=self.stopping
            )
        with self._lock:
            del self._running[command_id]
            self._cancelled.discard(command_id)
        if final is None:
            log.info("%s left to the next agent", command_id)
            return
        if state is not None:
            state.move("completed")
        log.info("%s ended %s (%s)", command_id, final["status"], final["response_code"])
        self._send(final)

    def stop(self) -> None:
        """Stop polling and kill what runs (its report says Cancelled)."""
        self.stopping.set()
        with self._lock:
            for cancel in self._running.values():
                cancel.set()

    def _send(self, report: dict) -> None:
        try:
            self.post(f"{self.endpoint}/_rehearsal/agent/report", report, 10)
        except (OSError, ValueError) as error:
            log.error("report of %s failed: %s", report["command_id"], error)


def _bind(text: str) -> tuple[str, str]:
    source, sep, target = text.partition(":")
    if not sep or not source or not target.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected SRC:DST with an absolute DST, got {text!r}")
    return str(Path(source).resolve()), target


def _os_release() -> tuple[str, str]:
    # The agent reports the OS's own name and version; the rehearsal hosts share this machine's.
    fields = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            fields[key] = value.strip('"')
    except OSError:
        pass
    return fields.get("NAME", "Linux"), fields.get("VERSION_ID", "")


class _LogsClient:
    """The endpoint's CloudWatch Logs (moto's), where the agent sends command output; moto takes any
    credentials, as the instance profile's would be on a real host.

    Made at the first upload: few commands send their output to CloudWatch, and a boto3 client costs an
    agent a third of a second of CPU at start, on every host of every rehearsal fleet.
    """

    def __init__(self, endpoint: str, region: str):
        self._endpoint, self._region = endpoint, region
        self._client = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        with self._lock:
            if self._client is None:
                import boto3

                self._client = boto3.client(
                    "logs",
                    endpoint_url=self._endpoint,
                    region_name=self._region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
        return getattr(self._client, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m releaseflow.rehearsal.host.agent", description=__doc__)
    parser.add_argument("--endpoint", required=True, help="the rehearsal endpoint URL")
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--host-root", required=True, type=Path, help="the host's own directory")
    parser.add_argument("--bind", action="append", type=_bind, default=[], metavar="SRC:DST")
    parser.add_argument("--path-prefix", default="", help="put first on the scripts' PATH")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--poll-wait", type=float, default=20, help="long-poll seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {args.instance_id} %(levelname)s %(message)s",
    )
    platform_name, platform_version = _os_release()
    host = Host(
        instance_id=args.instance_id,
        root=args.host_root.resolve(),
        region=args.region,
        binds=tuple(args.bind),
        path_prefix=args.path_prefix,
        platform_name=platform_name,
        platform_version=platform_version,
    )
    agent = Agent(
        endpoint=args.endpoint.rstrip("/"),
        host=host,
        poll_wait=args.poll_wait,
        logs=_LogsClient(args.endpoint.rstrip("/"), args.region),
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    agent.resume_in_progress()
    log.info("agent for %s polling %s", host.instance_id, agent.endpoint)
    # The poller may sit in a long poll; as a daemon it does not hold up the exit.
    threading.Thread(target=agent.poll_forever, daemon=True).start()
    workers = [threading.Thread(target=agent.work_forever) for _ in range(agent.workers)]
    for worker in workers:
        worker.start()
    while all(worker.is_alive() for worker in workers):
        workers[0].join(0.2)
    if not agent.stopping.is_set():
        log.error("a worker died; see the traceback above")
        agent.stop()
        return 1
    for worker in workers:
        worker.join()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
