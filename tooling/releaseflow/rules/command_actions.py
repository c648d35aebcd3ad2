"""E103: every Command document step names a plugin the agent knows for the schema version."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._command_spec import main_steps, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import COMMAND_PLUGINS as ACTIONS

CODE = "E103"
SUMMARY = "Command step action unknown for the schema version"
WHY = (
    "The agent runs only the plugins it knows (aws:runShellScript, aws:runPowerShellScript, "
    "aws:runDocument, aws:configurePackage, ...); aws:runDocument and aws:downloadContent need 2.2. "
    "An unknown action fails on every host, after the document was published."
)
SOURCE = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html"
)


def check(document, context) -> Iterator:
    version = document.schema_version
    for path, step in main_steps(document):
        action = step.get("action")
        if not isinstance(action, str):
            continue  # E101 reports a missing or mistyped action
        versions = ACTIONS.get(action)
        if versions is None:
            yield finding(
                document,
                CODE,
                (*path, "action"),
                f"step {step_label(step, path)}: action {describe(action)} is not a Command document plugin",
            )
        elif version not in versions:
            yield finding(
                document,
                CODE,
                (*path, "action"),
                f"step {step_label(step, path)}: action {describe(action)} needs schemaVersion "
                f"{' or '.join(versions)}, not {version}",
            )
