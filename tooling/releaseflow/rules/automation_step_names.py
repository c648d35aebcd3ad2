"""Automation steps need a unique name made of letters, digits and underscores."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import is_automation, step_label
from releaseflow.rules._common import describe, finding

CODE = "E201"
SUMMARY = "Automation step names are present, well formed and unique"
WHY = (
    "A step's `name` is required, unique across the runbook's steps and matches `^[a-zA-Z0-9_]+$`. "
    "Outputs and jumps name steps, so a duplicate makes `step:NAME` and `{{ NAME.Output }}` "
    "ambiguous; nested loop steps count too."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html"

NAME = re.compile(r"^[a-zA-Z0-9_]+$")


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    seen: set[str] = set()
    for path, step in document.steps():
        name = step.get("name")
        if name is None:
            yield finding(document, CODE, path, f"step {step_label(step, path)}: name missing")
        elif not isinstance(name, str) or not NAME.match(name):
            yield finding(
                document, CODE, (*path, "name"), f"step name {describe(name)} is not ^[a-zA-Z0-9_]+$"
            )
        elif name in seen:
            yield finding(document, CODE, (*path, "name"), f"step name {name!r} is used by an earlier step")
        if isinstance(name, str):
            seen.add(name)
