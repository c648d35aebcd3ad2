"""E107: every {{ }} in a Command document names a declared parameter or a Parameter Store value."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.placeholders import names_in
from releaseflow.rules._command_spec import is_command
from releaseflow.rules._common import describe, finding
from releaseflow.rules._parameters import declared_names, parameters

CODE = "E107"
SUMMARY = "placeholder that names no declared parameter"
WHY = (
    "The agent substitutes {{ Name }} with declared parameters and {{ ssm:/path }} from Parameter Store; "
    "anything else reaches the host as written. A parameter's default cannot refer to another parameter."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"

SSM_PREFIX = "ssm:"


def check(document, context) -> Iterator:
    if not is_command(document):
        return
    declared = declared_names(document)
    for key in ("mainSteps", "runtimeConfig"):
        for path, name in names_in(document.content.get(key)):
            if name not in declared and not _is_parameter_store(name):
                yield finding(
                    document,
                    CODE,
                    (key, *path),
                    f"{{{{ {name} }}}} names no declared parameter "
                    f"(declared: {', '.join(sorted(declared)) or 'none'})",
                )
    for parameter, definition, path in parameters(document):
        for below, name in names_in(definition.get("default")):
            if not _is_parameter_store(name):
                yield finding(
                    document,
                    CODE,
                    (*path, "default", *below),
                    f"parameter {describe(parameter)}: default refers to {{{{ {name} }}}}; defaults may only "
                    "refer to Parameter Store ({{ ssm:/path }})",
                )


def _is_parameter_store(name: str) -> bool:
    return name.startswith(SSM_PREFIX) and len(name) > len(SSM_PREFIX)
