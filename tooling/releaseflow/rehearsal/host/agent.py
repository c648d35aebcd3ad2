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
) -> dict:
    """Run one command from the endpoint to the end and return its final report; `progress` gets an
    InProgress report after each plugin that is not the last, as the agent replies per plugin.

    With CloudWatchOutputConfig enabled, each plugin's whole stdout and stderr go to that group through
    `logs` (a CloudWatch Logs client) before its result is reported, as the agent waits for its upload.
    """
    command_id = command["command_id"]
    output_config = cloudwatch_output.OutputConfig.from_request(
        command.get("cloudwatch_output"), command.get("document_name", "")
    )
    start = now()
    try:
        resolved = resolve_parameters(command["content"], command.get("parameters") or {})
        plugins = plan_plugins(command["content"], resolved, host.platform_type)
    except ReleaseflowError as error:
        failed = StepResult("", "Failed", 1, start, now(), output=str(error), stderr=str(error))
        return _report(host, command_id, "Failed", 1, start, [failed])
    results: list[StepResult] = []
    for index, plugin in enumerate(plugins):
        results.append(_run_plugin(plugin, index, plugins, results, host, command_id, cancel))
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


def _run_plugin(
    plugin: Plugin,
    index: int,
    plugins: list[Plugin],
    results: list[StepResult],
    host: Host,
    command_id: str,
    cancel: threading.Event,
) -> StepResult:
    start = now()
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
    return _run_shell(plugin, lines, host, command_id, cancel, start)


def _run_shell(
    plugin: Plugin, lines: list[str], host: Host, command_id: str, cancel: threading.Event, start: str
) -> StepResult:
    directory = host.orchestration_dir(command_id, plugin.name)
    script = directory / "_script.sh"
    shell_runner.write_script(script, lines)
    result = shell_runner.run_script(
        host.script_command(plugin, script, command_id),
        timeout_seconds=shell_runner.execution_timeout(plugin.inputs.get("timeoutSeconds")),
        cancel=cancel,
        output_dir=directory,
    )
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
                command = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.run_one(command)

    def run_one(self, command: dict) -> None:
        """Report InProgress, run, report the end; a command cancelled before it starts is just Cancelled."""
        command_id = command["command_id"]
        cancel = threading.Event()
        with self._lock:
            cancelled_before = command_id in self._cancelled
            self._running[command_id] = cancel
        start = now()
        if cancelled_before:
            final = _report(self.host, command_id, "Cancelled", 0, start, [])
        else:
            self._send(_report(self.host, command_id, "InProgress", 0, start, []))
            final = run_command(command, self.host, cancel, progress=self._send, logs=self.logs)
        with self._lock:
            del self._running[command_id]
            self._cancelled.discard(command_id)
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


def _logs_client(args):
    """The endpoint's CloudWatch Logs (moto's), where the agent sends command output; moto takes any
    credentials, as the instance profile's would be on a real host."""
    import boto3

    return boto3.client(
        "logs",
        endpoint_url=args.endpoint.rstrip("/"),
        region_name=args.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


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
        endpoint=args.endpoint.rstrip("/"), host=host, poll_wait=args.poll_wait, logs=_logs_client(args)
    )
    log.info("agent for %s polling %s", host.instance_id, agent.endpoint)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
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
