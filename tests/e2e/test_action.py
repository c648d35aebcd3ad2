"""action.yml run as an adopter's workflow runs it: its steps, from a separate Rails app's checkout, in a fresh Python."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rails_app
from action_runner import Run, run_action
from checkout import checkout_copy
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.app_repo import git
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from scenarios import Fleet as ScenarioFleet
from scenarios import fleet_state_dir, host_states_once_healthy

pytestmark = pytest.mark.rehearsal

WIDGETS = "    create_table :widgets do |t|\n      t.string :name\n      t.timestamps\n    end\n"
FAILS = '    raise "releaseflow test: this migration fails on purpose"\n'
FAILURE_LINE = "this migration fails on purpose"
# Where rehearse mode keeps its fleet (action.yml); the test checks the action leaves none behind.
REHEARSAL_DIRS = "releaseflow-rehearsal-*"


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The app's repository: its default branch at a stock Rails app, a branch adding a table, one whose migration fails."""
    app = tmp_path_factory.mktemp("adopter") / "shop"
    base = rails_app.new_app(app)
    default_branch = git(app, "symbolic-ref", "--short", "HEAD")
    head = rails_app.commit(
        app, "Add widgets", rails_app.migration("20260301000000", "CreateWidgets", WIDGETS)
    )
    git(app, "branch", "add-widgets", head)
    git(app, "checkout", "--quiet", "-b", "broken-migration", base)
    broken = rails_app.commit(
        app, "A migration that fails", rails_app.migration("20260302000000", "Breaks", FAILS)
    )
    git(app, "checkout", "--quiet", default_branch)
    return app, {"base": base, "head": head, "broken": broken}


@pytest.fixture(scope="module")
def workspace(origin, tmp_path_factory) -> Path:
    """GITHUB_WORKSPACE: a clone of the app, as actions/checkout leaves it (remote branches, no local one)."""
    app, revisions = origin
    checkout = tmp_path_factory.mktemp("workspace") / "shop"
    subprocess.run(["git", "clone", "--quiet", str(app), str(checkout)], check=True)
    git(checkout, "checkout", "--quiet", "--detach", revisions["base"])
    for branch in git(checkout, "for-each-ref", "--format=%(refname:short)", "refs/heads").split():
        git(checkout, "branch", "--quiet", "--delete", "--force", branch)
    return checkout


@pytest.fixture(scope="module")
def action(tmp_path_factory) -> Path:
    """The action's folder as `uses:` checks it out: this repository's files, in a folder of their own (a
    build there has its own build/, whatever else builds this checkout meanwhile)."""
    return checkout_copy(tmp_path_factory.mktemp("action") / "releaseflow")


@pytest.fixture(scope="module")
def python(tmp_path_factory) -> Path:
    """actions/setup-python's Python: a fresh virtualenv without system site-packages, reused by every case."""
    venv = tmp_path_factory.mktemp("setup-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # Nothing of this checkout's environment shows through: whatever releaseflow needs, the action installs.
    bare = subprocess.run([venv / "bin" / "python", "-c", "import boto3"], capture_output=True, check=False)
    assert bare.returncode != 0
    return venv


@pytest.fixture(scope="module")
def app_fleet(origin):
    """Two hosts of the app at its base, up for plan and deploy mode (rehearse mode brings its own)."""
    app, revisions = origin
    with fleet_state_dir("rf-action-") as state_dir:
        fleet.up(state_dir, hosts=2, app_repo=app, revision=revisions["base"])
        yield ScenarioFleet(state_dir, {**os.environ, **fleet.env(state_dir)}, FleetRecord.load(state_dir))


def _runner_environment() -> dict[str, str]:
    """A runner's environment: system PATH only (never this checkout's .venv), pip reaching the index."""
    kept = ("HOME", "LANG", "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
    environment = {name: os.environ[name] for name in kept if name in os.environ}
    # No local wheel folders or extra indexes: the action's pip resolves from the index, as on a runner.
    return {
        **environment,
        "PIP_CONFIG_FILE": os.devnull,
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    }


def _setup_python(venv: Path):
    def stand_in(with_values, environment):
        wanted = with_values["python-version"]
        assert f"{sys.version_info.major}.{sys.version_info.minor}" == wanted, wanted
        return {"pythonLocation": str(venv)}, [str(venv / "bin")]

    return stand_in


def _configure_aws_credentials(endpoint: dict[str, str] | None):
    def stand_in(with_values, environment):
        assert endpoint is not None, "rehearse mode must not ask for AWS credentials"
        assert with_values["role-to-assume"].startswith("arn:aws:iam::")
        # The session outlasts the deploy: the action's default timeout (3600) plus 10 minutes.
        assert with_values["role-duration-seconds"] == "4200"
        region = with_values["aws-region"]
        return {
            "AWS_ACCESS_KEY_ID": endpoint["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": endpoint["AWS_SECRET_ACCESS_KEY"],
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            # What configure-aws-credentials does not set: the rehearsal's endpoint stands in for AWS.
            "AWS_ENDPOINT_URL": endpoint["AWS_ENDPOINT_URL"],
        }, []

    return stand_in


def _run(
    action: Path, workspace: Path, python: Path, inputs: dict[str, str], github: dict, endpoint=None
) -> Run:
    return run_action(
        action,
        workspace,
        inputs,
        github,
        {
            "actions/setup-python": _setup_python(python),
            "aws-actions/configure-aws-credentials": _configure_aws_credentials(endpoint),
        },
        _runner_environment(),
    )


def _aws_mode(action, app_fleet, workspace, python, **inputs) -> Run:
    """The action in plan or deploy mode against the app's fleet, with its releaseflow.yaml in the checkout."""
    shutil.copy(app_fleet.state_dir / "releaseflow.yaml", workspace / "releaseflow.yaml")
    aws = {**inputs, "environment": "local", "region": "us-east-1"}
    github = {"sha": git(workspace, "rev-parse", "HEAD"), "event_name": "push", "event": {}}
    return _run(action, workspace, python, aws, github, fleet.env(app_fleet.state_dir))


def _step(run: Run, name: str):
    return next(step for step in run.steps if step.name == name)


def test_plan_mode_checks_the_configuration_and_summarises_the_publish_plan(
    action, app_fleet, workspace, python
):
    """mode: plan installs releaseflow into the fresh Python, checks releaseflow.yaml, writes the plan; deploys nothing."""
    run = _aws_mode(
        action,
        app_fleet,
        workspace,
        python,
        mode="plan",
        **{"role-to-assume": "arn:aws:iam::123456789012:role/plan"},
    )
    assert run.failed is None, run.log
    assert (python / "bin" / "releaseflow").is_file()
    assert "### Publish plan (dry run)" in run.summary
    assert [step.name for step in run.steps if not step.skipped] == [
        "Check the inputs",
        "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065",
        "Install releaseflow",
        "aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502",
        "Check the configuration",
        "Plan the publish",
    ]
    assert run.outputs == {"execution-id": "", "status": "", "console-url": ""}


def test_deploy_mode_deploys_the_revision_and_sets_the_outputs(action, app_fleet, origin, workspace, python):
    """mode: deploy publishes, deploys the revision (both hosts on it, healthy) and outputs execution-id, status, console-url."""
    head = origin[1]["head"]
    run = _aws_mode(
        action,
        app_fleet,
        workspace,
        python,
        mode="deploy",
        revision=head,
        **{"role-to-assume": "arn:aws:iam::123456789012:role/deploy"},
    )
    assert run.failed is None, run.log
    execution = run.outputs["execution-id"]
    assert execution and run.outputs["status"] == "Success"
    assert execution in run.outputs["console-url"]
    assert run.outputs["console-url"].startswith(
        "https://us-east-1.console.aws.amazon.com/systems-manager/automation/execution/"
    )
    assert f"### ✅ Deploy of `{head}` to local: success" in run.summary
    assert set(host_states_once_healthy(app_fleet, app_fleet.instance_ids).values()) == {
        (head, head, True, "healthy")
    }


def test_a_failing_deploy_fails_its_step_and_the_summary_names_the_host(
    action, app_fleet, origin, workspace, python
):
    """A revision whose migration fails: the Deploy step fails, status Failed, the summary names the migration host and its output."""
    broken = origin[1]["broken"]
    run = _aws_mode(
        action,
        app_fleet,
        workspace,
        python,
        mode="deploy",
        revision=broken,
        **{"role-to-assume": "arn:aws:iam::123456789012:role/deploy"},
    )
    assert run.failed is _step(run, "Deploy"), run.log
    assert run.outputs["status"] == "Failed"
    migration_host = min(app_fleet.instance_ids)
    assert "#### Failure" in run.summary
    assert f"host: {migration_host}" in run.summary
    assert FAILURE_LINE in run.summary


def _rehearsal_dirs() -> set[Path]:
    return set(Path("/tmp").glob(REHEARSAL_DIRS))


def _pull_request(action: Path, workspace: Path, python: Path, base: str, head: str, **inputs: str) -> Run:
    """mode: rehearse (revisions by default), from a pull request's checkout (detached, no branch holds either commit)."""
    git(workspace, "checkout", "--quiet", "--detach", head)
    for branch in git(workspace, "for-each-ref", "--format=%(refname:short)", "refs/heads").split():
        git(workspace, "branch", "--quiet", "--delete", "--force", branch)
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    before = _rehearsal_dirs()
    run = _run(
        action,
        workspace,
        python,
        {"mode": "rehearse", **inputs},
        {"sha": head, "event_name": "pull_request", "event": event},
    )
    assert _rehearsal_dirs() == before, "the rehearsal's fleet was left behind"
    return run


def test_rehearse_mode_deploys_the_head_then_the_base_on_a_fleet_of_the_app(
    action, origin, workspace, python
):
    """mode: rehearse on a pull request: the summary shows one migration, every host healthy on the head, then back on the base."""
    revisions = origin[1]
    base, head = revisions["base"], revisions["head"]
    run = _pull_request(action, workspace, python, base, head)
    assert run.failed is None, run.log
    assert f"### ✅ Rehearsal of `{head[:12]}` over `{base[:12]}`: passed" in run.summary, run.summary
    assert "- ✅ The migration ran once, on `i-" in run.summary
    assert "- ✅ Every host restarted on the head and passed its health check." in run.summary
    assert f"- ✅ Every host is back on the base `{base[:12]}`" in run.summary
    # The rehearsal's own table (four columns), not the two deploys' (five).
    rows = [line for line in run.summary.splitlines() if line.startswith("| `i-") and line.count("|") == 5]
    assert len(rows) == 2 and sum("(migrate)" in row for row in rows) == 1, rows
    assert all(f"Success, Success | `{base[:12]}`, `{base[:12]}`, healthy |" in row for row in rows), rows
    assert f"### ✅ Deploy of `{head}` to local: success" in run.summary
    assert f"### ✅ Deploy of `{base}` to local: success" in run.summary


def test_rehearse_mode_fails_on_a_failing_migration_with_the_hosts_output(action, origin, workspace, python):
    """mode: rehearse of a head whose migration fails: the step fails; the summary names the host and shows its output."""
    revisions = origin[1]
    base, broken = revisions["base"], revisions["broken"]
    # One host is enough to see the migration fail, and quicker to bring up.
    run = _pull_request(action, workspace, python, base, broken, **{"rehearsal-hosts": "1"})
    assert run.failed is _step(run, "Rehearse the pull request"), run.log
    assert f"### ❌ Rehearsal of `{broken[:12]}` over `{base[:12]}`: failed" in run.summary, run.summary
    assert "#### Failure" in run.summary and FAILURE_LINE in run.summary
    assert "- ❌ The migration did not run exactly once with success: `i-" in run.summary
    log = _step(run, "Rehearse the pull request").stdout
    assert FAILURE_LINE in log
    assert re.search(r"::group::i-\w+-puma\.log \(last 40 lines but health checks\)\n", log), log[-3000:]
    assert '"/up"' not in log.split("-puma.log", 1)[1]
