"""aws:sleep waits for an ISO 8601 Duration or until an ISO 8601 Timestamp, at most a week."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label, steps_of
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import MAX_SLEEP_SECONDS as MAX_SECONDS
from releaseflow.ssm import duration_seconds, parse_timestamp

CODE = "E207"
SUMMARY = "aws:sleep Duration and Timestamp are valid ISO 8601 and within the limit"
WHY = (
    "aws:sleep waits for an ISO 8601 `Duration` (PT10S) or until an ISO 8601 `Timestamp`. The user "
    'guide: "Automation supports a maximum delay of 604799 seconds (7 days)", a negative duration is '
    "refused, and without a Timestamp a Duration is required."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-sleep.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:sleep"):
        label = step_label(step, path)
        if "Duration" not in inputs and "Timestamp" not in inputs:
            yield finding(document, CODE, (*path, "inputs"), f"step {label}: needs a Duration or a Timestamp")
        duration = inputs.get("Duration")
        if "Duration" in inputs and not has_placeholder(duration):
            seconds = duration_seconds(duration)
            if seconds is None:
                message = (
                    f"Duration {describe(duration)} is not an ISO 8601 duration such as PT10S or PT1H30M"
                )
                yield finding(document, CODE, (*path, "inputs", "Duration"), f"step {label}: {message}")
            elif seconds > MAX_SECONDS:
                message = (
                    f"Duration {duration!r} is {seconds:.0f} s, more than the {MAX_SECONDS} s SSM allows"
                )
                yield finding(document, CODE, (*path, "inputs", "Duration"), f"step {label}: {message}")
        timestamp = inputs.get("Timestamp")
        if "Timestamp" in inputs and not has_placeholder(timestamp) and not _is_timestamp(timestamp):
            message = f"Timestamp {describe(timestamp)} is not an ISO 8601 time such as 2026-01-01T01:00:00Z"
            yield finding(document, CODE, (*path, "inputs", "Timestamp"), f"step {label}: {message}")


def _is_timestamp(value) -> bool:
    return parse_timestamp(value) is not None
