"""Where a script held in a document input starts, so a finding in it names the document's own line."""

from __future__ import annotations

import re

from releaseflow.documents import Document, JsonPath

# `Script: |` or `- |` (also `|-`, `|+`, `|2`): a YAML literal block, whose lines are the script's lines.
_LITERAL_BLOCK = re.compile(r"[:-]\s*\|[-+0-9]*\s*(#.*)?$")


def script_line(document: Document, path: JsonPath, line_in_script: int) -> int:
    """The document line of a script's line `line_in_script` (1-based), where the document keeps the
    script as a YAML literal block; otherwise (JSON, quoted or folded text) the line of its key."""
    key_line = document.line(path)
    lines = document.text.splitlines()
    block = (
        not document.path.endswith(".json")
        and 0 < key_line <= len(lines)
        and _LITERAL_BLOCK.search(lines[key_line - 1]) is not None
    )
    return key_line + line_in_script if block else key_line
