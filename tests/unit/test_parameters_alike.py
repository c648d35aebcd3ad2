"""One contract per parameter name: a parameter several documents and runbooks declare is declared alike.

A deploy passes its AppDir, AppUser, Services... down to every command document it sends, so a pattern
or default that differs between two of them refuses at one step what another accepted, or runs a
command with another default than the deploy shows. RollbackFleet declares the deploy's parameters as
"empty means the deploy's": its default is empty and its pattern the deploy's made optional.

The blocks are written from one catalogue (parameters.yaml), so this holds by construction but where an
entry's `in` sets a field for one document: this checks the generated documents, what AWS reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from releaseflow.documents import find_document_files, load_document

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {
    document.name: document
    for document in map(load_document, find_document_files([ROOT / "documents", ROOT / "automation"]))
}
ROLLBACK_FLEET = "releaseflow-RollbackFleet"
# Each command document bounds its own run: these differ by design, and the runbooks compute them.
OWN_PER_DOCUMENT = {"executionTimeout"}


def declarations() -> dict[str, dict[str, dict]]:
    """Parameter name -> document name -> its declaration, for names declared more than once."""
    found: dict[str, dict[str, dict]] = {}
    for document in DOCUMENTS.values():
        for name, spec in (document.content.get("parameters") or {}).items():
            found.setdefault(name, {})[document.name] = spec
    return {name: by_document for name, by_document in found.items() if len(by_document) > 1}


def contract(spec: dict) -> dict:
    """What must agree: the type, the allowed values and pattern, the items' bounds and the default."""
    keys = ("type", "allowedPattern", "allowedValues", "minItems", "maxItems", "default")
    return {key: spec.get(key) for key in keys}


def optional(pattern: str) -> set[str]:
    """The ways a pattern `^X$` is written to also accept the empty string."""
    core = pattern.removeprefix("^").removesuffix("$")
    written = {f"^({core})?$"}
    if re.fullmatch(r"\((?:[^()]|\([^()]*\))*\)", core):
        written.add(f"^{core}?$")  # already one group: made optional as it stands
    return written


SHARED = sorted(name for name in declarations() if name not in OWN_PER_DOCUMENT)


def test_the_project_declares_parameters_in_more_than_one_place():
    """The check below has something to check: AppDir alone is declared by every document that runs on a host."""
    assert {"AppDir", "AppUser", "EnvironmentFile", "Services", "HealthCheckRetries"} <= set(SHARED)


@pytest.mark.parametrize("name", SHARED)
def test_a_parameter_is_declared_alike_wherever_it_is_declared(name):
    """Every document and the Deploy runbook agree on the parameter; RollbackFleet takes it empty or the deploy's way."""
    by_document = declarations()[name]
    alike = {document: contract(spec) for document, spec in by_document.items() if document != ROLLBACK_FLEET}
    first, *others = alike
    for document in others:
        assert alike[document] == alike[first], f"{name}: {document} and {first} differ"
    rollback = by_document.get(ROLLBACK_FLEET)
    if rollback is None or "default" not in rollback:
        return  # not RollbackFleet's, or its own required input (the execution to undo, its role)
    reference = alike[first]
    if rollback["default"] == reference["default"]:
        assert contract(rollback) == reference, f"{name}: RollbackFleet and {first} differ"
        return
    assert rollback["default"] in ("", []), f"{name}: RollbackFleet's default is neither empty nor {first}'s"
    assert rollback.get("type") == reference["type"], name
    pattern = reference["allowedPattern"]
    if pattern and reference["type"] == "String" and not re.fullmatch(pattern, ""):
        assert rollback["allowedPattern"] in optional(pattern), name
    else:
        assert rollback.get("allowedPattern") == pattern, name


def test_optional_accepts_both_ways_of_writing_it():
    """The helper itself: a one-group pattern may be made optional with or without another group."""
    assert optional("^(auto|[0-9]+)$") == {"^((auto|[0-9]+))?$", "^(auto|[0-9]+)?$"}
    assert optional("^[a-z]+$") == {"^([a-z]+)?$"}
    assert optional("^(/a)+$") == {"^((/a)+)?$"}
