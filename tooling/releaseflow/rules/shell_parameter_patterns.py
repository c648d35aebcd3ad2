"""W101: a parameter that reaches a shell is limited by allowedValues or an anchored allowedPattern."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.placeholders import names_in
from releaseflow.rules._command_spec import shell_steps, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.rules._parameters import accepted_probe, parameters

CODE = "W101"
SUMMARY = "parameter reaches a shell without an anchored allowedPattern"
WHY = (
    "allowedPattern is not anchored: the agent checks it with Go regexp.MatchString, which matches anywhere "
    "in the value, so `[a-z]+` accepts `main; rm -rf /`. Scripts run as root: write `^...$`."
)
SOURCE = "https://github.com/aws/amazon-ssm-agent/blob/mainline/agent/framework/docparser/paramvalidator/allowedregexparamvalidator/allowedregexparamvalidator.go"

# Inputs of aws:runShellScript whose values end up in the shell script or its command line.
SHELL_INPUTS = ("runCommand", "workingDirectory")
# With interpolationType ENV_VAR the value reaches the script as $SSM_<Name>.
ENV_REFERENCE = re.compile(r"\$\{?SSM_([A-Za-z0-9]+)")


def check(document, context) -> Iterator:
    definitions = {name: (definition, path) for name, definition, path in parameters(document)}
    reported: set[str] = set()
    for step_path, step, inputs in shell_steps(document):
        for key in SHELL_INPUTS:
            for name in _referenced(inputs.get(key)):
                if name in reported or name not in definitions:
                    continue
                definition, path = definitions[name]
                if definition.get("type") not in ("String", "StringList"):
                    continue
                probe = accepted_probe(definition)
                if probe is None:
                    continue
                reported.add(name)
                source = definition.get("allowedPattern")
                guard = (
                    f"its allowedPattern {describe(source)} accepts {describe(probe)}"
                    if isinstance(source, str)
                    else "it has no allowedValues or allowedPattern"
                )
                yield finding(
                    document,
                    CODE,
                    path,
                    f"parameter {describe(name)} reaches the shell in step "
                    f"{step_label(step, step_path)} ({key}) "
                    f"but {guard}; use an anchored pattern like '^[A-Za-z0-9._/-]+$'",
                )


def _referenced(value) -> Iterator[str]:
    """Names of parameters a value uses, as {{ Name }} or as the environment variable SSM_<Name>."""
    yield from (name for _, name in names_in(value))
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str):
            yield from (match[1] for match in ENV_REFERENCE.finditer(text))
