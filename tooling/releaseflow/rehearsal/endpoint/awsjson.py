"""AWS JSON-protocol pieces shared by the endpoint's services: errors, timestamps, filters, paging."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


class ApiError(Exception):
    """An error the endpoint answers as an AWS API does: HTTP 400 with `{"__type", "message"}`.

    Not commands._aws.AwsError, which is the CLI's report of a call AWS refused."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict:
        return {"__type": self.code, "message": self.message}


def epoch(seconds: float | None) -> float | None:
    """A timestamp as the JSON protocol sends it (epoch seconds); None stays absent."""
    return None if seconds is None else round(seconds, 3)


def parse_iso(text: str | None) -> float | None:
    """Epoch seconds from an ISO 8601 timestamp as agents report them (naive means UTC)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def compact(shape: dict) -> dict:
    """Drop absent members: botocore treats a JSON null as a value, AWS simply leaves them out."""
    return {key: value for key, value in shape.items() if value is not None}


def filter_values(filters: Sequence[dict] | None, known: Sequence[str], error: str) -> dict[str, list[str]]:
    """`[{Key, Values}]` as a dict; an unknown key is the operation's InvalidFilterKey-style error.

    A known key ending in ":" is a prefix (`tag:` accepts `tag:Name`)."""
    result: dict[str, list[str]] = {}
    for item in filters or []:
        key = item.get("Key", item.get("key")) or ""
        if key not in known and not any(k.endswith(":") and key.startswith(k) for k in known):
            raise ApiError(error, f"The filter key {key} is not supported here.")
        result.setdefault(key, []).extend(item.get("Values", item.get("valueSet", [])))
    return result


def page(items: list, request: dict, default_size: int = 50) -> tuple[list, str | None]:
    """One page of `items` by MaxResults/NextToken (the token is the next index)."""
    try:
        start = int(request.get("NextToken") or 0)
    except ValueError as exc:
        raise ApiError("InvalidNextToken", "The specified token is not valid.") from exc
    size = int(request.get("MaxResults") or default_size)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
