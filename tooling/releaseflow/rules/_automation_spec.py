"""Walking a runbook's steps and checking its conditions against schema 0.3 (the facts: releaseflow.ssm)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from releaseflow.documents import Document, JsonPath
from releaseflow.ssm import ACTIONS, COMBINATORS, OPERATORS, Action


def action_of(step: dict) -> Action | None:
    """The step's action from the table, or None when it is missing, malformed or unknown."""
    action = step.get("action")
    return ACTIONS.get(action) if isinstance(action, str) else None


def is_automation(document: Document) -> bool:
    return document.document_type == "Automation"


def step_label(step: dict, path: JsonPath) -> str:
    """How a message names a step: its name, or its position when it has none."""
    name = step.get("name")
    return repr(name) if isinstance(name, str) else f"#{int(path[-1]) + 1}"


def steps_of(document: Document, *actions: str) -> Iterator[tuple[JsonPath, dict, dict]]:
    """(path, step, inputs) of every step, loops' nested steps included, whose action is one of
    `actions` and whose inputs are a mapping (malformed inputs are other rules' findings)."""
    for path, step in document.steps():
        inputs = step.get("inputs")
        if step.get("action") in actions and isinstance(inputs, dict):
            yield path, step, inputs


def step_lists(document: Document) -> Iterator[tuple[JsonPath, list]]:
    """mainSteps and every aws:loop's nested Steps: the lists a step's jumps must stay within."""
    main = document.content.get("mainSteps") if isinstance(document.content, dict) else None
    if isinstance(main, list):
        yield ("mainSteps",), main
    for path, _step, inputs in steps_of(document, "aws:loop"):
        if isinstance(inputs.get("Steps"), list):
            yield (*path, "inputs", "Steps"), inputs["Steps"]


def step_names(steps: list) -> set[str]:
    return {step["name"] for step in steps if isinstance(step, dict) and isinstance(step.get("name"), str)}


def outputs_of(step: dict) -> set[str]:
    """The outputs a step can be referenced by: its action's own and those it declares."""
    action = action_of(step)
    names = set(action.outputs) if action else set()
    declared = step.get("outputs")
    if isinstance(declared, list):
        names |= {o["Name"] for o in declared if isinstance(o, dict) and isinstance(o.get("Name"), str)}
    return names


def has_placeholder(value: Any) -> bool:
    """Whether a value is (or contains) a {{ }} placeholder, so its real value is known only at run time."""
    return isinstance(value, str) and "{{" in value


def condition_problems(condition: Any, where: str) -> Iterator[tuple[str, str]]:
    """What is wrong with a branch choice or loop condition: (sub-key, message) pairs.

    A condition is a Variable with exactly one operator, or exactly one of And/Or (a list of
    conditions) or Not (one condition). `where` names the condition in messages.
    """
    if not isinstance(condition, dict):
        yield "", f"{where} is not a map"
        return
    combinators = sorted(COMBINATORS & condition.keys())
    operators = sorted(OPERATORS & condition.keys())
    unknown = sorted(set(condition) - OPERATORS - COMBINATORS - {"Variable", "NextStep"}, key=str)
    for key in unknown:
        yield key, f"{where}: unknown operator {key!r}"
    if unknown and not combinators + operators:
        return  # reported once, as the unknown operator
    if len(combinators) + len(operators) != 1:
        found = ", ".join(combinators + operators) or "none"
        yield "", f"{where} needs exactly one operator or And/Or/Not (found {found})"
        return
    if operators:
        if "Variable" not in condition:
            yield "", f"{where} has {operators[0]} but no Variable"
        return
    key = combinators[0]
    nested = condition[key]
    if key == "Not":
        yield from ((key, message) for _, message in condition_problems(nested, f"{where} Not"))
    elif not isinstance(nested, list) or not nested:
        yield key, f"{where} {key} must be a non-empty list of conditions"
    else:
        for index, item in enumerate(nested):
            yield from ((key, message) for _, message in condition_problems(item, f"{where} {key}[{index}]"))
