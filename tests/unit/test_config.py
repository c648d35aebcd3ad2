"""releaseflow.yaml's schema, `releaseflow config`, and the `migrate:` setting."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from releaseflow.cli import main
from releaseflow.config import MIGRATE_PARAMETER, load_environment, schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_prints_a_valid_json_schema(capsys):
    """`releaseflow config schema` prints the shipped schema, itself a valid draft 2020-12 schema."""
    assert main(["config", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == schema()
    jsonschema.Draft202012Validator.check_schema(printed)


def test_checked_in_configuration_passes_check(capsys, monkeypatch):
    """The repository's releaseflow.yaml passes `config check` (schema and runbook parameters)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RELEASEFLOW_CONFIG", raising=False)
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out == "releaseflow.yaml: 2 environment(s) good: production, staging\n"


@pytest.mark.parametrize(("setting", "expected"), [("false", ["false"]), ("true", ["true"])])
def test_migrate_setting_becomes_the_migrate_parameter(tmp_path, setting, expected):
    """`migrate: false` passes Migrate=false to the runbook, so a system that does not own migrations skips them."""
    path = tmp_path / "releaseflow.yaml"
    path.write_text(f"environments:\n  reports:\n    migrate: {setting}\n")
    assert load_environment(path, None).parameters == {MIGRATE_PARAMETER: expected}


def test_no_migrate_setting_passes_no_parameter(tmp_path):
    """Without `migrate:` the runbook's own default decides (no Migrate parameter is sent)."""
    path = tmp_path / "releaseflow.yaml"
    path.write_text("environments:\n  shop: {}\n")
    assert load_environment(path, None).parameters == {}


def test_documents_setting_is_relative_to_the_file(tmp_path):
    """`documents:` names a folder relative to releaseflow.yaml, wherever the command runs."""
    path = tmp_path / "deploy" / "releaseflow.yaml"
    path.parent.mkdir()
    path.write_text("documents: ../ssm\nenvironments:\n  shop: {}\n")
    assert load_environment(path, None).documents == tmp_path / "deploy" / ".." / "ssm"
