"""Automation step fields: only the known ones, each with a value of the right kind."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import STEP_FIELDS

CODE = "E203"
SUMMARY = "Automation step fields are known and well typed"
WHY = (
    "A step's fields are name, action, inputs, description, maxAttempts (default 1), timeoutSeconds, "
    "onFailure (Abort | Continue | step:NAME), onCancel (Abort | step:NAME; not on aws:loop), isEnd, "
    "nextStep, isCritical and outputs. The user guide adds that aws:updateVariable does not support "
    "onCancel either. An unknown field is usually a typo (onfailure, maxAttempt) that leaves the "
    "step without the behaviour its author meant."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html"

ON_FAILURE = re.compile(r"^(Abort|Continue|step:.+)$")
ON_CANCEL = re.compile(r"^(Abort|step:.+)$")
NO_ON_CANCEL = ("aws:loop", "aws:updateVariable")


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step in document.steps():
        label = step_label(step, path)
        for field in step:
            if field not in STEP_FIELDS:
                yield finding(document, CODE, (*path, field), f"step {label}: unknown field {field!r}")
        for field, problem in _problems(step):
            yield finding(document, CODE, (*path, field), f"step {label}: {field} {problem}")


def _problems(step: dict) -> Iterator[tuple[str, str]]:
    for field in ("isEnd", "isCritical"):
        if field in step and not isinstance(step[field], bool) and not has_placeholder(step[field]):
            yield field, f"{describe(step[field])} is not true or false"
    for field in ("maxAttempts", "timeoutSeconds"):
        value = step.get(field)
        if field in step and not has_placeholder(value) and not _positive_integer(value):
            yield field, f"{describe(value)} is not a positive integer"
    if "onFailure" in step and not _matches(ON_FAILURE, step["onFailure"]):
        yield "onFailure", f"{describe(step['onFailure'])} is not Abort, Continue or step:NAME"
    if "onCancel" in step:
        if step.get("action") in NO_ON_CANCEL:
            yield "onCancel", f"is not supported on {step['action']}"
        elif not _matches(ON_CANCEL, step["onCancel"]):
            yield "onCancel", f"{describe(step['onCancel'])} is not Abort or step:NAME"
    for field in ("nextStep", "description"):
        if field in step and not isinstance(step[field], str):
            yield field, f"{describe(step[field])} is not a string"
    if "inputs" in step and not isinstance(step["inputs"], dict):
        yield "inputs", f"{describe(step['inputs'])} is not a map"


def _positive_integer(value) -> bool:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _matches(pattern: re.Pattern, value) -> bool:
    return isinstance(value, str) and pattern.match(value) is not None
