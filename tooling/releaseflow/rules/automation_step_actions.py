"""Automation steps name one of the actions schema 0.3 knows."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import is_automation, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import ACTIONS

CODE = "E202"
SUMMARY = "Automation steps have a known action"
WHY = (
    "A step's `action` matches `^aws:[a-zA-Z]{3,40}$` and is one of the Automation actions the user "
    "guide lists (aws:approve, aws:assertAwsResourceProperty, aws:branch, ... "
    "aws:waitForAwsResourceProperty). Command plugins such as aws:runShellScript are not Automation "
    "actions; SSM refuses the runbook when it is created."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html"

ACTION = re.compile(r"^aws:[a-zA-Z]{3,40}$")


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step in document.steps():
        label = step_label(step, path)
        action = step.get("action")
        if action is None:
            yield finding(document, CODE, path, f"step {label}: action missing")
        elif not isinstance(action, str) or not ACTION.match(action):
            yield finding(
                document, CODE, (*path, "action"), f"step {label}: action {describe(action)} is not aws:NAME"
            )
        elif action not in ACTIONS:
            yield finding(document, CODE, (*path, "action"), f"step {label}: unknown action {action!r}")
