"""aws:branch choices: each a NextStep with a Variable and exactly one known operator."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import condition_problems, is_automation, step_label, steps_of
from releaseflow.rules._common import finding

CODE = "E206"
SUMMARY = "aws:branch Choices are well formed"
WHY = (
    "aws:branch `Choices` is a list of choices, each a NextStep, a Variable and one operator, "
    "combined with And, Or and Not; the operators are StringEquals, EqualsIgnoreCase, StartsWith, "
    "EndsWith, Contains, NumericEquals, NumericGreater, NumericLesser, NumericGreaterOrEquals, "
    "NumericLesserOrEquals and BooleanEquals. The user guide: the system validates each operation "
    "when the runbook is created and refuses unsupported ones."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:branch"):
        if "Choices" not in inputs:
            continue  # E205 reports a missing Choices
        label = step_label(step, path)
        choices = inputs["Choices"]
        choices_path = (*path, "inputs", "Choices")
        if not isinstance(choices, list) or not choices:
            yield finding(document, CODE, choices_path, f"step {label}: Choices must be a non-empty list")
            continue
        for index, choice in enumerate(choices):
            choice_path = (*choices_path, index)
            if isinstance(choice, dict) and not isinstance(choice.get("NextStep"), str):
                yield finding(document, CODE, choice_path, f"step {label}: Choices[{index}] has no NextStep")
            for key, message in condition_problems(choice, f"Choices[{index}]"):
                yield finding(
                    document, CODE, (*choice_path, key) if key else choice_path, f"step {label}: {message}"
                )
        default = inputs.get("Default")
        if "Default" in inputs and not isinstance(default, str):
            yield finding(
                document, CODE, (*path, "inputs", "Default"), f"step {label}: Default is not a step name"
            )
