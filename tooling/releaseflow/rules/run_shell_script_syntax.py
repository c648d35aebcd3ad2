"""aws:runShellScript: the script the agent runs parses (`sh -n`) and has no shellcheck error."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._command_spec import shell_steps, step_label
from releaseflow.rules._scripts import script_line
from releaseflow.rules._shell import problems

CODE = "E108"
SUMMARY = "aws:runShellScript script that does not parse or has a shellcheck error"
WHY = (
    "The agent joins the runCommand lines with \\n into one _script.sh and runs it with sh (a #! "
    "line picks the interpreter). A syntax error passes CreateDocument and fails the step on every "
    "host. Checked with `sh -n` (`bash -n` under #!/bin/bash; without #!, only what bash refuses "
    "too, as Amazon Linux's sh is bash) and shellcheck's error-level findings "
    "(https://www.shellcheck.net/wiki/); without shellcheck, `sh -n` alone, said once."
)
SOURCE = "https://github.com/aws/amazon-ssm-agent/blob/mainline/agent/plugins/runscript/runscript.go"


def check(document: Document, context) -> Iterator[Finding]:
    for path, step, inputs in shell_steps(document):
        commands = inputs.get("runCommand")
        if not isinstance(commands, list) or not all(isinstance(line, str) for line in commands):
            continue  # a {{ Parameter }} is known only at run time; E104 reports other shapes
        script = "\n".join(commands)
        # Where each line of the joined script comes from: (index in runCommand, line in that item).
        origins = [
            (index, offset) for index, item in enumerate(commands) for offset in range(item.count("\n") + 1)
        ]
        label = step_label(step, path)
        for problem in problems(script):
            index, offset = origins[min(problem.line, len(origins)) - 1]
            item_path = (*path, "inputs", "runCommand", index)
            line = script_line(document, item_path, offset + 1)
            message = f"step {label}: runCommand line {problem.line}: {problem.tool}: {problem.message}"
            yield Finding(document.path, line, CODE, message)
