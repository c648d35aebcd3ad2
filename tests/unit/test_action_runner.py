"""action.yml's pieces the end-to-end run relies on: the test runner's expressions, the inputs check, the package list."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from action_runner import (
    EXPRESSION,
    STEP_KEYS,
    Unsupported,
    condition,
    evaluate,
    interpolate,
    parse_file_commands,
    run_action,
)

ROOT = Path(__file__).resolve().parents[2]
ACTION = YAML(typ="safe", pure=True).load((ROOT / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]
CONTEXTS = {
    "inputs": {name: "x" for name in ACTION["inputs"]},
    "github": {"sha": "abc", "action_path": "/a", "event": {"pull_request": {"base": {"sha": "b"}}}},
    "steps": {step["id"]: {"outputs": {}} for step in STEPS if "id" in step},
}


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_every_expression_and_condition_in_action_yml_is_one_the_test_runner_evaluates():
    """Each `${{ }}` and each `if:` of action.yml evaluates in the e2e test's runner without Unsupported."""
    expressions = [m.group(1) for text in _strings(ACTION) for m in EXPRESSION.finditer(text)]
    assert len(expressions) > 20
    for expression in expressions:
        evaluate(expression, CONTEXTS)
    conditions = [step["if"] for step in STEPS if "if" in step]
    assert conditions
    assert all(isinstance(condition(text, CONTEXTS), bool) for text in conditions)


@pytest.mark.parametrize(
    "expression",
    [
        "format('{0}', inputs.mode)",
        "inputs.mode == 'plan' && inputs.region",
        "env.HOME",
        "inputs.not-declared",
        "steps.nowhere.outputs.x",
        'inputs.mode == "plan"',
        "always()",
    ],
)
def test_the_runner_refuses_what_action_yml_does_not_use(expression):
    """Functions, operators, other contexts, undeclared inputs and step ids fail loudly, never evaluate to ''."""
    with pytest.raises(Unsupported):
        evaluate(expression, CONTEXTS)


def test_comparisons_ignore_case_and_a_missing_property_is_empty():
    """As on GitHub: 'Plan' == 'plan', a missing event property reads '', booleans interpolate as true/false."""
    contexts = {**CONTEXTS, "inputs": {**CONTEXTS["inputs"], "mode": "Plan"}}
    assert evaluate("inputs.mode == 'plan'", contexts) is True
    assert evaluate("inputs.mode != 'plan'", contexts) is False
    assert evaluate("github.event.pull_request.head.sha", contexts) == ""
    assert interpolate("[${{ inputs.mode == 'deploy' }}] ${{ github.sha }}", contexts) == "[false] abc"


def test_file_commands_take_both_forms():
    """GITHUB_OUTPUT/GITHUB_ENV lines: NAME=value and the NAME<<DELIMITER multi-line form."""
    text = "a=1\nb=x=y\nnote<<EOF\nline 1\nline 2\nEOF\n"
    assert parse_file_commands(text) == {"a": "1", "b": "x=y", "note": "line 1\nline 2"}


def test_rehearse_installs_the_makefiles_debian_packages():
    """The packages the rehearse mode installs are the Makefile's DEB_PACKAGES, in the same order."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    wanted = re.search(r"^DEB_PACKAGES := (.*)$", makefile, re.MULTILINE).group(1).split()
    step = next(step for step in STEPS if step.get("name") == "Install the rehearsal's Debian packages")
    listed = re.search(r"packages=\(([^)]*)\)", step["run"]).group(1).split()
    assert listed == wanted


def _check_inputs(**env: str) -> subprocess.CompletedProcess:
    check = next(step for step in STEPS if step.get("id") == "inputs")["run"]
    values = {"MODE": "rehearse", "TIMEOUT": "3600", "HOSTS": "2", "GITHUB_OUTPUT": "/dev/null", **env}
    return subprocess.run(
        ["bash", "-c", check],
        env={"PATH": "/usr/bin:/bin", **values},
        capture_output=True,
        text=True,
        check=False,
    )


def test_each_mode_refuses_to_start_without_its_inputs():
    """rehearse needs both revisions (outside a pull request they are empty); plan and deploy need the AWS inputs."""
    refused = _check_inputs(HEAD_REVISION="a" * 40)
    assert (refused.returncode, refused.stdout) == (
        2,
        "::error title=releaseflow::mode rehearse needs the input base-revision\n",
    )
    assert _check_inputs(BASE="b" * 40, HEAD_REVISION="a" * 40).returncode == 0
    plan = _check_inputs(MODE="plan", ENVIRONMENT="production", REGION="eu-west-1")
    assert plan.stdout == "::error title=releaseflow::mode plan needs the input role-to-assume\n"
    hosts = _check_inputs(BASE="b", HEAD_REVISION="a", HOSTS="0")
    assert hosts.returncode == 2 and "rehearsal-hosts" in hosts.stdout


def test_every_step_of_action_yml_says_only_what_the_runner_runs():
    """No step of action.yml uses a key (continue-on-error, working-directory, ...) the e2e runner would ignore."""
    assert all(set(step) <= STEP_KEYS for step in STEPS)


def test_the_runner_refuses_a_step_key_it_does_not_run(tmp_path):
    """A step with continue-on-error fails loudly instead of running as if the key were not there."""
    (tmp_path / "action.yml").write_text(
        "runs:\n  using: composite\n  steps:\n    - run: 'true'\n      shell: bash\n      continue-on-error: true\n"
    )
    with pytest.raises(Unsupported, match="continue-on-error"):
        run_action(tmp_path, tmp_path, {}, {}, {}, {"PATH": "/usr/bin:/bin"})
