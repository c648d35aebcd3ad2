"""What a deploy did to each host, read from the marker lines the documents print (pure).

releaseflow-CheckoutRevision and releaseflow-Rollback print one line per outcome (docs/CONTRACTS.md):

    releaseflow-outcome: switched revision=<commit> previous=<commit|none> execution=<id>
    releaseflow-outcome: not-switched revision=<commit> execution=<id>
    releaseflow-outcome: rolled-back revision=<commit> execution=<id>
    releaseflow-outcome: rollback-failed execution=<id>

The report, `status --json` and the job summary all read hosts through `classify`; nothing else
parses the documents' output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from releaseflow.ssm import UNSUCCESSFUL

MARKER = "releaseflow-outcome:"
SWITCHED = "switched"
NOT_SWITCHED = "not-switched"
ROLLED_BACK = "rolled-back"
ROLLBACK_FAILED = "rollback-failed"
# A host that never ran a command that changes what it serves.
NOT_REACHED = "not-reached"
OUTCOMES = (SWITCHED, NOT_SWITCHED, ROLLED_BACK, ROLLBACK_FAILED)

CHECKOUT = "CheckoutRevision"
ROLLBACK = "Rollback"
# Phases that do not touch what a host serves: the fleet-wide prepare, and the rollback's checks.
_NOT_REACHING = ("PrepareRevision", ROLLBACK)
_LINE = re.compile(rf"^{re.escape(MARKER)} ([a-z-]+)((?: [A-Za-z]+=\S*)*)\s*$", re.MULTILINE)


class Run(Protocol):
    """One host's run of one document: execution.Invocation has this shape."""

    @property
    def phase(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def output(self) -> str: ...


@dataclass(frozen=True)
class Marker:
    outcome: str
    fields: dict[str, str]


@dataclass(frozen=True)
class HostOutcome:
    """One host's outcome; a revision is None where no document said it."""

    outcome: str
    before: str | None
    after: str | None

    @property
    def reached(self) -> bool:
        return self.outcome != NOT_REACHED

    @property
    def rolled_back(self) -> bool:
        return self.outcome == ROLLED_BACK


def markers(output: str) -> list[Marker]:
    """The marker lines in one run's output, in order; anything else is ignored."""
    found = []
    for match in _LINE.finditer(output):
        if match.group(1) in OUTCOMES:
            pairs = (item.partition("=") for item in match.group(2).split())
            found.append(Marker(match.group(1), {key: value for key, _, value in pairs}))
    return found


def classify(runs: Iterable[Run]) -> HostOutcome:
    """One host's outcome from all its runs (the deploy's and its fleet rollback's), in order."""
    runs = list(runs)
    if not any(run.phase not in _NOT_REACHING for run in runs):
        return HostOutcome(NOT_REACHED, None, None)
    outcome, before, after = NOT_SWITCHED, None, None
    for run in runs:
        for marker in markers(run.output) if run.phase in (CHECKOUT, ROLLBACK) else ():
            revision = marker.fields.get("revision")
            if marker.outcome == SWITCHED:
                previous = marker.fields.get("previous")
                outcome, after = SWITCHED, revision
                before = before or (previous if previous != "none" else None)
            elif marker.outcome == NOT_SWITCHED:
                before, after = before or revision, after or revision
            elif marker.outcome == ROLLED_BACK:
                outcome, after = ROLLED_BACK, revision
            elif marker.outcome == ROLLBACK_FAILED:
                outcome = ROLLBACK_FAILED
        # A rollback killed (timeout, cancel) before it could say so still left the host switched.
        if run.phase == ROLLBACK and outcome == SWITCHED and run.status in UNSUCCESSFUL:
            outcome = ROLLBACK_FAILED
    if outcome == NOT_SWITCHED and after is None:
        # Not switched and no document said where it is: it is where it was, whatever that was.
        after = before
    return HostOutcome(outcome, before, after)
