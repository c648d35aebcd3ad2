"""aws:executeScript with an inline Script in a JSON runbook, which the user guide says is unsupported."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import is_automation, step_label, steps_of
from releaseflow.rules._common import finding

CODE = "W202"
SUMMARY = "aws:executeScript Script in a JSON runbook"
WHY = (
    "aws:executeScript takes its code as `Script` or as an `Attachment`, and the user guide: Script "
    '"is not supported for JSON runbooks. JSON runbooks must provide script content using the '
    "Attachment input parameter\". A warning, not an error: AWS's own JSON runbooks are not all "
    "consistent with it."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document) or not document.path.endswith(".json"):
        return
    for path, step, inputs in steps_of(document, "aws:executeScript"):
        if "Script" in inputs:
            message = (
                f"step {step_label(step, path)}: inline Script in a JSON runbook; use YAML or an Attachment"
            )
            yield finding(document, CODE, (*path, "inputs", "Script"), message)
