"""Automation outputs: steps declare Name/Selector/Type, the runbook's outputs name real step outputs."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import is_automation, outputs_of, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import OUTPUT_TYPES

CODE = "E209"
SUMMARY = "Automation step outputs and runbook outputs are well formed and resolve"
WHY = (
    "A step declares `outputs` as a list of Name, Selector (JSONPath) and Type; the runbook's "
    'top-level `outputs` is a list of "Step.Output" names. Types are String, Integer, Boolean, '
    "StringList, StringMap and MapList. An output that names no step output is empty in every "
    "execution, which operators read as a result."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-outputs-inputs.html"

OUTPUT_FIELDS = ("Name", "Selector", "Type")


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    steps: dict[str, dict] = {}
    for path, step in document.steps():
        if isinstance(step.get("name"), str):
            steps.setdefault(step["name"], step)
        yield from _step_outputs(document, path, step)
    declared = document.content.get("outputs")
    if "outputs" in document.content and not isinstance(declared, list):
        yield finding(document, CODE, ("outputs",), 'outputs must be a list of "Step.Output" names')
        return
    for index, entry in enumerate(declared or []):
        problem = _runbook_output_problem(entry, steps)
        if problem:
            yield finding(document, CODE, ("outputs", index), f"outputs[{index}] {problem}")


def _step_outputs(document: Document, path, step: dict) -> Iterator[Finding]:
    if "outputs" not in step:
        return
    label = step_label(step, path)
    outputs = step["outputs"]
    if not isinstance(outputs, list):
        yield finding(document, CODE, (*path, "outputs"), f"step {label}: outputs must be a list")
        return
    for index, output in enumerate(outputs):
        where = (*path, "outputs", index)
        if not isinstance(output, dict):
            yield finding(document, CODE, where, f"step {label}: outputs[{index}] is not a map")
            continue
        for field in OUTPUT_FIELDS:
            if not isinstance(output.get(field), str):
                yield finding(document, CODE, where, f"step {label}: outputs[{index}] has no {field}")
        for field in sorted(set(output) - set(OUTPUT_FIELDS), key=str):
            yield finding(
                document, CODE, (*where, field), f"step {label}: outputs[{index}] unknown field {field!r}"
            )
        kind = output.get("Type")
        if isinstance(kind, str) and kind not in OUTPUT_TYPES:
            types = ", ".join(OUTPUT_TYPES)
            message = f"step {label}: outputs[{index}] Type {describe(kind)} is not one of {types}"
            yield finding(document, CODE, (*where, "Type"), message)


def _runbook_output_problem(entry, steps: dict[str, dict]) -> str | None:
    if not isinstance(entry, str) or entry.count(".") != 1:
        return f'{describe(entry)} is not "Step.Output"'
    step_name, output = entry.split(".")
    if step_name not in steps:
        return f"{entry!r} names no step {step_name!r}"
    if output not in outputs_of(steps[step_name]):
        return f"{entry!r}: step {step_name!r} has no output {output!r}"
    return None
