"""A count of the endpoint's state changes that its Automation engine waits on instead of polling itself."""

from __future__ import annotations

import threading


class Changes:
    """Moved by every change of a command (a send, an agent's report, a cancel, a timeout) and of an
    execution; a step that polls the endpoint's own state waits for it to move between polls
    (releaseflow.rehearsal.engine.context.ChangeSignal)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0

    def announce(self) -> None:
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    def seen(self) -> int:
        """A mark of the state now, for wait_past."""
        with self._condition:
            return self._count

    def wait_past(self, seen: int, timeout: float) -> bool:
        """Whether anything changed since `seen` was taken, waiting up to `timeout` seconds for it."""
        with self._condition:
            return self._condition.wait_for(lambda: self._count != seen, timeout)
