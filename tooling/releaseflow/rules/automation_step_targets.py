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
FAILURE_FIELDS = ("onFailure", "onCancel")
SUMMARY = "Automation jump targets name a step in the same step list"
WHY = (
    "onFailure and onCancel (`step:NAME`), `nextStep` and aws:branch's `NextStep` and `Default` name "
    "the step to run next. A misspelt target surfaces only when that path runs, typically the "
    "failure path during an incident. The user guide (aws:loop): the loop inherits the onFailure of "
    "its nested steps, so their onFailure/onCancel may name the loop's siblings; their nextStep and "
    "branch targets are kept inside the loop (conservative: the user guide does not say)."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-branchdocs.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    everywhere = step_names([step for _, step in document.steps()])
    lists = dict(step_lists(document))
    for list_path, steps in lists.items():
        here = step_names(steps)
        # The loop inherits a nested step's onFailure/onCancel, so those may leave the loop.
        reachable_on_failure = set().union(*(step_names(lists.get(p, [])) for p in _enclosing(list_path)))
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            path = (*list_path, index)
            for target_path, described, target in _targets(step, path):
                allowed = here | reachable_on_failure if target_path[-1] in FAILURE_FIELDS else here
                if target in allowed or has_placeholder(target):
                    continue
                where = " in the same step list" if target in everywhere else ""
                message = f"step {step_label(step, path)}: {described} names no step{where}"
                yield finding(document, CODE, target_path, message)


def _enclosing(list_path: JsonPath) -> Iterator[JsonPath]:
    """The step lists around a nested list: (..., loop index, "inputs", "Steps") sits in path[:-3]."""
    while len(list_path) > 1:
        list_path = list_path[:-3]
        yield list_path


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
