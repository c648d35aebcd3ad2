"""E005: the document's content fits SSM's 64 KB limit."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._common import finding

CODE = "E005"
SUMMARY = "content larger than 64 KB"
WHY = "CreateDocument and UpdateDocument refuse content over 64 KB."
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html"

LIMIT = 64 * 1024


def check(document, context) -> Iterator:
    size = len(document.text.encode("utf-8"))
    if size > LIMIT:
        yield finding(document, CODE, (), f"content is {size} bytes; SSM accepts at most {LIMIT}")
