"""aws:executeScript with a Python runtime: the handler runs in a subprocess of this interpreter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from releaseflow.engine.context import ActionContext, ActionResult
from releaseflow.engine.errors import StepCancelled, StepFailed, StepTimedOut
from releaseflow.engine.values import as_json_value
from releaseflow.ssm import SCRIPT_SECONDS as MAX_SECONDS

RUNNER = Path(__file__).with_name("script_runner.py")
# How often a running script is checked for cancel and timeout; real time, the subprocess runs for real.
_CHECK_SECONDS = 0.02


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
    with tempfile.TemporaryDirectory(prefix="releaseflow-script-") as scratch:
        result_path = Path(scratch) / "result.json"
        stdout, stderr = _run(request, result_path, ctx)
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
    return ActionResult(
        response={"Payload": result["payload"]}, outputs={"OutputPayload": {"Payload": result["payload"]}}
    )


def _run(request: dict, result_path: Path, ctx: ActionContext) -> tuple[str, str]:
    started = ctx.clock()
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), str(result_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(ctx.script_env),
        text=True,
        start_new_session=True,  # so a timeout or cancel can kill whatever the script started
    )
    payload: str | None = json.dumps(request, default=as_json_value)
    while True:
        try:
            return process.communicate(payload, timeout=_CHECK_SECONDS)
        except subprocess.TimeoutExpired:
            payload = None  # sent already: communicate() refuses input on a retry
        try:
            ctx.check()
            if ctx.clock() - started >= MAX_SECONDS:
                raise StepTimedOut(f"The script ran longer than the maximum of {MAX_SECONDS} seconds")
        except (StepCancelled, StepTimedOut):
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
