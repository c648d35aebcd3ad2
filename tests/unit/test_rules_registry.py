"""The rule registry: well-formed codes, texts and AWS sources, fixtures for every rule, no crash on bad input, docs current.

Regenerate docs/rules.md after adding or changing a rule:

    UPDATE_FIXTURES=1 .venv/bin/pytest tests/unit/test_rules_registry.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from releaseflow.documents import DOCUMENT_SUFFIXES, Document, parse_document
from releaseflow.rules import all_rules
from releaseflow.rules._table import PARSE_ROW, render_table
from releaseflow.validation import PARSE_ERROR, Context

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "rules"
RULES_DOC = ROOT / "docs" / "rules.md"
UPDATE = os.environ.get("UPDATE_FIXTURES") == "1"

RULES = all_rules()
# Values of every wrong type, to put where a document expects something else.
WRONG_VALUES = (None, True, 7, 2.5, "text", "{{ Missing }}", [], ["a", 1, None], {}, {"k": [None]})


def source_problem(url) -> str | None:
    """What keeps `url` from being a rule's SOURCE, or None for one https URL on docs.aws.amazon.com or in a github.com/aws/ repository."""
    if not isinstance(url, str) or not url:
        return "no SOURCE"
    parts = urlsplit(url)
    if parts.scheme != "https" or any(character.isspace() for character in url):
        return f"{url!r} is not one https URL"
    if parts.netloc == "docs.aws.amazon.com" and parts.path.strip("/"):
        return None
    if parts.netloc == "github.com" and re.fullmatch(r"/aws/[^/]+/.+", parts.path):
        return None
    return f"{url!r} is neither on docs.aws.amazon.com nor in a github.com/aws/ repository"


def fixture_documents() -> list[Document]:
    """Every fixture that parses, good and bad, of every rule."""
    documents = []
    for path in sorted(FIXTURES.glob("*/*/*")):
        if path.suffix in DOCUMENT_SUFFIXES and path.parent.parent.name != PARSE_ERROR:
            documents.append(parse_document(path.read_text(), str(path)))
    return documents


def test_codes_are_well_formed_and_unique():
    """Every rule code is E or W and three digits, and no two rules share one."""
    codes = [rule.code for rule in RULES]
    assert [code for code in codes if not re.fullmatch(r"[EW]\d{3}", code)] == []
    assert len(codes) == len(set(codes))
    assert PARSE_ERROR not in codes


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_documents_itself(rule):
    """Every rule has a one-line summary, a why, a module docstring and a check function."""
    assert isinstance(rule.summary, str) and rule.summary and "\n" not in rule.summary
    assert isinstance(rule.why, str) and len(rule.why) > 20
    assert rule.module.__doc__ and "\n" not in rule.module.__doc__.strip()
    assert callable(rule.module.check)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_texts_stand_alone(rule):
    """A rule's why and docstring, published in docs/rules.md, name no internal notes and no issue number."""
    for text in (rule.why, rule.module.__doc__):
        assert "SSM-FACTS" not in text
        assert re.search(r"\bissue \d+", text, re.IGNORECASE) is None


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_names_its_aws_source(rule):
    """Every rule has SOURCE, an AWS page or SSM agent file, as a field: its why does not carry AWS URLs."""
    assert source_problem(rule.source) is None, f"{rule.code}: {source_problem(rule.source)}"
    assert "docs.aws.amazon.com" not in rule.why and "github.com/aws/" not in rule.why


def test_parse_error_row_names_its_aws_source():
    """The E001 row, which no rule module carries, has a source of the same kind."""
    assert source_problem(PARSE_ROW[-1]) is None


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html",
        "http://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html",
        "https://docs.aws.amazon.com/",
        "https://docs.aws.amazon.com.example.com/systems-manager/latest/userguide/automation-actions.html",
        "https://docs.aws.amazon.com/a.html https://docs.aws.amazon.com/b.html",
        "https://github.com/awsdocs/aws-systems-manager-user-guide/blob/main/doc_source/automation-actions.md",
        "https://github.com/aws-samples/x/blob/main/y.go",
        "https://github.com/aws/amazon-ssm-agent",
        "https://www.shellcheck.net/wiki/",
    ],
)
def test_source_check_refuses_what_is_not_one_aws_url(url):
    """A missing SOURCE, plain http, another host, two URLs or a bare repository is not a rule's source."""
    assert source_problem(url) is not None


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_has_good_and_bad_fixtures(rule):
    """Every rule has at least one good and one bad fixture document."""
    for kind in ("good", "bad"):
        found = [p for p in (FIXTURES / rule.code / kind).glob("*") if p.suffix in DOCUMENT_SUFFIXES]
        assert found, f"no {kind} fixture in tests/unit/fixtures/rules/{rule.code}/{kind}/"


def test_every_fixture_folder_belongs_to_a_rule():
    """No fixture folder is named after a code that no rule (or the parser) reports."""
    codes = {rule.code for rule in RULES} | {PARSE_ERROR}
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in codes) == []


def test_no_rule_crashes_on_any_fixture():
    """Every rule runs to the end on every fixture document, whatever its type."""
    context = Context()
    for document in fixture_documents():
        for rule in RULES:
            try:
                list(rule.check(document, context))
            except Exception as error:
                pytest.fail(f"{rule.code} raised {error!r} on {document.path}")


def mutations(content):
    """`content` with one value replaced by a value of a wrong type, for every value and wrong type."""
    yield from WRONG_VALUES
    if isinstance(content, dict):
        children = content.items()
    elif isinstance(content, list):
        children = enumerate(content)
    else:
        return
    for key, value in children:
        for mutated in mutations(value):
            copy = dict(content) if isinstance(content, dict) else list(content)
            copy[key] = mutated
            yield copy


@pytest.mark.parametrize(
    "fixture", ["E105/good/control.yaml", "W102/good/env-var.yaml", "E010/good/automation-types.json"]
)
def test_no_rule_crashes_when_any_value_has_a_wrong_type(fixture):
    """Every rule copes with a document where any one value was replaced by a value of another type."""
    path = FIXTURES / fixture
    original = parse_document(path.read_text(), str(path))
    context = Context()
    count = 0
    for content in mutations(original.content):
        count += 1
        document = Document(original.path, content, original.text, original.lines)
        for rule in RULES:
            try:
                list(rule.check(document, context))
            except Exception as error:
                pytest.fail(f"{rule.code} raised {error!r} on {content!r}")
    assert count > 20 * len(WRONG_VALUES)  # the walk reached nested values, not only the root


def test_rules_doc_is_current():
    """docs/rules.md is the table generated from the rule modules, every rule included."""
    expected = render_table(RULES)
    if UPDATE:
        RULES_DOC.write_text(expected)
    assert RULES_DOC.read_text() == expected
    assert all(f"| {rule.code} |" in expected for rule in RULES)
    assert all(f"]({rule.source}) |\n" in expected for rule in RULES)
