"""The GitHub workflows: schema-valid, no high-severity zizmor finding, pinned actions, least privilege."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^\s*- uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def _load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def test_there_are_a_checks_and_a_deploy_workflow():
    """Both workflows the project ships exist."""
    assert [path.name for path in WORKFLOWS] == ["checks.yml", "deploy.yml"]


def test_workflows_match_githubs_schema():
    """check-jsonschema with its vendored GitHub workflow schema accepts both files."""
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_finds_nothing_high():
    """zizmor --offline reports no finding of high severity."""
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--min-severity", "high", "--format", "plain", *WORKFLOWS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_to_commits_with_a_version_comment(path):
    """Every `uses:` names a full commit SHA followed by its version."""
    uses = [line for line in path.read_text().splitlines() if "uses:" in line]
    assert uses
    assert [line for line in uses if not PINNED.match(line)] == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_default_to_none(path):
    """Workflows grant nothing by default; each job asks for what it needs."""
    workflow = _load(path)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert job["permissions"]["contents"] == "read"


def test_deploy_runs_one_at_a_time_per_environment_publishing_first():
    """The deploy job is serialized per environment, uses the environment, publishes before deploying."""
    job = _load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["deploy"]
    assert job["concurrency"] == {
        "group": "deploy-${{ inputs.environment || 'production' }}",
        "cancel-in-progress": False,
    }
    assert job["environment"] == "${{ inputs.environment || 'production' }}"
    runs = [step.get("run", "") for step in job["steps"]]
    publish = next(i for i, run in enumerate(runs) if "releaseflow publish" in run)
    deploy = next(i for i, run in enumerate(runs) if "releaseflow deploy --revision" in run)
    assert publish < deploy
    assert "--at" in runs[deploy]


def test_pull_requests_plan_the_publish_with_the_read_only_role():
    """The pull-request plan runs publish --dry-run --format github with the plan role."""
    job = _load(ROOT / ".github" / "workflows" / "checks.yml")["jobs"]["plan"]
    credentials = next(step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    assert any("publish --dry-run --format github" in step.get("run", "") for step in job["steps"])
