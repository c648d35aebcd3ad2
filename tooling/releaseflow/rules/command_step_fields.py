"""E101: Command document steps have an action, a name and inputs, and no Automation-only fields."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._command_spec import main_steps, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import CONTROL_INPUTS

CODE = "E101"
SUMMARY = "Command step field missing, unknown, or of the wrong type"
WHY = (
    "A Command document step has action, name, inputs and optionally precondition. Step control "
    "(onFailure, onSuccess, finallyStep) goes inside inputs, unlike Automation, where it is a step field."
)
SOURCE = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html"
)

FIELDS = ("action", "name", "inputs", "precondition", "description")
REQUIRED = {"action": str, "name": str, "inputs": dict}


def check(document, context) -> Iterator:
    for path, step in main_steps(document):
        label = step_label(step, path)
        for field, kind in REQUIRED.items():
            if field not in step:
                yield finding(document, CODE, path, f"step {label} has no {field}")
            elif not isinstance(step[field], kind):
                yield finding(
                    document,
                    CODE,
                    (*path, field),
                    f"step {label}: {field} must be a {'map' if kind is dict else 'string'}, "
                    f"found {describe(step[field])}",
                )
        for field in step:
            if field in CONTROL_INPUTS:
                yield finding(
                    document,
                    CODE,
                    (*path, field),
                    f"step {label}: {field} belongs inside inputs in a Command document; here it is ignored",
                )
            elif field not in FIELDS:
                yield finding(
                    document,
                    CODE,
                    (*path, field),
                    f"step {label}: unknown field {describe(field)}; allowed: {', '.join(FIELDS)}",
                )
