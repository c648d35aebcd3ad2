"""ISO 8601 durations and timestamps as aws:sleep reads them."""

from __future__ import annotations

import re
from datetime import datetime

from releaseflow.engine.errors import StepFailed

MAX_SLEEP_SECONDS = 604799

_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration such as PT10S or P1DT2H; at most SSM's 604799."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    parts = {key: float(value) for key, value in match.groupdict().items() if value} if match else {}
    if not parts or text.strip().endswith("T"):
        raise StepFailed(f"Duration {text!r} is not an ISO 8601 duration such as PT10S")
    seconds = (
        parts.get("days", 0) * 86400 + parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60
    ) + parts.get("seconds", 0)
    if seconds > MAX_SLEEP_SECONDS:
        raise StepFailed(f"Duration {text} is longer than the maximum of {MAX_SLEEP_SECONDS} seconds")
    return seconds


def seconds_until(timestamp: str, now: float) -> float:
    """Seconds from `now` (epoch) until an ISO 8601 UTC timestamp such as 2026-01-01T00:00:00Z; 0 if past."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as error:
        raise StepFailed(f"Timestamp {timestamp!r} is not an ISO 8601 UTC timestamp") from error
    if moment.tzinfo is None:
        raise StepFailed(f"Timestamp {timestamp!r} has no time zone; write it in UTC with a Z")
    remaining = moment.timestamp() - now
    if remaining > MAX_SLEEP_SECONDS:
        raise StepFailed(f"Timestamp {timestamp} is more than {MAX_SLEEP_SECONDS} seconds away")
    return max(0.0, remaining)
