"""aws:sleep waits for an ISO 8601 Duration or until an ISO 8601 Timestamp, at most a week."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label
from releaseflow.rules._common import describe, finding

CODE = "E207"
SUMMARY = "aws:sleep Duration and Timestamp are valid ISO 8601 and within the limit"
WHY = (
    "SSM-FACTS: aws:sleep `Duration` ISO 8601 (PT10S) or `Timestamp`; max 604799 s. The user guide: "
    "a negative duration is refused, and without a Timestamp a Duration is required."
)

MAX_SECONDS = 604799
DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<D>\d+)D)?(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<M>\d+)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?$"
)
WEEKS = re.compile(r"^P(?P<W>\d+)W$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$")
# Years and months have no fixed length; their shortest is enough to compare with the limit.
UNIT_SECONDS = {"Y": 365 * 86400, "Mo": 28 * 86400, "W": 604800, "D": 86400, "H": 3600, "M": 60, "S": 1}


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step in document.steps():
        inputs = step.get("inputs")
        if step.get("action") != "aws:sleep" or not isinstance(inputs, dict):
            continue
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


def duration_seconds(value) -> float | None:
    """The length of an ISO 8601 duration in seconds (at least), or None when it is not a duration."""
    if not isinstance(value, str):
        return None
    match = DURATION.match(value) or WEEKS.match(value)
    if match is None:
        return None
    return sum(float(amount) * UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


def _is_timestamp(value) -> bool:
    return isinstance(value, str) and TIMESTAMP.match(value) is not None
