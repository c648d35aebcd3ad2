"""Running one `_script.sh` as the SSM agent does: `sh -c path`, own process group, timeout, kept output."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The agent's limits (iohandler.DefaultOutputConfig) and the text it appends when it cuts.
MAX_STDOUT = 24000
MAX_STDERR = 8000
TRUNCATED_SUFFIX = "--output truncated--"
# The plugin `Output` (iohandler.MaximumPluginOutputSize) and its markers.
MAX_PLUGIN_OUTPUT = 2500
ERROR_TITLE = "\n----------ERROR-------\n"
OUTPUT_CUT = "\n---Output truncated---"
ERROR_CUT = "\n---Error truncated----"

# Fatal error (128) + SIGKILL (9): what the agent reports for a timed-out or cancelled script.
KILLED_EXIT_CODE = 137
DEFAULT_TIMEOUT = 3600
MIN_TIMEOUT, MAX_TIMEOUT = 5, 172800


@dataclass(frozen=True)
class HostCommand:
    """A command as a host runs it: argv (namespace wrapper included), where it starts, its entire env."""

    argv: tuple[str, ...]
    cwd: str
    environment: dict[str, str]

    def shell(self) -> str:
        """The same command as one line of sh, for a script that runs it (the Ansible peer's wrappers)."""
        assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in self.environment.items())
        return f"(cd {shlex.quote(self.cwd)} && exec env -i {assignments} {shlex.join(self.argv)})"


def host_command(
    argv: Sequence[str],
    *,
    working_directory: str,
    environment: dict[str, str],
    binds: Sequence[tuple[str, str]] = (),
) -> HostCommand:
    """`argv` as the agent runs a script on a host: with `binds` in a private mount namespace (each SRC
    mounted on DST), in `working_directory` (which may be one of the mounts), with only `environment`."""
    if not binds:
        return HostCommand(tuple(argv), working_directory, dict(environment))
    # Mount first, then enter the working directory, which may be one of the mounts.
    # A DST that exists (a folder, or a file a file is mounted over) is used as it is.
    steps = [
        f"{{ [ -e {target} ] || mkdir -p {target}; }} && mount --bind {shlex.quote(src)} {target}"
        for src, target in ((src, shlex.quote(dst)) for src, dst in binds)
    ]
    # `cd` exports OLDPWD, which a script the real agent starts does not have.
    steps += [f"cd {shlex.quote(working_directory)}", "unset OLDPWD", f"exec {shlex.join(argv)}"]
    wrapper = ("unshare", "--mount", "--propagation", "private", "sh", "-c", " && ".join(steps))
    return HostCommand(wrapper, "/", dict(environment))


@dataclass(frozen=True)
class ScriptResult:
    """How one script ended and what it wrote (read back up to a little past the agent's limits)."""

    exit_code: int
    stdout: str
    stderr: str
    # Go's text for how the process ended ("exit status 2", "signal: killed"); empty on success.
    error: str = ""
    timed_out: bool = False
    cancelled: bool = False


def execution_timeout(value: object) -> int:
    """timeoutSeconds as the agent's ValidateExecutionTimeout reads it: bad or out of range -> 3600."""
    if isinstance(value, bool):
        return DEFAULT_TIMEOUT
    try:
        seconds = int(float(value)) if isinstance(value, str | int | float) else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return seconds if MIN_TIMEOUT <= seconds <= MAX_TIMEOUT else DEFAULT_TIMEOUT


def write_script(path: Path, lines: Sequence[str]) -> None:
    """The agent's CreateScriptFile: the lines joined with newlines, executable by root only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o700)


def run_script(
    command: HostCommand,
    *,
    timeout_seconds: float,
    cancel: threading.Event,
    output_dir: Path,
    poll_seconds: float = 0.05,
) -> ScriptResult:
    """Run a host command (the agent's `sh -c script`) in its own process group; SIGKILL the group on
    timeout or cancel.

    Output comes through pipes, as the agent's does (executers.go gives exec.Command writers, so Go's
    Wait returns only once every holder of the pipes has closed them): a script has ended when its
    process has exited and its pipes are at end of file. A background child that keeps them open holds
    the step until its timeout, as on AWS. Everything read is kept whole in `output_dir`.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = output_dir / "stdout", output_dir / "stderr"
    process = subprocess.Popen(
        command.argv,
        cwd=command.cwd,
        env=command.environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None  # both PIPE
    timed_out = cancelled = False
    deadline = time.monotonic() + timeout_seconds
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err, selectors.DefaultSelector() as pipes:
        pipes.register(process.stdout, selectors.EVENT_READ, out)
        pipes.register(process.stderr, selectors.EVENT_READ, err)
        while pipes.get_map() or process.poll() is None:
            cancelled = cancel.is_set()
            timed_out = not cancelled and time.monotonic() >= deadline
            if cancelled or timed_out:
                break
            if not pipes.get_map():
                time.sleep(poll_seconds)
                continue
            for key, _ in pipes.select(timeout=poll_seconds):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    key.data.write(chunk)
                else:
                    pipes.unregister(key.fileobj)
        if cancelled or timed_out:
            _kill_group(process)
            code = KILLED_EXIT_CODE
        else:
            code = process.wait()
    # Closed here, not before: a holder the kill did not reach must not block the agent.
    process.stdout.close()
    process.stderr.close()
    if code < 0:
        error = f"signal: {(signal.strsignal(-code) or f'signal {-code}').lower()}"
        code = -1  # Go's WaitStatus.ExitStatus() for a process some signal killed
    else:
        error = f"exit status {code}" if code else ""
    return ScriptResult(
        exit_code=code,
        stdout=_read(stdout_path, MAX_STDOUT),
        stderr=_read(stderr_path, MAX_STDERR),
        error=error,
        timed_out=timed_out,
        cancelled=cancelled,
    )


def _kill_group(process: subprocess.Popen) -> None:
    # It may have ended between the last wait and the kill.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(path: Path, limit: int) -> str:
    # One character past the limit is enough to know it must be cut; the rest stays in the file.
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.read(limit + 1)


def prefix(text: str, limit: int) -> str:
    """The agent's StringPrefix: at `limit` characters or more, cut and end with the suffix."""
    if len(text) < limit:
        return text
    return text[: limit - len(TRUNCATED_SUFFIX)] + TRUNCATED_SUFFIX


def plugin_output(stdout: str, stderr: str, capacity: int = MAX_PLUGIN_OUTPUT) -> str:
    """The agent's TruncateOutput: stdout, the error title and stderr, within `capacity`."""
    title = ERROR_TITLE if stderr else ""
    available = capacity - len(title)
    if len(stdout) + len(stderr) < available:
        return stdout + title + stderr
    if len(stdout) > available // 2 and len(stderr) > available // 2:
        half = (available - len(ERROR_CUT) - len(OUTPUT_CUT)) // 2
        return stdout[:half] + OUTPUT_CUT + title + stderr[:half] + ERROR_CUT
    if len(stdout) < available // 2:
        return stdout + title + stderr[: available - len(ERROR_CUT) - len(stdout)] + ERROR_CUT
    return stdout[: available - len(OUTPUT_CUT) - len(stderr)] + OUTPUT_CUT + title + stderr


# --- the document worker --------------------------------------------------------------------------
#
# The SSM agent runs a document in a process of its own, ssm-document-worker, started in a process group
# of its own "so that the process can survive when upstart/systemd kill the original process group"
# (outofproc/proc/process_unix.go); a restarted agent finds that worker again (outofproc/master.go
# `initialize`: "found orphan process") and takes its results. The rehearsal's worker runs one plugin's
# script: it owns the script's pipes and timeout, so the script outlives an agent that died, and it
# leaves its result in `result.json` beside the script's output.

SPEC_FILE, RESULT_FILE = "worker.json", "result.json"


@dataclass(frozen=True)
class Worker:
    """A started worker: its pid and its start time (/proc stat field 22), which tell it from a reused pid."""

    pid: int
    start_time: int

    def as_json(self) -> dict:
        return {"pid": self.pid, "start_time": self.start_time}


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is the state (field 3); the start time is field 22.
    return None if fields[0] in ("Z", "X") else int(fields[19])


def start_worker(
    command: HostCommand, *, timeout_seconds: float, output_dir: Path
) -> tuple[Worker, subprocess.Popen]:
    """Start a worker that runs `command` as `run_script` does, in a session of its own."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESULT_FILE).unlink(missing_ok=True)
    spec = {
        "argv": list(command.argv),
        "cwd": command.cwd,
        "environment": command.environment,
        "timeout_seconds": timeout_seconds,
    }
    (output_dir / SPEC_FILE).write_text(json.dumps(spec), encoding="utf-8")
    with (output_dir / "worker.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "releaseflow.rehearsal.host.shell_runner", str(output_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    return Worker(process.pid, process_start_time(process.pid) or 0), process


def wait_worker(
    worker: Worker,
    output_dir: Path,
    cancel: threading.Event,
    stopping: threading.Event,
    child: subprocess.Popen | None = None,
    poll_seconds: float = 0.05,
) -> ScriptResult | None:
    """The worker's result once it has written it. A cancel is passed on to the worker (SIGTERM: it kills
    the script's group and reports it Cancelled). None if `stopping` is set first (the agent goes away and
    leaves the worker running) or if the worker died without a result."""
    result_path = output_dir / RESULT_FILE
    signalled = False
    while True:
        if result_path.exists():
            if child is not None:
                child.wait()
            return _load_result(result_path)
        if child is not None:
            alive = child.poll() is None
        else:
            alive = process_start_time(worker.pid) == worker.start_time
        if not alive:
            if result_path.exists():
                return _load_result(result_path)
            # A SIGTERM before the worker set its handler killed it before it started the script.
            return _cancelled(output_dir) if signalled else None
        if cancel.is_set() and not signalled:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
            signalled = True
        if stopping.is_set() and not cancel.is_set():
            return None
        time.sleep(poll_seconds)


def _cancelled(output_dir: Path) -> ScriptResult:
    stdout, stderr = output_dir / "stdout", output_dir / "stderr"
    return ScriptResult(
        exit_code=KILLED_EXIT_CODE,
        stdout=_read(stdout, MAX_STDOUT) if stdout.exists() else "",
        stderr=_read(stderr, MAX_STDERR) if stderr.exists() else "",
        error=f"exit status {KILLED_EXIT_CODE}",
        cancelled=True,
    )


def _load_result(path: Path) -> ScriptResult:
    return ScriptResult(**json.loads(path.read_text(encoding="utf-8")))


def worker_main(output_dir: Path) -> int:
    """The worker process: run the spec'd command to its end, then write `result.json` atomically."""
    spec = json.loads((output_dir / SPEC_FILE).read_text(encoding="utf-8"))
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    command = HostCommand(tuple(spec["argv"]), spec["cwd"], dict(spec["environment"]))
    result = run_script(
        command, timeout_seconds=spec["timeout_seconds"], cancel=cancel, output_dir=output_dir
    )
    partial = output_dir / (RESULT_FILE + ".part")
    partial.write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    partial.replace(output_dir / RESULT_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(Path(sys.argv[1])))
