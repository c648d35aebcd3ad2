"""parameters.yaml holds each parameter once, every entry is declared somewhere, and a block is written as
the documents were written by hand (so that generating them changed no byte AWS reads)."""

from __future__ import annotations

import re

import pytest

from devtools import documents, parameters, runbooks
from devtools.parameters import (
    EMPTY_MEANS_THE_DEPLOYS,
    IN,
    ParametersError,
    Quoted,
    block,
    declaration,
    empty_means_the_deploys,
    expand,
    load_catalogue,
    markers,
    optional,
)

CATALOGUE = load_catalogue()
# Document name -> the (name, variant) pairs its source's marker lists.
LISTED = {
    path.stem: markers(path.read_text(encoding="utf-8"))
    for path in [*documents.sources(), *runbooks.sources()]
}


def test_every_entry_is_declared_by_some_document_and_every_marker_name_is_an_entry():
    """No entry is left unused, and each source names only entries (the generator refuses others too)."""
    named = {name for pairs in LISTED.values() for name, _ in pairs}
    assert named == set(CATALOGUE)


def test_every_in_names_a_document_that_declares_the_parameter():
    """A per-document difference is for a document that lists the parameter: no stale override."""
    for name, entry in CATALOGUE.items():
        for document in entry.get(IN) or {}:
            assert name in {listed for listed, _ in LISTED.get(document, [])}, (name, document)


def test_the_empty_means_the_deploys_variant_is_used_where_it_is_defined_and_only_there():
    """An entry with the variant is written `Name?` by the document that overrides the deploy's values."""
    variants = {name for pairs in LISTED.values() for name, variant in pairs if variant}
    assert variants == {name for name, entry in CATALOGUE.items() if EMPTY_MEANS_THE_DEPLOYS in entry}
    assert {document for document, pairs in LISTED.items() if any(v for _, v in pairs)} == {
        "releaseflow-RollbackFleet"
    }


def test_a_variant_is_empty_by_default_and_its_pattern_takes_the_empty_string():
    """RollbackFleet's variant: default empty, pattern made optional for a String, minItems dropped."""
    services = declaration(CATALOGUE["Services"], "releaseflow-RollbackFleet", variant=True)
    assert services["default"] == [] and "minItems" not in services
    assert services["allowedPattern"] == CATALOGUE["Services"]["allowedPattern"]
    app_dir = declaration(CATALOGUE["AppDir"], "releaseflow-RollbackFleet", variant=True)
    assert app_dir["default"] == "" and re.fullmatch(app_dir["allowedPattern"], "")
    assert re.fullmatch(app_dir["allowedPattern"], "/srv/app")
    # A pattern that already takes "" (no load balancer) stays as it is.
    arn = CATALOGUE["TargetGroupArn"]
    assert empty_means_the_deploys(arn, "x")["allowedPattern"] == arn["allowedPattern"]


def test_optional_wraps_a_pattern_once():
    """`^X$` becomes `^(X)?$`; a pattern that is one group already becomes `^(...)?$` without another."""
    assert optional("^(auto|[0-9]+)$") == "^(auto|[0-9]+)?$"
    assert optional("^[a-z]+$") == "^([a-z]+)?$"
    assert optional("^(/a)+$") == "^((/a)+)?$"


def test_in_sets_fields_over_the_entry_and_null_leaves_one_out():
    """A document's own description replaces the entry's; a field set to null is not declared there."""
    entry = {
        "type": "String",
        "description": Quoted("shared"),
        "maxChars": 5,
        IN: {"doc-A": {"description": Quoted("A's"), "maxChars": None}},
    }
    assert declaration(entry, "doc-A") == {"type": "String", "description": "A's"}
    assert declaration(entry, "doc-B") == {"type": "String", "description": "shared", "maxChars": 5}


def test_a_block_is_written_as_the_catalogue_quotes_it_with_env_var_in_command_documents():
    """Quoted values stay quoted, plain ones plain; a Command document adds ENV_VAR but to executionTimeout."""
    catalogue = {
        "Name": {"type": "String", "description": Quoted("It."), "default": "a:b", "minItems": 1},
        "List": {"type": "StringList", "description": Quoted("Them."), "default": ["x"]},
        "executionTimeout": {"type": "String", "description": Quoted("Bound."), "default": Quoted("9")},
    }
    names = [("Name", False), ("List", False), ("executionTimeout", False)]
    assert block(catalogue, "doc", names, command=True) == (
        "parameters:\n"
        '  Name:\n    type: String\n    description: "It."\n    default: a:b\n    minItems: 1\n'
        "    interpolationType: ENV_VAR\n"
        '  List:\n    type: StringList\n    description: "Them."\n    default:\n      - x\n'
        "    interpolationType: ENV_VAR\n"
        '  executionTimeout:\n    type: String\n    description: "Bound."\n    default: "9"'
    )
    assert "interpolationType" not in block(catalogue, "doc", names, command=False)


def test_a_marker_becomes_the_block_and_may_go_on_over_lines():
    """The marker, one line or more, is replaced by the block; the rest of the source stays as it is."""
    catalogue = {"A": {"type": "String", "description": Quoted("a")}, "B": {"type": "String"}}
    source = 'schemaVersion: "0.3"\nparameters: <<catalogue A\n  B>>\nmainSteps: []\n'
    assert expand(source, "doc", catalogue) == (
        'schemaVersion: "0.3"\nparameters:\n  A:\n    type: String\n    description: "a"\n'
        "  B:\n    type: String\nmainSteps: []\n"
    )


def test_a_name_not_in_the_catalogue_or_a_variant_not_defined_is_refused():
    """The generator names the parameter the catalogue lacks, or the variant it does not define."""
    catalogue = {"A": {"type": "String"}}
    with pytest.raises(ParametersError, match=r"B not in parameters\.yaml"):
        block(catalogue, "doc", [("B", False)], command=False)
    with pytest.raises(ParametersError, match="A has no emptyMeansTheDeploys"):
        block(catalogue, "doc", [("A", True)], command=False)


def test_an_unknown_field_in_the_catalogue_is_refused(tmp_path):
    """A misspelt field would silently not reach any document: loading the catalogue refuses it."""
    path = tmp_path / "parameters.yaml"
    path.write_text("A:\n  type: String\n  defualt: x\n")
    with pytest.raises(ParametersError, match="A: unknown field defualt"):
        parameters.load_catalogue(path)
