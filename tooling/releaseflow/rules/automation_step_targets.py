"""Automation jumps (onFailure, onCancel, nextStep, branch NextStep/Default) name an existing step."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document, JsonPath
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import (
    has_placeholder,
    is_automation,
    step_label,
    step_lists,
    step_names,
)
from releaseflow.rules._common import finding

CODE = "E204"
SUMMARY = "Automation jump targets name a step in the same step list"
WHY = (
    "SSM-FACTS: onFailure/onCancel `step:NAME`, `nextStep` and aws:branch `NextStep`/`Default` name "
    "the step to run next. A misspelt target surfaces only when that path runs, typically the "
    "failure path during an incident. Nested aws:loop steps are a runbook of their own: their jumps "
    "are kept inside the loop and the loop's siblings cannot jump into it (conservative: unverified)."
)


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    everywhere = step_names([step for _, step in document.steps()])
    for list_path, steps in step_lists(document):
        here = step_names(steps)
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            path = (*list_path, index)
            for target_path, described, target in _targets(step, path):
                if target in here or has_placeholder(target):
                    continue
                where = " in the same step list" if target in everywhere else ""
                message = f"step {step_label(step, path)}: {described} names no step{where}"
                yield finding(document, CODE, target_path, message)


def _targets(step: dict, path: JsonPath) -> Iterator[tuple[JsonPath, str, str]]:
    """(path, how the message quotes it, step name) for every jump the step declares."""
    for field in ("onFailure", "onCancel"):
        value = step.get(field)
        if isinstance(value, str) and value.startswith("step:"):
            yield (*path, field), f"{field} {value!r}", value[len("step:") :]
    if isinstance(step.get("nextStep"), str):
        yield (*path, "nextStep"), f"nextStep {step['nextStep']!r}", step["nextStep"]
    inputs = step.get("inputs")
    if step.get("action") != "aws:branch" or not isinstance(inputs, dict):
        return
    if isinstance(inputs.get("Default"), str):
        yield (*path, "inputs", "Default"), f"Default {inputs['Default']!r}", inputs["Default"]
    choices = inputs.get("Choices")
    for index, choice in enumerate(choices if isinstance(choices, list) else []):
        if isinstance(choice, dict) and isinstance(choice.get("NextStep"), str):
            target = choice["NextStep"]
            choice_path = (*path, "inputs", "Choices", index, "NextStep")
            yield choice_path, f"Choices[{index}] NextStep {target!r}", target
