"""aws:executeScript runtimes that still run but are older than AWS recommends."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import is_automation, step_label, steps_of
from releaseflow.rules._common import finding
from releaseflow.ssm import OLD_RUNTIMES

CODE = "W201"
SUMMARY = "aws:executeScript uses an old runtime"
WHY = (
    "AWS blocks old aws:executeScript runtimes (python3.6 to python3.9 are refused, E208; python3.11 "
    "is recommended) with a few months' notice: runbooks on the next-oldest ones are the next to "
    "break, and PowerShell Core 6.0 / 7.0 run on .NET releases that are out of support."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:executeScript"):
        runtime = inputs.get("Runtime")
        if isinstance(runtime, str) and runtime in OLD_RUNTIMES:
            message = f"step {step_label(step, path)}: Runtime {runtime!r} is old: {OLD_RUNTIMES[runtime]}"
            yield finding(document, CODE, (*path, "inputs", "Runtime"), message)
