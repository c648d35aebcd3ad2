"""The median of several runs, with the spread printed beside it."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """One figure over its runs: the median reported, min and max to show the spread."""

    median: float
    min: float
    max: float
    runs: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"median": self.median, "min": self.min, "max": self.max, "runs": list(self.runs)}


def summarize(runs: Sequence[float], digits: int = 3) -> Summary:
    """Median, min and max of the runs, rounded to `digits` places; at least one run is needed."""
    if not runs:
        raise ValueError("a figure needs at least one run")
    values = tuple(round(value, digits) for value in runs)
    return Summary(round(statistics.median(runs), digits), min(values), max(values), values)
