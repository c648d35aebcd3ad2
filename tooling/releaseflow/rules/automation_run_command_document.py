"""aws:runCommand names a Command document that exists and passes it only parameters it declares."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label, steps_of
from releaseflow.rules._aws_owned import has_reserved_prefix, is_aws_owned
from releaseflow.rules._common import finding
from releaseflow.rules._parameters import declared_names, parameters

CODE = "E212"
SUMMARY = "aws:runCommand DocumentName and Parameters match a validated Command document"
WHY = (
    "aws:runCommand takes a `DocumentName` (required) and the document's `Parameters`, and the user "
    'guide on document parameters says "Only when you use the aws:runCommand action are parameter '
    'types validated when you create the SSM document". SendCommand refuses a parameter the '
    "document does not declare and a missing required one, so the step fails on every host at deploy "
    "time. A DocumentName that is a {{ parameter }}, an ARN or an AWS-owned document cannot be "
    "checked offline and is skipped."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-runcommand.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:runCommand"):
        name = inputs.get("DocumentName")
        if not isinstance(name, str) or has_placeholder(name) or name.startswith("arn:"):
            continue
        if is_aws_owned(name) or has_reserved_prefix(name):
            continue
        label = step_label(step, path)
        target = context.documents.get(name)
        name_path = (*path, "inputs", "DocumentName")
        if target is None:
            message = (
                f"step {label}: DocumentName {name!r} is neither among the validated documents nor AWS-owned"
            )
            yield finding(document, CODE, name_path, message)
        elif target.document_type != "Command":
            kind = target.document_type or "unknown"
            message = f"step {label}: DocumentName {name!r} is an {kind} document, not a Command document"
            yield finding(document, CODE, name_path, message)
        elif isinstance(inputs.get("Parameters"), dict) or "Parameters" not in inputs:
            for key, message in _parameter_problems(inputs.get("Parameters") or {}, target):
                where = (*path, "inputs", "Parameters", *key) if "Parameters" in inputs else (*path, "inputs")
                yield finding(document, CODE, where, f"step {label}: {message}")


def _parameter_problems(passed: dict, target: Document) -> Iterator[tuple[tuple, str]]:
    for name in passed:
        if name not in declared_names(target):
            yield (name,), f"{target.name} declares no parameter {name!r}"
    for name, definition, _ in parameters(target):
        if "default" not in definition and name not in passed:
            yield (), f"{target.name} needs parameter {name!r}, which has no default"
