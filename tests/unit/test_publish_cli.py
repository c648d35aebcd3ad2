"""`releaseflow publish` from the command line, against moto."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from ruamel.yaml import YAML

from releaseflow.cli import main
from test_publish import CHECKOUT, RUNBOOK

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    (tmp_path / "documents").mkdir()
    (tmp_path / "automation").mkdir()
    (tmp_path / "documents" / "releaseflow-CheckoutRevision.yaml").write_text(CHECKOUT)
    (tmp_path / "automation" / "releaseflow-Deploy.yaml").write_text(RUNBOOK)
    with mock_aws():
        yield tmp_path


def test_dry_run_github_writes_the_plan_to_the_step_summary(root, tmp_path, monkeypatch, capsys):
    """--dry-run --format github prints the plan and appends a markdown table to the job summary."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["publish", "--dry-run", "--format", "github", "--root", str(root)]) == 0
    assert "create    releaseflow-Deploy -> version 1" in capsys.readouterr().out
    text = summary.read_text()
    assert "| `releaseflow-CheckoutRevision` | Command | create | 1 |" in text
    assert "```diff" in text
    documents = boto3.client("ssm").list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])
    assert documents["DocumentIdentifiers"] == []


def test_publish_records_the_commit_in_the_version_name(root, capsys):
    """--commit ends up in VersionName, and a second run reports nothing published."""
    assert main(["publish", "--root", str(root), "--commit", "feedbeef"]) == 0
    described = boto3.client("ssm").describe_document(Name="releaseflow-Deploy")["Document"]
    assert described["VersionName"].startswith("feedbeef-")
    assert main(["publish", "--root", str(root), "--commit", "feedbeef"]) == 0
    assert "0 of 2 document(s) published" in capsys.readouterr().out


def test_validation_errors_exit_1_with_findings(root, capsys):
    """A broken document prints its finding and exits 1."""
    (root / "documents" / "releaseflow-Broken.yaml").write_text("mainSteps: [\n")
    assert main(["publish", "--root", str(root)]) == 1
    captured = capsys.readouterr()
    assert "releaseflow-Broken.yaml:2: E001" in captured.out
    assert "Error: validation found 1 error(s); nothing was published" in captured.err


ENVIRONMENTS = """\
environments:
  production:
    region: us-east-1
    parameters:
      FleetTagValue: shop-production
      BatchSize: 25%
      Services: [puma, sidekiq]
      TargetGroupArn: ""
"""


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An app folder with a releaseflow.yaml, publishing the repository's own documents to moto."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    monkeypatch.delenv("RELEASEFLOW_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "releaseflow.yaml").write_text(ENVIRONMENTS)
    with mock_aws():
        yield tmp_path


def _published_parameters(name: str) -> dict:
    content = boto3.client("ssm").get_document(Name=name, DocumentFormat="YAML")["Content"]
    return YAML(typ="safe", pure=True).load(content)["parameters"]


def test_environment_parameters_become_the_published_defaults(app, capsys):
    """publish --environment writes the environment's values as the runbooks' defaults, typed; the source stays generic."""
    source = (ROOT / "automation" / "releaseflow-Deploy.yaml").read_text()
    assert main(["publish", "--root", str(ROOT), "--commit", "feedbeef", "--environment", "production"]) == 0
    deploy = _published_parameters("releaseflow-Deploy")
    assert deploy["FleetTagValue"]["default"] == "shop-production"
    assert deploy["BatchSize"]["default"] == "25%"
    assert deploy["Services"]["default"] == ["puma", "sidekiq"]
    assert deploy["TargetGroupArn"].get("default", "") == ""  # empty: the runbook's own default stays
    assert _published_parameters("releaseflow-RollbackFleet")["FleetTagValue"]["default"] == "shop-production"
    assert (ROOT / "automation" / "releaseflow-Deploy.yaml").read_text() == source


def test_environment_value_the_runbook_refuses_is_not_published(app, capsys):
    """A configured value outside the parameter's pattern is refused (exit 2) before anything is written."""
    (app / "releaseflow.yaml").write_text(ENVIRONMENTS.replace("shop-production", "shop;reboot"))
    assert main(["publish", "--root", str(ROOT), "--environment", "production"]) == 2
    error = capsys.readouterr().err
    assert (
        "releaseflow-Deploy.yaml: as a default: parameter FleetTagValue: value 'shop;reboot' does not match"
        in error
    )
    documents = boto3.client("ssm").list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])
    assert documents["DocumentIdentifiers"] == []
