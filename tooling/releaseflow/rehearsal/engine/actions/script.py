"""aws:executeScript with a Python runtime: each handler runs in its own process, forked by a warm worker."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.rehearsal.engine.errors import StepCancelled, StepFailed, StepTimedOut
from releaseflow.rehearsal.engine.readings_in_force import play
from releaseflow.rehearsal.engine.values import as_json_value
from releaseflow.ssm import SCRIPT_LIST_ITEMS as MAX_LIST_ITEMS
from releaseflow.ssm import SCRIPT_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from releaseflow.ssm import SCRIPT_SECONDS as MAX_SECONDS

WORKER_PROGRAM = Path(__file__).with_name("script_worker.py")
OVER_LIMIT = "script_output_over_limit"
# How often a running script is checked for cancel and timeout; real time, the child runs for real.
_CHECK_SECONDS = 0.02
# How long stop() waits for the worker to kill its children and exit.
_STOP_SECONDS = 5.0


class WorkerLost(StepFailed):
    """The script worker ended while a script ran: the rehearsal's failure, not the script's."""


class ScriptJob:
    """One script handed to the worker: the socket on which it reports the child's end."""

    def __init__(self, connection: socket.socket):
        self._connection = connection
        self._buffer = b""
        self.exit_code: int | None = None

    def wait(self, timeout: float | None) -> bool:
        """True once the child has ended (within `timeout` seconds; None: however long it takes)."""
        self._connection.settimeout(timeout)
        while self.exit_code is None:
            try:
                data = self._connection.recv(4096)
            except TimeoutError:
                return False
            if not data:
                raise WorkerLost("Step fails when it is Executing the script. The script worker ended early")
            self._buffer += data
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                word, _, value = line.decode().partition(" ")
                if word == "exit":
                    self.exit_code = int(value)
        return True

    def kill(self) -> None:
        """Kill the child's process group: the script and whatever it started."""
        # OSError: the worker is gone, and it killed its children on the way out.
        with contextlib.suppress(OSError):
            self._connection.sendall(b"kill\n")

    def close(self) -> None:
        # A job closed before its end (the engine failed) is killed by the worker.
        self._connection.close()


class ScriptWorker:
    """The engine's side of script_worker.py: started once (fork and exec, safe from threads), then one
    job socket per script. The worker is single-threaded, so forking there is safe; here it would not be."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        # Names the worker's owner on its command line (the endpoint: its state directory).
        self._label = ""

    def start(self, label: str = "") -> None:
        """Start the worker now (it takes a moment to import boto3) rather than at the first script."""
        with self._lock:
            self._label = label or self._label
            self._ensure()

    def submit(self, scratch: Path) -> ScriptJob:
        """Have the worker fork a child for the job described in scratch/job.json."""
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                for attempt in (1, 2):
                    self._ensure()
                    try:
                        assert self._control is not None  # _ensure started the worker
                        socket.send_fds(self._control, [b"j"], [theirs.fileno()])
                        break
                    except OSError:
                        # The worker died since the last script: start a new one, once.
                        self._discard()
                        if attempt == 2:
                            raise
            ours.sendall(f"{scratch}\n".encode())
        except OSError as error:
            ours.close()
            raise WorkerLost(
                f"Step fails when it is Executing the script. The script worker is not running: {error}"
            ) from error
        finally:
            theirs.close()
        return ScriptJob(ours)

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        with self._lock:
            process = self._process
            return process.pid if process is not None and process.poll() is None else None

    def stop(self) -> None:
        """Stop the worker: closing its control socket makes it kill its children and exit."""
        with self._lock:
            self._discard()

    def _ensure(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._discard()
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, str(WORKER_PROGRAM), str(theirs.fileno()), *filter(None, [self._label])],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                # Not a session of its own: a signal to its owner's process group (the endpoint's
                # SIGTERM at `local down`) reaches it, and it kills its children on the way out.
            )
        finally:
            theirs.close()
        self._control = ours

    def _discard(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


# One worker per engine process, shared by its executions' threads.
WORKER = ScriptWorker()


def execute_script(inputs: dict, ctx: ActionContext) -> ActionResult:
    """Run Script's Handler with InputPayload as events; the output Payload is what it returns."""
    runtime = str(inputs.get("Runtime", ""))
    if not runtime.startswith("python3"):
        raise StepFailed(f"Runtime {runtime!r} is not supported by the rehearsal (step '{ctx.name}')")
    if "Script" not in inputs:
        raise StepFailed(f"Attachment scripts are not supported by the rehearsal (step '{ctx.name}')")
    handler = str(inputs.get("Handler", ""))
    if "." in handler:
        # SSM accepts `module.function` for attachments; an inline script is one module.
        handler = handler.rsplit(".", 1)[1]
    request = {
        "script": inputs["Script"],
        "handler": handler,
        "events": inputs.get("InputPayload", {}),
        "context": ctx.context_variables,
    }
    # A worker whose engine goes away removes the directory itself (script_worker.Worker.stop).
    with tempfile.TemporaryDirectory(prefix="releaseflow-script-", ignore_cleanup_errors=True) as scratch:
        directory = Path(scratch)
        job = {"request": request, "env": dict(ctx.script_env), "cwd": _working_directory()}
        (directory / "job.json").write_text(json.dumps(job, default=as_json_value), encoding="utf-8")
        _run(directory, ctx)
        stdout, stderr = (_read(directory / name) for name in ("stdout", "stderr"))
        result_path = directory / "result.json"
        result = json.loads(result_path.read_text(encoding="utf-8")) if result_path.exists() else None
    if result is None:
        raise StepFailed(
            f"Step fails when it is Executing the script. The script process ended early: {stderr}"
        )
    if "error" in result:
        raise StepFailed(
            f"Step fails when it is Executing the script. {result['error']}\n{result['traceback']}",
            details={"ExecutionLog": [stdout]},
        )
    payload = result["payload"]
    if over_limit(payload):
        # Only past a limit do the readings differ (and the payload needs cutting or refusing).
        payload = returned_payload(payload, play(ctx.readings, OVER_LIMIT, ctx.where))
    return ActionResult(response={"Payload": payload}, outputs={"OutputPayload": {"Payload": payload}})


def over_limit(payload: Any) -> bool:
    """Whether a handler's result is past what Automation returns: the readings differ only then."""
    if isinstance(payload, list) and len(payload) > MAX_LIST_ITEMS:
        return True
    return len(json.dumps(payload, default=as_json_value).encode("utf-8")) > MAX_PAYLOAD_BYTES


def returned_payload(payload: Any, reading: str) -> Any:
    """What Automation returns of a handler's result: at most SCRIPT_LIST_ITEMS items of a list and
    SCRIPT_PAYLOAD_BYTES of JSON. Past either, the reading decides: `cut` keeps the first items, or the
    first bytes of the JSON text (which no selector can read into); `step-fails` fails the step."""
    if isinstance(payload, list) and len(payload) > MAX_LIST_ITEMS:
        if reading == "step-fails":
            raise StepFailed(
                f"Step fails: the script returned a list of {len(payload)} items, over the {MAX_LIST_ITEMS} "
                "aws:executeScript returns (reading script_output_over_limit=step-fails)"
            )
        payload = payload[:MAX_LIST_ITEMS]
    text = json.dumps(payload, default=as_json_value)
    size = len(text.encode("utf-8"))
    if size <= MAX_PAYLOAD_BYTES:
        return payload
    if reading == "step-fails":
        raise StepFailed(
            f"Step fails: the script returned {size} bytes of JSON, over the {MAX_PAYLOAD_BYTES} "
            "aws:executeScript returns (reading script_output_over_limit=step-fails)"
        )
    return text.encode("utf-8")[:MAX_PAYLOAD_BYTES].decode("utf-8", errors="ignore")


def _run(scratch: Path, ctx: ActionContext) -> None:
    started = ctx.clock()
    job = WORKER.submit(scratch)
    try:
        while not job.wait(_CHECK_SECONDS):
            try:
                ctx.check()
                if ctx.clock() - started >= MAX_SECONDS:
                    raise StepTimedOut(f"The script ran longer than the maximum of {MAX_SECONDS} seconds")
            except (StepCancelled, StepTimedOut):
                job.kill()
                job.wait(None)
                raise
    finally:
        job.close()


def _working_directory() -> str | None:
    """The engine's working directory, which a script ran in as a subprocess; None once it was removed
    (the child then stays in the worker's)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def _read(path: Path) -> str:
    # Decoded as the pipes were (text mode): what the script printed, whatever its encoding.
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
