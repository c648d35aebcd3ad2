"""action.yml in plan and deploy mode, run as an adopter's workflow runs it, against a rehearsal fleet
of the app (the rehearse mode: test_action_rehearse.py; shared fixtures: tests/e2e/action/conftest.py, helpers: tests/support/action_workflow.py)."""

from __future__ import annotations

import pytest

from action_workflow import FAILURE_LINE, aws_mode, step_named
from scenarios import host_states_once_healthy

DEPLOY_ROLE = "arn:aws:iam::123456789012:role/deploy"


def deploy_mode(action, app_fleet, workspace, python, revision):
    """The action in deploy mode for `revision`, with the deploy role, on the app's fleet."""
    return aws_mode(
        action,
        app_fleet,
        workspace,
        python,
        mode="deploy",
        revision=revision,
        **{"role-to-assume": DEPLOY_ROLE},
    )


pytestmark = pytest.mark.rehearsal


def test_plan_mode_checks_the_configuration_and_summarises_the_publish_plan(
    action, app_fleet, workspace, python
):
    """mode: plan installs releaseflow into the fresh Python, checks releaseflow.yaml, writes the plan; deploys nothing."""
    run = aws_mode(
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
    run = deploy_mode(action, app_fleet, workspace, python, head)
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
    run = deploy_mode(action, app_fleet, workspace, python, broken)
    assert run.failed is step_named(run, "Deploy"), run.log
    assert run.outputs["status"] == "Failed"
    migration_host = min(app_fleet.instance_ids)
    assert "#### Failure" in run.summary
    assert f"host: {migration_host}" in run.summary
    assert FAILURE_LINE in run.summary
