"""Fixture runner for the validation rules: good documents stay clean, bad ones give exact findings.

Layout: tests/unit/fixtures/rules/<CODE>/good/*.{yaml,yml,json} must produce no finding of CODE and no
error at all; tests/unit/fixtures/rules/<CODE>/bad/<file> must produce exactly the CODE findings listed in
<file>.expected beside it, one `NAME:LINE: CODE message` a line, where NAME is the fixture's file
name (the folder is left out so the lines do not depend on where the tests run). Each fixture is
validated on its own, with every rule, the way `releaseflow validate <file>` would.

Regenerate the .expected files after changing a message (then review the diff):

    UPDATE_FIXTURES=1 .venv/bin/pytest tests/unit/test_rules_fixtures.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from releaseflow.documents import DOCUMENT_SUFFIXES
from releaseflow.findings import Finding
from releaseflow.validation import validate_paths

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
UPDATE = os.environ.get("UPDATE_FIXTURES") == "1"


def fixtures(kind: str) -> list[Path]:
    """Every fixture document of `kind` (good or bad), for every rule code."""
    return sorted(p for p in FIXTURES.glob(f"*/{kind}/*") if p.suffix in DOCUMENT_SUFFIXES)


def fixture_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def findings_of(path: Path) -> list[Finding]:
    """All findings for one fixture validated alone."""
    return validate_paths([path])


def render(path: Path, findings: list[Finding]) -> list[str]:
    """Findings as `NAME:LINE: CODE message` lines, NAME being the fixture's file name."""
    return [f"{path.name}:{f.line}: {f.code} {f.message}" for f in findings]


def code_of(path: Path) -> str:
    """The rule code a fixture belongs to: the name of its folder's parent."""
    return path.parent.parent.name


@pytest.mark.parametrize("path", fixtures("good"), ids=fixture_id)
def test_good_fixture_has_no_error_and_no_finding_of_its_code(path):
    """A good fixture gives no finding of its rule's code and no error from any rule."""
    findings = findings_of(path)
    code = code_of(path)
    assert [
        line for line, f in zip(render(path, findings), findings, strict=True) if f.code == code or f.is_error
    ] == []


@pytest.mark.parametrize("path", fixtures("bad"), ids=fixture_id)
def test_bad_fixture_gives_exactly_the_expected_findings(path):
    """A bad fixture gives exactly the findings of its code listed in its .expected file."""
    code = code_of(path)
    actual = render(path, [f for f in findings_of(path) if f.code == code])
    expected_file = path.with_name(path.name + ".expected")
    if UPDATE:
        expected_file.write_text("".join(line + "\n" for line in actual))
    assert expected_file.exists(), f"missing {expected_file.name}: run with UPDATE_FIXTURES=1"
    expected = expected_file.read_text().splitlines()
    assert expected, f"{expected_file.name} lists no finding: a bad fixture must fail its rule"
    assert actual == expected


def test_every_expected_file_belongs_to_a_fixture():
    """No .expected file is left over after its fixture was renamed or removed."""
    orphans = [fixture_id(p) for p in FIXTURES.glob("*/bad/*.expected") if not p.with_suffix("").exists()]
    assert orphans == []
