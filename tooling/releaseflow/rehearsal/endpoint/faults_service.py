"""Fault injection for the rehearsal endpoint: throttling or 5xx answers to chosen SSM operations."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from releaseflow.rehearsal.endpoint.awsjson import ApiError

KINDS = {
    "throttle": ApiError("ThrottlingException", "Rate exceeded (injected by the rehearsal)", 400),
    "5xx": ApiError("InternalServerError", "Internal error (injected by the rehearsal)", 500),
}


@dataclass(frozen=True)
class Faults:
    """Which requests fail: SSM `operations`, optionally only those naming one of `names`."""

    operations: frozenset[str] = frozenset()
    rate: float = 0.0
    kind: str = "throttle"
    names: frozenset[str] = frozenset()

    @classmethod
    def from_request(cls, body: dict) -> Faults:
        """`{"operations": [...], "rate": 0..1, "kind": "throttle"|"5xx", "names": [...]}`; `{}` clears."""
        faults = cls(
            operations=frozenset(body.get("operations") or ()),
            rate=float(body.get("rate", 1.0 if body.get("operations") else 0.0)),
            kind=body.get("kind", "throttle"),
            names=frozenset(body.get("names") or ()),
        )
        if faults.kind not in KINDS or not 0 <= faults.rate <= 1:
            raise ApiError("ValidationException", f"kind must be one of {sorted(KINDS)}, rate within 0..1")
        return faults

    def matches(self, operation: str, request: dict) -> bool:
        return operation in self.operations and (not self.names or request.get("Name") in self.names)


class FaultsService:
    """Fails `rate` of the matching requests, spread evenly so that a run is reproducible.

    Evenly means the n-th match fails when floor(n * rate) grows: below 0.5 never two in a row, so
    a client that retries always gets through; a rate of 1 fails every match.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._matched = 0
        self._injected = 0

    def configure(self, body: dict) -> dict:
        """Replace the faults and reset the counters."""
        faults = Faults.from_request(body)
        with self._lock:
            self._faults, self._matched, self._injected = faults, 0, 0
        return self.report()

    def report(self) -> dict:
        """The faults in force and how many requests matched and failed since they were set."""
        with self._lock:
            faults = self._faults
            return {
                "operations": sorted(faults.operations),
                "rate": faults.rate,
                "kind": faults.kind,
                "names": sorted(faults.names),
                "matched": self._matched,
                "injected": self._injected,
            }

    @property
    def active(self) -> bool:
        return bool(self._faults.operations)

    def check(self, operation: str, request: dict) -> None:
        """Raise the injected error when this request is one that should fail."""
        with self._lock:
            if not self._faults.matches(operation, request):
                return
            self._matched += 1
            rate = self._faults.rate
            if math.floor(self._matched * rate) == math.floor((self._matched - 1) * rate):
                return
            self._injected += 1
            error = KINDS[self._faults.kind]
        raise ApiError(error.code, error.message, error.status)
