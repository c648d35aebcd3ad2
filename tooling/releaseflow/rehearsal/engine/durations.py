"""aws:sleep's Duration and Timestamp as the engine waits them out (the format: releaseflow.ssm)."""

from __future__ import annotations

from releaseflow.rehearsal.engine.errors import StepFailed
from releaseflow.ssm import MAX_SLEEP_SECONDS, parse_timestamp
from releaseflow.ssm import duration_seconds as _measure


def duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration such as PT10S, P1DT2H or P0W; at most SSM's 604799."""
    seconds = _measure(text)
    if seconds is None:
        raise StepFailed(f"Duration {text!r} is not an ISO 8601 duration such as PT10S")
    if seconds > MAX_SLEEP_SECONDS:
        raise StepFailed(f"Duration {text} is longer than the maximum of {MAX_SLEEP_SECONDS} seconds")
    return seconds


def seconds_until(timestamp: str, now: float) -> float:
    """Seconds from `now` (epoch) until an ISO 8601 timestamp such as 2026-01-01T00:00:00Z; 0 if past."""
    moment = parse_timestamp(timestamp)
    if moment is None:
        raise StepFailed(
            f"Timestamp {timestamp!r} is not an ISO 8601 timestamp with a zone, such as 2026-01-01T00:00:00Z"
        )
    remaining = moment.timestamp() - now
    if remaining > MAX_SLEEP_SECONDS:
        raise StepFailed(f"Timestamp {timestamp} is more than {MAX_SLEEP_SECONDS} seconds away")
    return max(0.0, remaining)
