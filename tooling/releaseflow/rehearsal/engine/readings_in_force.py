"""The open readings a rehearsal plays, and where its runs met one: a point where the readings differ.

A reading is *met* only where choosing another reading of the same row would have changed what
happened (a nested step's onCancel leading out of its loop, an output selector matching nothing, a
script returning past 100 KB...), not wherever the row is looked up. So a run that met no reading
behaves the same under every setting, and the scenario tests need to run once per setting only
when they meet one (tests/support/scenarios.py checks that after each module).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from releaseflow.readings import DEFAULT

# Enough places to point at the step that met a reading, without growing with a long rehearsal.
WHERE_KEPT = 5


class ReadingsMet:
    """Which open readings runs met, with the reading played and the first places; shared by threads.

    With a `path` the ledger is kept in that file, so a restarted endpoint goes on with it."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._met: dict[str, dict] = json.loads(path.read_text()) if path and path.exists() else {}

    def add(self, name: str, reading: str, where: str) -> None:
        with self._lock:
            entry = self._met.setdefault(name, {"reading": reading, "count": 0, "where": []})
            entry["count"] += 1
            if where not in entry["where"] and len(entry["where"]) < WHERE_KEPT:
                entry["where"].append(where)
            if self._path:
                self._path.write_text(json.dumps(self._met, indent=1))

    def report(self) -> dict[str, dict]:
        """{name: {"reading": played, "count": times met, "where": [first places]}}."""
        with self._lock:
            return {name: {**entry, "where": list(entry["where"])} for name, entry in self._met.items()}


class ReadingsInForce(Mapping[str, str]):
    """Every open reading's chosen value (read like a dict), and the ledger of the ones met."""

    def __init__(self, chosen: Mapping[str, str], met: ReadingsMet | None = None):
        self._chosen = {**DEFAULT, **chosen}
        self.met = met if met is not None else ReadingsMet()

    def __getitem__(self, name: str) -> str:
        return self._chosen[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._chosen)

    def __len__(self) -> int:
        return len(self._chosen)

    def play(self, name: str, where: str) -> str:
        """The reading of `name` in force, recorded as met at `where` (a step, a document)."""
        self.met.add(name, self._chosen[name], where)
        return self._chosen[name]


def play(readings: Mapping[str, str], name: str, where: str) -> str:
    """The reading of `name` to act on at a point where the readings differ; recorded when the
    mapping keeps a ledger (a plain dict, as unit tests pass, gives its value or the default)."""
    if isinstance(readings, ReadingsInForce):
        return readings.play(name, where)
    return readings.get(name, DEFAULT[name])
