"""E105: onFailure, onSuccess and finallyStep in Command steps hold values the agent understands."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._command_spec import inputs_of, main_steps, step_label
from releaseflow.rules._common import describe, finding

CODE = "E105"
SUMMARY = "Command step onFailure/onSuccess/finallyStep invalid"
WHY = "Step control inputs: onFailure exit|successAndExit, onSuccess exit, finallyStep true (last step only)."
SOURCE = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html"
)

CHOICES = {"onFailure": ("exit", "successAndExit"), "onSuccess": ("exit",)}


def check(document, context) -> Iterator:
    steps = main_steps(document)
    for position, (path, step) in enumerate(steps):
        inputs = inputs_of(step)
        label = step_label(step, path)
        for key, choices in CHOICES.items():
            if key in inputs and inputs[key] not in choices:
                yield finding(
                    document,
                    CODE,
                    (*path, "inputs", key),
                    f"step {label}: {key} {describe(inputs[key])} is not one of {', '.join(choices)}",
                )
        if "finallyStep" not in inputs:
            continue
        if inputs["finallyStep"] is not True:
            yield finding(
                document,
                CODE,
                (*path, "inputs", "finallyStep"),
                f"step {label}: finallyStep {describe(inputs['finallyStep'])} must be true or left out",
            )
        elif position != len(steps) - 1:
            yield finding(
                document,
                CODE,
                (*path, "inputs", "finallyStep"),
                f"step {label}: finallyStep is allowed on the last step only",
            )
