"""aws:loop: either Iterators or a LoopCondition, nested Steps, and at most 100 iterations."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import (
    condition_problems,
    has_placeholder,
    is_automation,
    step_label,
    steps_of,
)
from releaseflow.rules._common import describe, finding
from releaseflow.rules._types import passed_problem, placeholder_types
from releaseflow.ssm import ITERATOR_TYPES
from releaseflow.ssm import MAX_LOOP_ITERATIONS as MAX_ITERATIONS

CODE = "E210"
SUMMARY = "aws:loop inputs are well formed"
WHY = (
    "aws:loop takes `Iterators` (at most 100 values) with `IteratorDataType`, or a `LoopCondition`; "
    "its nested `Steps`; and `MaxIterations` (at most 100). The user guide: specify only one of "
    "Iterators and LoopCondition; IteratorDataType is Boolean, Integer, String or StringMap. "
    "Iterators is a list, or a {{ reference }} to a parameter or step output of a list type."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-loop.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:loop"):
        label = step_label(step, path)
        for key, message in _problems(inputs, placeholder_types(document)):
            yield finding(document, CODE, (*path, "inputs", *key), f"step {label}: {message}")


def _problems(inputs: dict, types: dict) -> Iterator[tuple[tuple, str]]:
    steps = inputs.get("Steps")
    if "Steps" in inputs and (not isinstance(steps, list) or not steps):
        yield ("Steps",), "Steps must be a non-empty list of steps"
    iterators, condition = "Iterators" in inputs, "LoopCondition" in inputs
    if iterators == condition:
        yield (), "needs exactly one of Iterators and LoopCondition"
    values = inputs.get("Iterators")
    # A {{ reference }} must name a list: a parameter or step output of a list type.
    problem = passed_problem("StringList", values, types) if iterators and has_placeholder(values) else None
    if problem:
        yield ("Iterators",), f"Iterators must be a list: {problem}"
    if iterators and not has_placeholder(values):
        if not isinstance(values, list):
            yield ("Iterators",), f"Iterators {describe(values)} is neither a list nor a {{{{ reference }}}}"
        elif len(values) > MAX_ITERATIONS:
            yield (
                ("Iterators",),
                f"Iterators lists {len(values)} values, at most {MAX_ITERATIONS} are allowed",
            )
    kind = inputs.get("IteratorDataType")
    if "IteratorDataType" in inputs and kind not in ITERATOR_TYPES and not has_placeholder(kind):
        yield (
            ("IteratorDataType",),
            f"IteratorDataType {describe(kind)} is not one of {', '.join(ITERATOR_TYPES)}",
        )
    if condition:
        for key, message in condition_problems(inputs["LoopCondition"], "LoopCondition"):
            yield ("LoopCondition", key) if key else ("LoopCondition",), message
    maximum = inputs.get("MaxIterations")
    if "MaxIterations" in inputs and not has_placeholder(maximum) and not _within_limit(maximum):
        yield (
            ("MaxIterations",),
            f"MaxIterations {describe(maximum)} is not an integer from 1 to {MAX_ITERATIONS}",
        )


def _within_limit(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ITERATIONS
