"""documents/ is what `make documents` writes: each Command document from its source and the catalogue."""

from devtools import documents
from devtools.documents import TARGET, generated_files, stale_files
from devtools.parameters import MARKER


def test_every_document_is_current():
    """documents/*.yaml equal what `make documents` writes from documents-src/ and parameters.yaml now."""
    assert stale_files() == [], (
        "documents are stale: edit documents-src/ or parameters.yaml, then run `make documents`"
    )


def test_every_document_has_a_source_whose_parameters_come_from_the_catalogue():
    """Each document in documents/ is generated, and its parameters from one marker, not written by hand."""
    assert sorted(generated_files()) == sorted(TARGET.glob("*.yaml"))
    for source in documents.sources():
        text = source.read_text()
        assert len(MARKER.findall(text)) == 1, source.name
        assert "\nparameters:\n" not in text, source.name


def test_make_documents_is_a_target():
    """`make documents` regenerates documents/."""
    makefile = (documents.ROOT / "Makefile").read_text()
    assert "documents: venv\n\t$(PY) -m devtools.documents\n" in makefile
