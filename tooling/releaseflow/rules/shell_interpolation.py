"""W102: parameters reach shell scripts as SSM_<Name> environment variables, not pasted in as {{ Name }}."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.placeholders import PLACEHOLDER
from releaseflow.rules._command_spec import shell_steps, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.rules._parameters import accepted_probe, parameters

CODE = "W102"
SUMMARY = "parameter pasted into a shell script instead of interpolationType ENV_VAR"
WHY = (
    "{{ Name }} pastes the value into the script text, where the shell parses it. With "
    '`interpolationType: ENV_VAR` the agent exports SSM_<Name> instead; quote it ("$SSM_Name"). The '
    'fallback for old agents, `if [ -z "${SSM_Name+x}" ]; then export SSM_Name="{{Name}}"; fi`, is '
    "accepted for a parameter limited by allowedValues or an anchored allowedPattern."
)
SOURCE = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html"
)


def _fallback(name: str) -> re.Pattern:
    """The accepted idiom that sets SSM_<Name> from {{ Name }} only on agents that did not."""
    variable = re.escape(f"SSM_{name}")
    placeholder = rf"\{{\{{\s*{re.escape(name)}\s*\}}\}}"
    return re.compile(
        rf'\s*if \[ -z "\$\{{{variable}\+x\}}" \]; then export {variable}="{placeholder}"; fi\s*'
    )


def check(document, context) -> Iterator:
    definitions = {name: definition for name, definition, _ in parameters(document)}
    for step_path, step, inputs in shell_steps(document):
        commands = inputs.get("runCommand")
        if not isinstance(commands, list):
            continue
        for index, line in enumerate(commands):
            if not isinstance(line, str):
                continue
            for match in PLACEHOLDER.finditer(line):
                name = match[1]
                definition = definitions.get(name)
                if definition is None or definition.get("type") not in ("String", "StringList"):
                    continue
                if _is_accepted_fallback(line, name, definition):
                    continue
                yield finding(
                    document,
                    CODE,
                    (*step_path, "inputs", "runCommand", index),
                    f"step {step_label(step, step_path)} pastes {describe(match[0])} into the script; "
                    f'set interpolationType: ENV_VAR on {describe(name)} and use "$SSM_{name}"',
                )


def _is_accepted_fallback(line: str, name: str, definition: dict) -> bool:
    return (
        definition.get("interpolationType") == "ENV_VAR"
        and accepted_probe(definition) is None
        and _fallback(name).fullmatch(line) is not None
    )
