"""Running every rule over a set of documents; parse failures become findings, not crashes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from releaseflow.documents import Document, find_document_files, load_document
from releaseflow.errors import DocumentError
from releaseflow.findings import Finding
from releaseflow.rules import Rule, all_rules

PARSE_ERROR = "E001"
_LOCATED = re.compile(r"^(?P<path>.*?):(?P<line>\d+): (?P<message>.*)$", re.S)


@dataclass(frozen=True)
class Context:
    """What a rule may know beyond its own document: the other documents validated with it."""

    documents: dict[str, Document] = field(default_factory=dict)


def validate_paths(paths: Iterable[str | Path]) -> list[Finding]:
    """Load every document under `paths` and return all findings, sorted by file and line."""
    return load_and_validate(paths)[1]


def load_and_validate(paths: Iterable[str | Path]) -> tuple[list[Document], list[Finding]]:
    """The documents under `paths` that parse, and all findings sorted by file and line: each file is
    parsed once, for those who go on to use the documents (publish)."""
    documents: list[Document] = []
    findings: list[Finding] = []
    for path in find_document_files(paths):
        try:
            documents.append(load_document(path))
        except DocumentError as error:
            findings.append(_parse_finding(str(path), str(error)))
    findings.extend(validate_documents(documents))
    return documents, sorted(set(findings))


def validate_documents(documents: list[Document], rules: list[Rule] | None = None) -> list[Finding]:
    """Run the rules over already-parsed documents."""
    context = Context(documents={document.name: document for document in documents})
    findings: list[Finding] = []
    for document in documents:
        for rule in rules if rules is not None else all_rules():
            findings.extend(rule.check(document, context))
    return sorted(set(findings))


def _parse_finding(path: str, message: str) -> Finding:
    match = _LOCATED.match(message)
    if match:
        return Finding(path, int(match["line"]), PARSE_ERROR, match["message"])
    return Finding(path, 1, PARSE_ERROR, message)
