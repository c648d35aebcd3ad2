"""What every generator in devtools/ shares: which of its files are stale, and its command line.

Each generator (documents, runbooks, docs, conformance) knows only how to compute its files' text; this
module compares them with the disk and writes what changed, the same way for all of them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from releaseflow.errors import ReleaseflowError

ROOT = Path(__file__).resolve().parents[1]


def stale(files: dict[Path, str]) -> list[Path]:
    """The files whose text on disk differs from `files` (or that are missing)."""
    return [
        path for path, text in files.items() if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(
    argv: list[str],
    usage: str,
    generate: Callable[[], dict[Path, str]],
    errors: tuple[type[BaseException], ...] = (ReleaseflowError, OSError),
) -> int:
    """`python -m devtools.X`: write each generated file whose text changed, naming it; no arguments."""
    if argv:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    try:
        files = generate()
    except errors as error:
        print(f"Error: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 1)
    for path in stale(files):
        path.write_text(files[path], encoding="utf-8")
        print(f"updated {path.relative_to(ROOT)}")
    return 0
