"""E102: Command document step names are simple identifiers and unique."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.rules._command_spec import main_steps
from releaseflow.rules._common import describe, finding

CODE = "E102"
SUMMARY = "Command step name malformed or duplicated"
WHY = (
    "Step names should be unique: the agent keys plugin results by name, so a second step of the same "
    "name hides the first one's status and output."
)
SOURCE = (
    "https://github.com/aws/amazon-ssm-agent/blob/mainline/agent/framework/runpluginutil/runpluginutil.go"
)

# Conservative: the characters AWS's own Command documents use in step names.
NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")


def check(document, context) -> Iterator:
    seen: set[str] = set()
    for path, step in main_steps(document):
        name = step.get("name")
        if not isinstance(name, str):
            continue  # E101 reports a missing or mistyped name
        if not NAME.fullmatch(name):
            yield finding(
                document,
                CODE,
                (*path, "name"),
                f"step name {describe(name)} must be 1 to 128 letters, digits, '_', '.' or '-'",
            )
        if name in seen:
            yield finding(
                document, CODE, (*path, "name"), f"step name {describe(name)} is used by an earlier step"
            )
        seen.add(name)
