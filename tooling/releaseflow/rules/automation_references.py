"""Every {{ }} in a runbook names a parameter, an earlier step's output, a loop value or a variable."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document, JsonPath
from releaseflow.findings import Finding
from releaseflow.placeholders import names_in
from releaseflow.rules._automation_spec import is_automation, outputs_of, step_label
from releaseflow.rules._common import finding
from releaseflow.rules._parameters import declared_names
from releaseflow.ssm import LOOP_OUTPUTS

CODE = "E211"
SUMMARY = "Automation {{ }} references resolve"
WHY = (
    "A runbook's {{ }} name a parameter, a step output (`{{Step.Output}}`) or a variable: "
    "`{{global:ACCOUNT_ID}}`, `{{global:DATE}}`, `{{global:DATE_TIME}}`, `{{global:AWS_PARTITION}}`, "
    "`{{global:REGION}}`, `{{automation:EXECUTION_ID}}`; nested loop steps also read "
    "`{{ LoopStep.CurrentIteratorValue }}`. A reference to nothing is not substituted: the literal "
    "braces reach the API call or the host, and fail there at run time."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-variables.html"

GLOBALS = frozenset(
    {
        "global:ACCOUNT_ID",
        "global:DATE",
        "global:DATE_TIME",
        "global:AWS_PARTITION",
        "global:REGION",
        "automation:EXECUTION_ID",
    }
)


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    parameters = declared_names(document)
    variables = document.content.get("variables")
    known = parameters | {f"variable:{name}" for name in (variables if isinstance(variables, dict) else {})}
    for path, name in names_in(document.content.get("assumeRole")):
        problem = _problem(name, known, {}, set(), set())
        if problem:
            yield finding(document, CODE, ("assumeRole", *path), f"assumeRole: {problem}")
    steps = list(document.steps())
    by_path = {path: step for path, step in steps}
    step_outputs = {step["name"]: outputs_of(step) for _, step in steps if isinstance(step.get("name"), str)}
    earlier: set[str] = set()
    for path, step in steps:
        loops = _enclosing_loops(path, by_path)
        for value_path, value, visible in _scanned_inputs(step, path, earlier, by_path):
            for ref_path, name in names_in(value):
                problem = _problem(name, known, step_outputs, visible, loops)
                if problem:
                    message = f"step {step_label(step, path)}: {problem}"
                    yield finding(document, CODE, (*value_path, *ref_path), message)
        if isinstance(step.get("name"), str):
            earlier.add(step["name"])


def _scanned_inputs(step: dict, path: JsonPath, earlier: set[str], by_path: dict) -> Iterator[tuple]:
    """(path, value, visible step names) for the parts of a step's inputs that this step evaluates.

    A loop's nested Steps are scanned as steps of their own; its LoopCondition is evaluated after
    them, so it also sees their outputs.
    """
    inputs = step.get("inputs")
    if not isinstance(inputs, dict):
        return
    inputs_path = (*path, "inputs")
    if step.get("action") != "aws:loop":
        yield inputs_path, inputs, set(earlier)
        return
    nested = {
        s["name"]
        for p, s in by_path.items()
        if p[: len(path)] == path and p != path and isinstance(s.get("name"), str)
    }
    for key, value in inputs.items():
        if key == "Steps":
            continue
        visible = earlier | nested if key == "LoopCondition" else set(earlier)
        yield (*inputs_path, key), value, visible


def _enclosing_loops(path: JsonPath, by_path: dict) -> set[str]:
    """The names of the aws:loop steps whose Steps hold the step at `path`."""
    names = set()
    for end in range(len(path) - 1, 0, -1):
        outer = by_path.get(path[:end])
        if outer is not None and outer.get("action") == "aws:loop" and isinstance(outer.get("name"), str):
            names.add(outer["name"])
    return names


def _is_variable(name: str) -> bool:
    return name.partition(":")[0] in ("global", "automation", "variable", "ssm")


def _variable_problem(name: str, known: set[str]) -> str | None:
    """What is wrong with a reference that is not a step output: a parameter or a variable."""
    if name in known or name in GLOBALS or name.startswith("ssm:"):
        return None
    if _is_variable(name):
        return f"{{{{ {name} }}}} is not a known variable"
    return f"{{{{ {name} }}}} names no parameter"


def _problem(
    name: str, known: set[str], step_outputs: dict[str, set[str]], visible: set[str], loops: set[str]
) -> str | None:
    """What is wrong with `{{ name }}` seen from a step, or None when it resolves."""
    if _is_variable(name) or "." not in name:
        return _variable_problem(name, known)
    step_name, _, output = name.partition(".")
    if step_name not in step_outputs:
        return f"{{{{ {name} }}}} names no step {step_name!r}"
    if output in LOOP_OUTPUTS and step_name in loops:
        return None
    if output in LOOP_OUTPUTS and output not in step_outputs[step_name]:
        return f"{{{{ {name} }}}} is only available inside loop {step_name!r}"
    if output not in step_outputs[step_name]:
        return f"{{{{ {name} }}}}: step {step_name!r} has no output {output!r}"
    if step_name not in visible:
        return f"{{{{ {name} }}}}: step {step_name!r} does not run before this one"
    return None
