"""E104: aws:runShellScript steps have a runCommand list and only the inputs the plugin reads."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.placeholders import PLACEHOLDER
from releaseflow.rules._command_spec import shell_steps, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import CONTROL_INPUTS

CODE = "E104"
SUMMARY = "aws:runShellScript inputs missing, unknown, or of the wrong type"
WHY = (
    "aws:runShellScript reads runCommand (StringList, required), workingDirectory and timeoutSeconds; "
    "runCommand may also be one {{ Param }} that holds a StringList."
)
SOURCE = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html"
)

INPUTS = ("runCommand", "workingDirectory", "timeoutSeconds", *CONTROL_INPUTS)


def check(document, context) -> Iterator:
    for path, step, inputs in shell_steps(document):
        label = step_label(step, path)
        if not isinstance(step.get("inputs"), dict):
            continue  # E101 reports it
        if "runCommand" not in inputs:
            yield finding(document, CODE, (*path, "inputs"), f"step {label} has no runCommand")
        else:
            commands = inputs["runCommand"]
            is_lines = isinstance(commands, list) and all(isinstance(line, str) for line in commands)
            is_parameter = isinstance(commands, str) and PLACEHOLDER.fullmatch(commands.strip())
            if not (is_lines or is_parameter):
                yield finding(
                    document,
                    CODE,
                    (*path, "inputs", "runCommand"),
                    f"step {label}: runCommand must be a list of strings or one {{{{ Parameter }}}}, "
                    f"found {describe(commands)}",
                )
        directory = inputs.get("workingDirectory")
        if directory is not None and not isinstance(directory, str):
            yield finding(
                document,
                CODE,
                (*path, "inputs", "workingDirectory"),
                f"step {label}: workingDirectory must be a string, found {describe(directory)}",
            )
        for key in inputs:
            if key not in INPUTS:
                yield finding(
                    document,
                    CODE,
                    (*path, "inputs", key),
                    f"step {label}: aws:runShellScript has no input {describe(key)}; "
                    f"known: {', '.join(INPUTS)}",
                )
