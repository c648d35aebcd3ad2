"""README.md carries the current parameter tables, and the generator keeps the hand-written rest."""

import pytest

from releaseflow.docs import (
    DEFAULT_FILE,
    END,
    START,
    DocsError,
    load_sources,
    parameter_tables,
    replace_generated,
)


def test_readme_parameters_are_current():
    """The generated part of README.md equals what `python -m releaseflow.docs` writes now."""
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    assert replace_generated(text, parameter_tables(load_sources())) == text, (
        "README.md is stale: run .venv/bin/python -m releaseflow.docs"
    )


def test_every_document_and_parameter_is_listed():
    """Each document has a section, each of its parameters a row; a pipe in a pattern stays in its cell."""
    documents = load_sources()
    tables = parameter_tables(documents)
    assert len(documents) == 8
    for document in documents:
        assert f"### {document.name}\n" in tables
        for name in document.content["parameters"]:
            assert f"| `{name}` |" in tables
    assert "`^(auto\\|[1-9][0-9]{0,4})$`" in tables


def test_replace_keeps_text_outside_the_markers():
    """Only the text between the markers changes."""
    text = f"intro\n{START}\nold\n{END}\noutro\n"
    assert replace_generated(text, "new | row") == f"intro\n{START}\nnew | row\n{END}\noutro\n"


def test_missing_markers_are_an_error():
    """A file without the markers is refused rather than overwritten."""
    with pytest.raises(DocsError, match="no <!-- generated:parameters:start -->"):
        replace_generated("# README\n", "tables")
