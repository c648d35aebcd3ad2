"""publish.*: the API calls a publish makes when nothing changed and when one document changed."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.stats import Summary, summarize
from releaseflow.publish import publish_documents

READS = ("Get", "List", "Describe")
# The document the "one changed" case edits; its description is a block scalar indented two spaces.
CHANGED = Path("documents") / "releaseflow-HealthCheck.yaml"


class CallCounter:
    """Counts a client's API calls through botocore's before-call event, and which of them write."""

    def __init__(self, client):
        self.names: list[str] = []
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model, **_) -> None:
        self.names.append(model.name)

    def take(self) -> tuple[int, int]:
        """(calls, writes) since the last take."""
        calls = len(self.names)
        writes = sum(1 for name in self.names if not name.startswith(READS))
        self.names.clear()
        return calls, writes


def measure(ssm, root: Path, runs: int = 3) -> dict[str, Summary]:
    """Publish root's documents once, then count calls of unchanged and of one-changed publishes."""
    counter = CallCounter(ssm)
    publish_documents(ssm, root)
    counter.take()
    unchanged_calls, unchanged_writes, changed_calls = [], [], []
    with tempfile.TemporaryDirectory(prefix="rf-bench-publish-") as scratch:
        copy = Path(scratch) / "root"
        for folder in ("documents", "automation"):
            shutil.copytree(root / folder, copy / folder)
        for run in range(runs):
            publish_documents(ssm, copy)
            calls, writes = counter.take()
            unchanged_calls.append(calls)
            unchanged_writes.append(writes)
            edited = copy / CHANGED
            edited.write_text(
                edited.read_text().replace("description: |-\n", f"description: |-\n  Bench edit {run}.\n", 1)
            )
            publish_documents(ssm, copy)
            changed_calls.append(counter.take()[0])
    return {
        "publish.unchanged_calls": summarize(unchanged_calls),
        "publish.unchanged_writes": summarize(unchanged_writes),
        "publish.changed_one_calls": summarize(changed_calls),
    }
