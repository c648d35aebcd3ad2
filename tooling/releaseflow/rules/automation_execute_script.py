"""aws:executeScript: a runtime SSM still runs, a Handler for Python, and a script to run."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import (
    has_placeholder,
    is_automation,
    step_label,
    steps_of,
)
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import BLOCKED_RUNTIMES, POWERSHELL_RUNTIMES, PYTHON_RUNTIMES, RECOMMENDED_PYTHON

CODE = "E208"
SUMMARY = "aws:executeScript has a supported Runtime, a Handler for Python and a Script or Attachment"
WHY = (
    "aws:executeScript runs a `Script` or an `Attachment` with a `Runtime` (python3.11 is "
    "recommended) and, for Python, calls the function its `Handler` names "
    "(`def handler(events, context)`). The user guide: Handler is required for Python and not "
    "supported for PowerShell; runbooks using Python 3.6 to 3.8 cannot be created, updated or run "
    "(blocked on 2025-02-18), and python3.9 was blocked later in 2025."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html"

KNOWN = PYTHON_RUNTIMES + POWERSHELL_RUNTIMES


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:executeScript"):
        label = step_label(step, path)
        for key, message in _problems(inputs, document.content.get("files")):
            yield finding(document, CODE, (*path, "inputs", *key), f"step {label}: {message}")


def _problems(inputs: dict, files) -> Iterator[tuple[tuple[str, ...], str]]:
    runtime = inputs.get("Runtime")
    if runtime in BLOCKED_RUNTIMES:
        yield ("Runtime",), f"Runtime {runtime!r} is blocked by SSM; use {RECOMMENDED_PYTHON}"
    elif "Runtime" in inputs and runtime not in KNOWN and not has_placeholder(runtime):
        yield ("Runtime",), f"Runtime {describe(runtime)} is not one of {', '.join(KNOWN)}"
    python = isinstance(runtime, str) and runtime.startswith("python")
    if python and "Handler" not in inputs:
        yield (), "Handler missing: a Python script needs the name of its handler function"
    if runtime in POWERSHELL_RUNTIMES and "Handler" in inputs:
        yield ("Handler",), f"Handler is not supported with Runtime {runtime!r}"
    if "Script" not in inputs and "Attachment" not in inputs:
        yield (), "needs a Script or an Attachment to run"
    attachment = inputs.get("Attachment")
    # The user guide: an Attachment must also be declared in the runbook's top-level `files`.
    declared = files if isinstance(files, dict) else {}
    if isinstance(attachment, str) and not has_placeholder(attachment) and attachment not in declared:
        yield ("Attachment",), f"Attachment {attachment!r} is not declared under the runbook's files"
