"""Small helpers shared by rule modules."""

from __future__ import annotations

from releaseflow.documents import Document, JsonPath
from releaseflow.findings import Finding


def finding(document: Document, code: str, path: JsonPath, message: str) -> Finding:
    """A finding at the line of `path` in `document`."""
    return Finding(document.path, document.line(path), code, message)


def describe(value) -> str:
    """A value quoted for a message, shortened so one finding stays one readable line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
