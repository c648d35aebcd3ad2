"""Publishing against moto: create, no-op, update, pins, prefix, dry run, interrupted runs."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from published import ROOT as PROJECT
from published import SOURCES, name_tokens
from releaseflow.documents import parse_document
from releaseflow.publish import ValidationFailed, publish_documents, version_name

CHECKOUT = """\
schemaVersion: "2.2"
description: Check out a revision.
parameters:
  Revision:
    type: String
    description: The git commit to check out.
    allowedPattern: "^[0-9a-f]{7,40}$"
mainSteps:
  - action: aws:runShellScript
    name: checkout
    inputs:
      runCommand:
        - set -eu
        - echo "checking out $SSM_Revision"
"""

RUNBOOK = """\
schemaVersion: "0.3"
description: Deploy a revision.
parameters:
  Revision:
    type: String
    description: The git commit to deploy.
    allowedPattern: "^[0-9a-f]{7,40}$"
mainSteps:
  # the comment stays in the published runbook
  - name: Checkout
    action: aws:runCommand
    inputs:
      DocumentName: releaseflow-CheckoutRevision
      InstanceIds:
        - i-0123456789abcdef0
      Parameters:
        Revision:
          - "{{ Revision }}"
"""

WRITES = {"CreateDocument", "UpdateDocument", "UpdateDocumentDefaultVersion", "AddTagsToResource"}


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        client.calls = []
        client.meta.events.register("before-call.ssm", lambda model, **_: client.calls.append(model.name))
        yield client


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "documents").mkdir()
    (tmp_path / "automation").mkdir()
    (tmp_path / "documents" / "releaseflow-CheckoutRevision.yaml").write_text(CHECKOUT)
    (tmp_path / "automation" / "releaseflow-Deploy.yaml").write_text(RUNBOOK)
    return tmp_path


def _default(ssm, name: str) -> dict:
    return ssm.get_document(Name=name, DocumentFormat="YAML")


def _hash(ssm, name: str, version: str) -> str:
    return ssm.describe_document(Name=name, DocumentVersion=version)["Document"]["Hash"]


def test_first_publish_creates_documents_and_pins_the_runbook(ssm, root):
    """A first publish creates both documents and pins the runCommand step to version 1's hash."""
    result = publish_documents(ssm, root, commit="abc123")
    assert [(d.name, d.action, d.version) for d in result.documents] == [
        ("releaseflow-CheckoutRevision", "create", "1"),
        ("releaseflow-Deploy", "create", "1"),
    ]
    runbook = _default(ssm, "releaseflow-Deploy")
    assert runbook["DocumentType"] == "Automation"
    pin = f"DocumentHash: {_hash(ssm, 'releaseflow-CheckoutRevision', '1')}\n      DocumentHashType: Sha256"
    assert pin in runbook["Content"]
    assert "DocumentVersion" not in runbook["Content"]
    assert "# the comment stays in the published runbook" in runbook["Content"]
    assert _default(ssm, "releaseflow-CheckoutRevision")["DocumentType"] == "Command"


def test_source_runbook_stays_unpinned(ssm, root):
    """Publishing never writes the pinned version back into automation/."""
    publish_documents(ssm, root)
    assert (root / "automation" / "releaseflow-Deploy.yaml").read_text() == RUNBOOK


def test_unchanged_publish_makes_no_write_and_one_read_per_document(ssm, root):
    """Republishing the same sources makes zero write calls: one GetDocument per document, one
    DescribeDocument (the hash to pin) per Command document."""
    publish_documents(ssm, root, commit="abc123")
    ssm.calls.clear()
    result = publish_documents(ssm, root, commit="abc123")
    assert [d.action for d in result.documents] == ["unchanged", "unchanged"]
    assert not WRITES & set(ssm.calls)
    assert ssm.calls == ["GetDocument", "DescribeDocument", "GetDocument"]


def test_one_change_makes_one_new_default_version_and_repins(ssm, root):
    """Changing a Command document adds one version, makes it default and repins the runbook to its hash."""
    publish_documents(ssm, root, commit="first")
    path = root / "documents" / "releaseflow-CheckoutRevision.yaml"
    path.write_text(CHECKOUT.replace("checking out", "now checking out"))
    result = publish_documents(ssm, root, commit="second")
    assert [(d.action, d.version) for d in result.documents] == [("update", "2"), ("update", "2")]
    checkout = _default(ssm, "releaseflow-CheckoutRevision")
    assert checkout["DocumentVersion"] == "2"
    assert checkout["VersionName"].startswith("second-")
    assert (
        f"DocumentHash: {_hash(ssm, 'releaseflow-CheckoutRevision', '2')}"
        in _default(ssm, "releaseflow-Deploy")["Content"]
    )
    tags = ssm.list_tags_for_resource(ResourceType="Document", ResourceId="releaseflow-CheckoutRevision")
    assert {"Key": "releaseflow:commit", "Value": "second"} in tags["TagList"]


def test_older_runbook_version_keeps_its_old_pins(ssm, root):
    """Runbook version 1 still names Command document version 1's hash after a later publish."""
    publish_documents(ssm, root)
    path = root / "documents" / "releaseflow-CheckoutRevision.yaml"
    path.write_text(CHECKOUT.replace("checking out", "now checking out"))
    publish_documents(ssm, root)
    old = ssm.get_document(Name="releaseflow-Deploy", DocumentVersion="1", DocumentFormat="YAML")["Content"]
    assert f"DocumentHash: {_hash(ssm, 'releaseflow-CheckoutRevision', '1')}" in old
    assert _hash(ssm, "releaseflow-CheckoutRevision", "1") != _hash(ssm, "releaseflow-CheckoutRevision", "2")


def test_dry_run_writes_nothing_and_shows_the_diff(ssm, root):
    """A dry run reports update with the predicted version and a diff, and calls no write API."""
    publish_documents(ssm, root)
    path = root / "documents" / "releaseflow-CheckoutRevision.yaml"
    path.write_text(CHECKOUT.replace("checking out", "now checking out"))
    ssm.calls.clear()
    result = publish_documents(ssm, root, dry_run=True)
    assert not WRITES & set(ssm.calls)
    checkout, runbook = result.documents
    assert (checkout.action, checkout.version) == ("update", "2")
    assert '+        - echo "now checking out $SSM_Revision"' in checkout.diff.splitlines()
    assert any(line.startswith("+      DocumentHash: ") for line in runbook.diff.splitlines())
    assert _default(ssm, "releaseflow-CheckoutRevision")["DocumentVersion"] == "1"


def test_dry_run_on_an_empty_account_plans_creates(ssm, root):
    """Against an account without the documents, a dry run plans create and writes nothing."""
    result = publish_documents(ssm, root, dry_run=True)
    assert [d.action for d in result.documents] == ["create", "create"]
    assert not WRITES & set(ssm.calls)
    assert ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"] == []


def test_prefix_renames_documents_and_references(ssm, root):
    """--prefix publishes staging-* names and the runbook runs staging-CheckoutRevision."""
    result = publish_documents(ssm, root, prefix="staging-")
    assert [d.name for d in result.documents] == [
        "staging-releaseflow-CheckoutRevision",
        "staging-releaseflow-Deploy",
    ]
    content = _default(ssm, "staging-releaseflow-Deploy")["Content"]
    assert "DocumentName: staging-releaseflow-CheckoutRevision" in content


def test_a_prefixed_publish_sends_runbooks_naming_none_of_our_documents_unprefixed(ssm):
    """Every string of every runbook publish --prefix staging- sends names our documents only with the prefix."""
    result = publish_documents(ssm, PROJECT, prefix="staging-")
    runbooks = [d.name for d in result.documents if d.document_type == "Automation"]
    assert runbooks == ["staging-releaseflow-Deploy", "staging-releaseflow-RollbackFleet"]
    starts = []
    for name in runbooks:
        document = parse_document(_default(ssm, name)["Content"], f"{name}.yaml")
        tokens = set(name_tokens(document.content))
        # The stem standing alone names them all (ReadDeploy's check for our commands still running).
        assert sorted(tokens & {*SOURCES, "releaseflow-"}) == [], name
        assert "staging-releaseflow-RollbackFleet" in tokens, name
        starts += [
            step["inputs"]["DocumentName"]
            for _, step in document.steps()
            if step.get("inputs", {}).get("Api") == "StartAutomationExecution"
        ]
    # StartRollback and RollBackOnCancel start this environment's RollbackFleet.
    assert starts == ["staging-releaseflow-RollbackFleet"] * 2


def test_interrupted_publish_converges(ssm, root):
    """A publish that dies before setting the default version is completed by the rerun."""
    publish_documents(ssm, root, commit="first")
    path = root / "documents" / "releaseflow-CheckoutRevision.yaml"
    path.write_text(CHECKOUT.replace("checking out", "now checking out"))

    def crash(**_):
        raise ConnectionError("network gone")

    ssm.meta.events.register("before-call.ssm.UpdateDocumentDefaultVersion", crash)
    with pytest.raises(ConnectionError):
        publish_documents(ssm, root, commit="second")
    ssm.meta.events.unregister("before-call.ssm.UpdateDocumentDefaultVersion", crash)
    assert _default(ssm, "releaseflow-CheckoutRevision")["DocumentVersion"] == "1"

    result = publish_documents(ssm, root, commit="second")
    assert [(d.action, d.version) for d in result.documents] == [("update", "2"), ("update", "2")]
    assert ssm.describe_document(Name="releaseflow-CheckoutRevision")["Document"]["LatestVersion"] == "2"
    assert publish_documents(ssm, root, commit="second").changed == ()


def test_validation_errors_publish_nothing(ssm, root):
    """A document that does not parse stops the publish before any call to SSM."""
    (root / "documents" / "releaseflow-Broken.yaml").write_text("mainSteps: [\n")
    with pytest.raises(ValidationFailed) as raised:
        publish_documents(ssm, root)
    assert [f.code for f in raised.value.findings] == ["E001"]
    assert ssm.calls == []


@pytest.mark.parametrize("commit", [None, "0123abcd" * 5, "refs/heads/feature x"])
def test_version_name_is_valid_and_tracks_content(commit):
    """VersionName matches SSM's pattern and differs when the content differs."""
    first, second = version_name(commit, "a"), version_name(commit, "b")
    for name in (first, second):
        assert re.fullmatch(r"[a-zA-Z0-9_\-.]{1,128}", name)
    assert first != second
