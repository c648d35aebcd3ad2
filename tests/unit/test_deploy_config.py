"""The deploy configuration: loading environments and the checked-in releaseflow.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaseflow.config import load_environment
from releaseflow.documents import load_document
from releaseflow.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_config_names_only_parameters_the_runbook_has():
    """Every parameter in releaseflow.yaml is a parameter of the release runbook."""
    runbook = load_document(ROOT / "automation" / "releaseflow-Deploy.yaml").content["parameters"]
    for name in ("production", "staging"):
        environment = load_environment(ROOT / "releaseflow.yaml", name)
        assert set(environment.parameters) <= set(runbook), name


def test_values_become_lists_of_strings(tmp_path):
    """Numbers, booleans and lists become SSM's list-of-strings parameter values."""
    path = tmp_path / "releaseflow.yaml"
    path.write_text(
        "environments:\n  prod:\n    parameters:\n      BatchSize: 2\n      ReloadNginx: true\n"
        "      Services: [puma, sidekiq]\n"
    )
    environment = load_environment(path, None)
    assert environment.runbook == "releaseflow-Deploy"
    assert environment.parameters == {
        "BatchSize": ["2"],
        "ReloadNginx": ["true"],
        "Services": ["puma", "sidekiq"],
    }


def test_alarm_is_read_per_environment(tmp_path):
    """`alarm:` and `ignore_alarm_poll_failure:` belong to one environment; without them, no alarm."""
    path = tmp_path / "releaseflow.yaml"
    path.write_text(
        "environments:\n  prod:\n    alarm: shop-5xx\n    ignore_alarm_poll_failure: true\n  staging: {}\n"
    )
    prod, staging = load_environment(path, "prod"), load_environment(path, "staging")
    assert (prod.alarm, prod.ignore_alarm_poll_failure) == ("shop-5xx", True)
    assert (staging.alarm, staging.ignore_alarm_poll_failure) == (None, False)


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("environments:\n  a: {}\n  b: {}\n", None, "choose an environment with --environment: a, b"),
        ("environments:\n  a: {}\n", "prod", "no environment 'prod'; known: a"),
        ("other: 1\n", None, "releaseflow.yaml:1: the file lacks the required key .environments."),
        (
            "environments:\n  a:\n    alarm: [x]\n",
            None,
            "releaseflow.yaml:3: environments.a.alarm must be a string",
        ),
        (
            "environments:\n  a:\n    alarm: ' '\n",
            None,
            "releaseflow.yaml:3: environments.a.alarm ' ' does not",
        ),
    ],
)
def test_configuration_errors_are_usage_errors(tmp_path, text, name, message):
    """A missing or ambiguous environment is a usage error that says what is known."""
    path = tmp_path / "releaseflow.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_environment(path, name)
