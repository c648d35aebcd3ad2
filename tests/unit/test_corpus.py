"""AWS's own documents (tests/unit/data/corpus, MIT-licensed copies with AWS's LICENSE) validate without an error."""

from __future__ import annotations

from pathlib import Path

from releaseflow.documents import find_document_files, load_document
from releaseflow.validation import validate_paths

CORPUS = Path(__file__).parent / "data" / "corpus"


def test_corpus_is_present():
    """The corpus folder exists and holds documents: a missing corpus is a failure, not a skip."""
    assert CORPUS.is_dir(), f"{CORPUS} is missing"
    assert len(find_document_files([CORPUS])) >= 30


def test_corpus_has_no_errors():
    """Every corpus document passes every error rule; warnings are allowed."""
    errors = [str(finding) for finding in validate_paths([CORPUS]) if finding.is_error]
    assert errors == []


def test_corpus_includes_both_document_types():
    """The corpus exercises the Command rules as well as the Automation ones, so the check above means something."""
    types = {load_document(path).document_type for path in find_document_files([CORPUS])}
    assert types == {"Command", "Automation"}
