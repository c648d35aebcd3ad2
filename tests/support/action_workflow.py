"""action.yml run as an adopter's workflow runs it: its steps from the app's checkout, in the runner's fresh
Python, with stand-ins for the two actions it uses. Helpers of tests/e2e/action/ (plan and deploy mode:
test_action_aws.py; rehearse mode: test_action_rehearse.py, two modules so that they run on two
workers); their fixtures are in tests/e2e/action/conftest.py."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from action_runner import Run, run_action
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.app_repo import git

WIDGETS = "    create_table :widgets do |t|\n      t.string :name\n      t.timestamps\n    end\n"
FAILS = '    raise "releaseflow test: this migration fails on purpose"\n'
FAILURE_LINE = "this migration fails on purpose"
# Where rehearse mode keeps its fleet (action.yml); the test checks the action leaves none behind.
REHEARSAL_DIRS = "releaseflow-rehearsal-*"


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


def aws_mode(action, app_fleet, workspace, python, **inputs) -> Run:
    """The action in plan or deploy mode against the app's fleet, with its releaseflow.yaml in the checkout."""
    shutil.copy(app_fleet.state_dir / "releaseflow.yaml", workspace / "releaseflow.yaml")
    aws = {**inputs, "environment": "local", "region": "us-east-1"}
    github = {"sha": git(workspace, "rev-parse", "HEAD"), "event_name": "push", "event": {}}
    return _run(action, workspace, python, aws, github, fleet.env(app_fleet.state_dir))


def step_named(run: Run, name: str):
    return next(step for step in run.steps if step.name == name)


def rehearsal_dirs() -> set[Path]:
    return set(Path("/tmp").glob(REHEARSAL_DIRS))


def pull_request(action: Path, workspace: Path, python: Path, base: str, head: str, **inputs: str) -> Run:
    """mode: rehearse (revisions by default), from a pull request's checkout (detached, no branch holds either commit)."""
    git(workspace, "checkout", "--quiet", "--detach", head)
    for branch in git(workspace, "for-each-ref", "--format=%(refname:short)", "refs/heads").split():
        git(workspace, "branch", "--quiet", "--delete", "--force", branch)
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    before = rehearsal_dirs()
    run = _run(
        action,
        workspace,
        python,
        {"mode": "rehearse", **inputs},
        {"sha": head, "event_name": "pull_request", "event": event},
    )
    assert rehearsal_dirs() == before, "the rehearsal's fleet was left behind"
    return run
