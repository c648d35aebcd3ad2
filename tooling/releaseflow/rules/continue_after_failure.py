"""W103: in a multi-step Command document, a failed step stops the later ones."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._command_spec import inputs_of, main_steps, step_label
from releaseflow.rules._common import finding

CODE = "W103"
SUMMARY = "later steps still run after this step fails"
WHY = (
    "When a step fails, later steps still run unless the failed step has `onFailure: exit`: a deploy "
    "would restart services on a failed checkout."
)
SOURCE = (
    "https://github.com/aws/amazon-ssm-agent/blob/mainline/agent/framework/runpluginutil/runpluginutil.go"
)


def check(document, context) -> Iterator:
    steps = main_steps(document)
    for position, (path, step) in enumerate(steps):
        if inputs_of(step).get("onFailure") in ("exit", "successAndExit"):
            continue
        platform = _platform(step)
        # Steps for different platforms never run on the same host, so they cannot follow each other.
        later = [other for _, other in steps[position + 1 :] if _same_host(platform, _platform(other))]
        if later:
            yield finding(
                document,
                CODE,
                path,
                f"step {step_label(step, path)} has no onFailure: exit, so {len(later)} later step(s) "
                "still run after it fails",
            )


def _platform(step: dict) -> str | None:
    """The platform a step's precondition limits it to, or None when it runs anywhere."""
    condition = step.get("precondition")
    arguments = condition.get("StringEquals") if isinstance(condition, dict) else None
    if isinstance(arguments, list) and len(arguments) == 2 and "platformType" in arguments:
        other = arguments[1] if arguments[0] == "platformType" else arguments[0]
        return other.lower() if isinstance(other, str) else None
    return None


def _same_host(first: str | None, second: str | None) -> bool:
    return first is None or second is None or first == second
