"""The project's runbooks as `releaseflow publish --prefix` rewrites them, and the names a document's strings hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from releaseflow.documents import Document, parse_document
from releaseflow.pinning import rewrite_runbook

ROOT = Path(__file__).resolve().parents[2]
# Every document this project publishes, by source name (file stem = document name).
SOURCES = {
    path.stem: path for folder in ("documents", "automation") for path in (ROOT / folder).glob("*.yaml")
}
RUNBOOKS = sorted(path.stem for path in (ROOT / "automation").glob("*.yaml"))

# A run of SSM document-name characters; a final "." ends a sentence rather than the name.
_TOKEN = re.compile(r"[A-Za-z0-9_.-]*[A-Za-z0-9_-]")


def published_runbooks(prefix: str) -> dict[str, Document]:
    """Each runbook as publish with `prefix` sends it, by published name (runCommand steps left unpinned)."""
    names = {name: prefix + name for name in SOURCES}
    return {
        prefix + name: parse_document(
            rewrite_runbook(SOURCES[name].read_text(), "YAML", names=names, hashes={}), f"{prefix}{name}.yaml"
        )
        for name in RUNBOOKS
    }


def name_tokens(node: Any) -> Iterator[str]:
    """Every whole name-like token of every string in `node`, mapping keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from name_tokens(key)
            yield from name_tokens(value)
    elif isinstance(node, list):
        for value in node:
            yield from name_tokens(value)
    elif isinstance(node, str):
        yield from _TOKEN.findall(node)


def published_handler(runbook: Document, step_name: str):
    """The handler of a script step as publish sends it: the generated, standalone script text is what
    AWS runs, so the published (rewritten) form is tested by running that text."""
    [script] = [step["inputs"]["Script"] for step in _all_steps(runbook.content) if step["name"] == step_name]
    namespace: dict[str, Any] = {}
    exec(compile(script, f"{runbook.path}:{step_name}", "exec"), namespace)
    return namespace["handler"]


def _all_steps(content: dict) -> Iterator[dict]:
    for step in content.get("mainSteps") or []:
        yield step
        yield from _all_steps({"mainSteps": (step.get("inputs") or {}).get("Steps") or []})
