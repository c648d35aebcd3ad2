"""aws:runCommand and aws:executeAutomation: the parameters passed fit the called document's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label
from releaseflow.rules._aws_models import closest
from releaseflow.rules._aws_owned import owned_parameters
from releaseflow.rules._common import finding
from releaseflow.rules._types import passed_problem, placeholder_types

CODE = "E215"
SUMMARY = "parameters passed by aws:runCommand / aws:executeAutomation fit the called document"
WHY = (
    "SendCommand and StartAutomationExecution refuse a parameter the called document does not "
    "declare (names are case-sensitive), a missing required one, and a value that does not fit its "
    "type (a list for a String, a word for an Integer); the step fails when it runs. Checked against "
    "the validated documents, and for the AWS-owned documents runbooks commonly call (AWS-RunShellScript, "
    "AWS-RunPowerShellScript, AWS-UpdateSSMAgent, AWS-RunRemoteScript, AWS-ApplyAnsiblePlaybooks, "
    "AWS-ConfigureAWSPackage) against their published parameters, kept with their sources in "
    "rules/_aws_owned.py; where that list is partial, only names differing in case are refused. "
    "aws:runCommand names to validated documents are E212's."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html"

# The input that carries the called document's parameters, by action.
PARAMETER_INPUTS = {"aws:runCommand": "Parameters", "aws:executeAutomation": "RuntimeParameters"}
DOCUMENT_TYPES = {"aws:runCommand": "Command", "aws:executeAutomation": "Automation"}


@dataclass(frozen=True)
class _Called:
    """What is known of the called document's parameters."""

    name: str
    types: dict[str, object]
    required: tuple[str, ...]
    complete: bool
    check_names: bool


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    types_here = None
    for path, step in document.steps():
        action, inputs = step.get("action"), step.get("inputs")
        if not isinstance(action, str) or action not in PARAMETER_INPUTS or not isinstance(inputs, dict):
            continue
        called = _called(action, inputs.get("DocumentName"), context)
        key = PARAMETER_INPUTS[action]
        passed = inputs.get(key, {})
        if called is None or not isinstance(passed, dict):
            continue
        if types_here is None:
            types_here = placeholder_types(document)
        label = step_label(step, path)
        for name, message in _problems(called, passed, types_here):
            where = (*path, "inputs", key, name) if name is not None else (*path, "inputs")
            yield finding(document, CODE, where, f"step {label}: {key} {message}")


def _called(action: str, name, context) -> _Called | None:
    if not isinstance(name, str) or has_placeholder(name) or name.startswith("arn:"):
        return None
    owned = owned_parameters(name)
    if owned is not None:
        if owned.document_type != DOCUMENT_TYPES[action]:
            return None
        return _Called(name, dict(owned.types), owned.required, owned.complete, check_names=True)
    target = context.documents.get(name)
    if target is None or target.document_type != DOCUMENT_TYPES[action]:
        return None  # E212 reports a runCommand to nothing; other runbooks may live in the account
    declared = target.content.get("parameters")
    declared = declared if isinstance(declared, dict) else {}
    types = {str(n): d.get("type") for n, d in declared.items() if isinstance(d, dict)}
    required = tuple(str(n) for n, d in declared.items() if isinstance(d, dict) and "default" not in d)
    # aws:runCommand names and required ones to a validated Command document are E212's findings.
    check_names = action == "aws:executeAutomation"
    return _Called(name, types, required, True, check_names)


def _problems(called: _Called, passed: dict, types_here: dict) -> Iterator[tuple[str | None, str]]:
    by_lower = {name.lower(): name for name in called.types}
    for name, value in passed.items():
        name = str(name)
        if name in called.types:
            problem = passed_problem(called.types[name], value, types_here)
            if problem:
                yield name, f"{name!r}: {problem} ({called.name} declares it {called.types[name]})"
        elif called.check_names and name.lower() in by_lower:
            yield (
                name,
                f"{name!r}: {called.name} declares {by_lower[name.lower()]!r} (names are case-sensitive)",
            )
        elif called.check_names and called.complete:
            hint = closest(name, list(called.types))
            yield name, f"{name!r}: {called.name} declares no such parameter{hint}"
    if called.check_names:
        for name in called.required:
            if name not in passed:
                yield None, f"lacks {name!r}: {called.name} requires it (it has no default)"
