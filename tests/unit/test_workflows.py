"""The GitHub workflows and the action: schema-valid, no zizmor finding, pinned actions, least privilege."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^\s*- uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# This repository's reusable workflow called from its own workflows, at the commit being run.
LOCAL = re.compile(r"^\s*uses: \./\.github/workflows/[\w-]+\.yml # zizmor: ignore\[self-repository\]$")
# The reusable workflow's steps run the action of its own repository at the commit the caller pinned.
SELF = re.compile(r"^\s*- uses: \$/( # .*)?$")


def _load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def test_there_are_a_checks_a_deploy_and_a_reusable_workflow():
    """The workflows the project ships exist, and the action at the repository root."""
    assert [path.name for path in WORKFLOWS] == ["checks.yml", "deploy.yml", "releaseflow.yml"]
    assert ACTION.is_file()


def _assert_schema_accepts(schema: str, *files) -> None:
    """check-jsonschema with its vendored `schema` accepts `files`."""
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", schema, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_githubs_schema():
    """check-jsonschema with its vendored GitHub workflow schema accepts both files."""
    _assert_schema_accepts("vendor.github-workflows", *WORKFLOWS)


def test_action_matches_githubs_schema():
    """check-jsonschema with its vendored GitHub action schema accepts action.yml."""
    _assert_schema_accepts("vendor.github-actions", ACTION)


def test_zizmor_offline_finds_nothing():
    """zizmor --offline --persona pedantic reports no finding at any severity in the workflows or the action."""
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--persona", "pedantic", "--format", "plain", *WORKFLOWS, ACTION],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda path: path.name)
def test_actions_are_pinned_to_commits_with_a_version_comment(path):
    """Every `uses:` names a full commit SHA followed by its version, or this repository's own action."""
    uses = [line for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses
    assert [line for line in uses if not (PINNED.match(line) or LOCAL.match(line) or SELF.match(line))] == []


def test_the_reusable_workflow_runs_its_own_repositorys_action_not_the_callers_checkout():
    """Every job of releaseflow.yml runs the action through `$/` (its own repository), never `./` (the caller's)."""
    jobs = _load(ROOT / ".github" / "workflows" / "releaseflow.yml")["jobs"]
    actions = {
        name: [step["uses"] for step in job["steps"] if "uses" in step and "@" not in step["uses"]]
        for name, job in jobs.items()
    }
    assert actions == {name: ["$/"] for name in jobs}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_default_to_none(path):
    """Workflows grant nothing by default; each job asks for what it needs."""
    workflow = _load(path)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert job["permissions"]["contents"] == "read"


def test_deploy_runs_one_at_a_time_per_environment_publishing_first():
    """The reusable deploy job is serialized per environment and uses it; the action publishes first."""
    job = _load(ROOT / ".github" / "workflows" / "releaseflow.yml")["jobs"]["deploy"]
    assert job["concurrency"] == {
        "group": "releaseflow-deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    steps = _load(ACTION)["runs"]["steps"]
    runs = [step.get("run", "") for step in steps]
    publish = next(i for i, run in enumerate(runs) if "releaseflow publish --format github" in run)
    assert '--environment "$RELEASEFLOW_ENVIRONMENT"' in runs[publish]
    deploy = next(i for i, run in enumerate(runs) if "releaseflow deploy --revision" in run)
    assert publish < deploy
    assert "--at" in runs[deploy]


def test_this_repository_deploys_through_the_reusable_workflow():
    """deploy.yml calls releaseflow.yml in deploy mode with the deploy role and an 80-minute timeout."""
    job = _load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["deploy"]
    assert job["uses"] == "./.github/workflows/releaseflow.yml"
    assert job["with"]["mode"] == "deploy"
    assert job["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert job["with"]["timeout"] == 4800


def test_pull_requests_plan_the_publish_with_the_read_only_role():
    """The pull-request plan calls the reusable workflow in plan mode with the plan role."""
    job = _load(ROOT / ".github" / "workflows" / "checks.yml")["jobs"]["plan"]
    assert job["uses"] == "./.github/workflows/releaseflow.yml"
    assert job["with"]["mode"] == "plan"
    assert job["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    steps = _load(ACTION)["runs"]["steps"]
    plan = next(step for step in steps if "publish --dry-run" in step.get("run", ""))
    assert plan["if"] == "inputs.mode == 'plan'"
    assert "--format github" in plan["run"]


def test_session_outlasts_the_deploy_timeout():
    """The action asks for an AWS session of the deploy timeout plus 10 minutes (capped at STS's 12 hours)."""
    steps = _load(ACTION)["runs"]["steps"]
    credentials = next(step for step in steps if "configure-aws-credentials" in step.get("uses", ""))
    assert credentials["with"]["role-duration-seconds"] == "${{ steps.inputs.outputs.role-duration-seconds }}"
    check = next(step for step in steps if step.get("id") == "inputs")["run"]
    for timeout, seconds in (("3600", "4200"), ("4800", "5400"), ("50000", "43200")):
        result = subprocess.run(
            ["bash", "-c", check],
            env={
                "MODE": "deploy",
                "TIMEOUT": timeout,
                "ENVIRONMENT": "production",
                "ROLE": "arn:aws:iam::123456789012:role/deploy",
                "REGION": "eu-west-1",
                "GITHUB_OUTPUT": "/dev/stdout",
                "PATH": "/usr/bin:/bin",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.stdout == f"role-duration-seconds={seconds}\n", timeout
    refused = subprocess.run(
        ["bash", "-c", check],
        env={"MODE": "deploy", "TIMEOUT": "-5", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert (
        refused.stdout
        == "::error title=releaseflow::timeout must be a positive whole number of seconds, not '-5'\n"
    )


def test_the_reusable_workflow_rehearses_pull_requests_without_aws():
    """The rehearse job reads the repository only, checks out base and head (full history), and runs mode rehearse."""
    job = _load(ROOT / ".github" / "workflows" / "releaseflow.yml")["jobs"]["rehearse"]
    assert job["if"] == "inputs.mode == 'rehearse'"
    assert job["permissions"] == {"contents": "read"}
    checkout, action = job["steps"]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    assert action["with"] == {
        "mode": "rehearse",
        "base-revision": "${{ inputs.base-revision || github.event.pull_request.base.sha }}",
        "head-revision": "${{ inputs.revision || github.event.pull_request.head.sha }}",
    }


def test_the_readme_rehearsal_workflow_is_a_valid_workflow(tmp_path):
    """The workflow the README gives for pull-request rehearsals passes GitHub's schema and runs mode rehearse."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(on: pull_request\n.*?)```", readme, re.DOTALL).group(1)
    workflow = tmp_path / "rehearse.yml"
    workflow.write_text(block)
    _assert_schema_accepts("vendor.github-workflows", workflow)
    steps = _load(workflow)["jobs"]["rehearse"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[1]["with"] == {"mode": "rehearse"}


def _make_rules() -> dict[str, list[str]]:
    """The Makefile's rules: target -> prerequisites."""
    text = (ROOT / "Makefile").read_text()
    return {
        match["target"]: match["needs"].split()
        for match in re.finditer(r"^(?P<target>[\w.$()/-]+):(?!=)(?P<needs>[^\n]*)$", text, re.MULTILINE)
    }


def test_pull_request_checks_run_the_makefiles_targets_and_make_test_runs_the_same_static_ones():
    """Every command of the checks job is `make TARGET`, and the static checks are `make test`'s prerequisites."""
    steps = _load(ROOT / ".github" / "workflows" / "checks.yml")["jobs"]["test"]["steps"]
    commands = [step["run"].strip() for step in steps if "run" in step]
    rules = _make_rules()
    targets = [command.removeprefix("make ") for command in commands]
    assert [command for command in commands if not re.fullmatch(r"make [\w-]+", command)] == []
    assert [target for target in targets if target not in rules] == []
    static = [target for target in targets if target not in ("venv", "test-portable")]
    assert static == ["lint", "validate", "cfn-lint"]
    assert set(static) <= set(rules["test"])


def test_make_lint_type_checks_the_package():
    """`make lint` runs ruff and mypy, and mypy's configuration names the package."""
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check" in lint
    assert "$(VENV)/bin/mypy" in lint
    assert 'files = ["tooling/releaseflow"]' in (ROOT / "pyproject.toml").read_text()
