"""AWS's own documents (shared/corpus beside the repository) validate without a single error."""

from __future__ import annotations

from pathlib import Path

from releaseflow.documents import find_document_files, load_document
from releaseflow.validation import validate_paths

# CI copies shared/ beside the clone, as it is beside /work/main here.
CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"


def test_corpus_is_present():
    """The corpus folder exists and holds documents: a missing corpus is a failure, not a skip."""
    assert CORPUS.is_dir(), f"{CORPUS} is missing: copy shared/ beside the repository"
    assert len(find_document_files([CORPUS])) >= 30


def test_corpus_has_no_errors():
    """Every corpus document passes every error rule; warnings are allowed."""
    errors = [str(finding) for finding in validate_paths([CORPUS]) if finding.is_error]
    assert errors == []


def test_corpus_includes_both_document_types():
    """The corpus exercises the Command rules as well as the Automation ones, so the check above means something."""
    types = {load_document(path).document_type for path in find_document_files([CORPUS])}
    assert types == {"Command", "Automation"}
