"""W104: a Command step's timeoutSeconds is a number the agent honours."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.placeholders import PLACEHOLDER
from releaseflow.rules._command_spec import inputs_of, main_steps, step_label
from releaseflow.rules._common import describe, finding

CODE = "W104"
SUMMARY = "timeoutSeconds the agent silently replaces with 3600"
WHY = (
    "timeoutSeconds: default 3600, range 5..172800; out-of-range or non-numeric values are silently "
    "reset to 3600."
)
SOURCE = "https://github.com/aws/amazon-ssm-agent/blob/mainline/agent/plugins/pluginutil/pluginutil.go"

LOW, HIGH = 5, 172800


def check(document, context) -> Iterator:
    for path, step in main_steps(document):
        inputs = inputs_of(step)
        if "timeoutSeconds" not in inputs:
            continue
        value = inputs["timeoutSeconds"]
        if isinstance(value, str) and PLACEHOLDER.fullmatch(value.strip()):
            continue  # set per run; the value is only known then
        seconds = _number(value)
        if seconds is None or not LOW <= seconds <= HIGH:
            yield finding(
                document,
                CODE,
                (*path, "inputs", "timeoutSeconds"),
                f"step {step_label(step, path)}: timeoutSeconds {describe(value)} is not a number from {LOW} "
                f"to {HIGH}; the agent silently uses 3600",
            )


def _number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
