"""Automation step inputs: every required input present, no input the action does not take."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import action_of, has_placeholder, is_automation, step_label
from releaseflow.rules._common import describe, finding

CODE = "E205"
SUMMARY = "Automation step inputs match their action"
WHY = (
    "The user guide lists each action's inputs and which are required; aws:executeAwsApi, "
    "aws:waitForAwsResourceProperty and aws:assertAwsResourceProperty also take the called API's "
    "parameters. aws:runCommand requires DocumentName, takes at most 50 InstanceIds, a "
    "MaxConcurrency matching `^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$` and a MaxErrors matching "
    "`^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html"

RATE_PATTERNS = {
    "MaxConcurrency": re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$"),
    "MaxErrors": re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$"),
}
MAX_INSTANCE_IDS = 50


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step in document.steps():
        action = action_of(step)
        if action is None:
            continue  # E202 reports unknown actions
        label = step_label(step, path)
        inputs = step.get("inputs")
        if not isinstance(inputs, dict):
            if "inputs" not in step and action.required:
                yield finding(
                    document, CODE, path, f"step {label}: inputs missing (needs {', '.join(action.required)})"
                )
            continue  # E203 reports inputs that are not a map
        for name in action.required:
            if name not in inputs:
                yield finding(document, CODE, (*path, "inputs"), f"step {label}: input {name} missing")
        if not action.open_inputs:
            for name in inputs:
                if name not in action.inputs:
                    message = f"step {label}: {step['action']} takes no input {name!r}"
                    yield finding(document, CODE, (*path, "inputs", name), message)
        if step["action"] == "aws:runCommand":
            for key, problem in _run_command_problems(inputs):
                yield finding(document, CODE, (*path, "inputs", *key), f"step {label}: {problem}")


def _run_command_problems(inputs: dict) -> Iterator[tuple[tuple[str, ...], str]]:
    for name, pattern in RATE_PATTERNS.items():
        value = inputs.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if name in inputs and not has_placeholder(value) and not _matches(pattern, value):
            yield (name,), f"{name} {describe(inputs[name])} does not match {pattern.pattern}"
    if "InstanceIds" not in inputs and "Targets" not in inputs:
        yield (), "needs InstanceIds or Targets to know where to run"
    instance_ids = inputs.get("InstanceIds")
    if isinstance(instance_ids, list) and len(instance_ids) > MAX_INSTANCE_IDS:
        count = len(instance_ids)
        yield (
            ("InstanceIds",),
            f"InstanceIds lists {count} instances; SendCommand takes at most {MAX_INSTANCE_IDS}",
        )


def _matches(pattern: re.Pattern, value) -> bool:
    return isinstance(value, str) and pattern.match(value) is not None
