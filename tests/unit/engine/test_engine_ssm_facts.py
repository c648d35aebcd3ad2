"""The validator and the engine read one set of SSM facts: what validate accepts, the engine runs.

Each case where they disagreed before releaseflow.ssm is named here, with the documented behaviour
(automation-action-sleep, automation-action-runCommand, automation-action-loop, the Command
document precondition) deciding it.
"""

from __future__ import annotations

import json

import pytest

from engine_helpers import FakeFleet, runbook, statuses
from releaseflow.documents import parse_document
from releaseflow.rehearsal.command_document import plan_plugins
from releaseflow.rehearsal.engine.conditions import holds
from releaseflow.rehearsal.engine.values import to_output_type
from releaseflow.ssm import OPERATORS, OUTPUT_TYPES
from releaseflow.validation import validate_documents


def validator_findings(content: dict, code: str) -> list[str]:
    """The messages of `code` that `releaseflow validate` gives the runbook."""
    document = parse_document(json.dumps(content), "releaseflow-Facts.yaml")
    return [finding.message for finding in validate_documents([document]) if finding.code == code]


def sleep(**inputs) -> dict:
    return runbook({"name": "nap", "action": "aws:sleep", "inputs": inputs})


# (inputs, whether AWS documents them as valid): "An ISO 8601 duration" (weeks included, and
# P0W is zero), "An ISO 8601 timestamp", "a maximum delay of 604799 seconds".
SLEEPS = [
    pytest.param({"Duration": "P0W"}, True, id="P0W-is-an-iso-duration-of-zero"),
    pytest.param({"Duration": "P0Y0M"}, True, id="zero-years-and-months"),
    pytest.param({"Duration": "P6DT23H59M59S"}, True, id="the-maximum"),
    pytest.param({"Duration": "P1W"}, False, id="one-week-is-past-the-maximum"),
    pytest.param({"Duration": " PT10S"}, False, id="blank-before-the-duration"),
    pytest.param({"Duration": "PT"}, False, id="no-amount"),
    pytest.param({"Timestamp": "2026-01-01T00:00:00Z"}, True, id="timestamp-in-the-past"),
    pytest.param({"Timestamp": "2026-02-30T00:00:00Z"}, False, id="no-such-day"),
    pytest.param({"Timestamp": "2026-01-01T00:00:00"}, False, id="timestamp-without-zone"),
]


@pytest.mark.parametrize(("inputs", "valid"), SLEEPS)
def test_sleep_inputs_validate_exactly_when_the_engine_runs_them(execute, inputs, valid):
    """An aws:sleep input passes validate (E207) if and only if the engine's sleep step succeeds."""
    content = sleep(**inputs)
    assert (validator_findings(content, "E207") == []) is valid
    assert statuses(execute(content)) == [("nap", "Success" if valid else "Failed")]


def run_command(**extra) -> dict:
    inputs = {"DocumentName": "releaseflow-Migrate", "InstanceIds": ["i-1"], **extra}
    return runbook({"name": "cmd", "action": "aws:runCommand", "inputs": inputs})


@pytest.mark.parametrize(
    ("extra", "valid"),
    [
        pytest.param({"Comment": "deploy"}, True, id="documented-input"),
        pytest.param({"DocumentHashType": "Sha256", "DocumentHash": "ab"}, True, id="hash-pinning"),
        pytest.param({"OutputS3Region": "eu-west-1"}, False, id="OutputS3Region-is-not-listed"),
    ],
)
def test_run_command_inputs_validate_exactly_when_the_engine_sends_them(execute, extra, valid):
    """aws:runCommand takes the inputs its user-guide page lists: E205 and the engine agree."""
    content = run_command(**extra)
    assert (validator_findings(content, "E205") == []) is valid
    fleet = FakeFleet({"i-1": {}})
    assert statuses(execute(content, aws=fleet)) == [("cmd", "Success" if valid else "Failed")]
    assert ("SendCommand" in fleet.apis()) is valid


@pytest.mark.parametrize(
    ("inputs", "valid"),
    [
        pytest.param({"Iterators": ["a", "b"], "MaxIterations": 100}, True, id="at-the-limit"),
        pytest.param({"Iterators": ["a"], "MaxIterations": 101}, False, id="max-iterations-past-100"),
        pytest.param({"Iterators": [str(n) for n in range(101)]}, False, id="101-iterators"),
    ],
)
def test_loop_limits_validate_exactly_when_the_engine_runs_them(execute, inputs, valid):
    """aws:loop's documented 100 bounds MaxIterations and Iterators alike in E210 and the engine."""
    nested = {"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
    content = runbook({"name": "each", "action": "aws:loop", "inputs": {**inputs, "Steps": [nested]}})
    assert (validator_findings(content, "E210") == []) is valid
    status = execute(content).execution()["AutomationExecutionStatus"]
    assert status == ("Success" if valid else "Failed")


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_the_engine_compares_with_every_operator_the_validator_accepts(operator):
    """Every branch/loop operator of the SSM facts is one the engine evaluates: a value compared with
    itself holds, except under the two strict numeric orders."""
    value = True if operator == "BooleanEquals" else "1"
    assert holds({"Variable": value, operator: value}) is (
        operator not in {"NumericGreater", "NumericLesser"}
    )


@pytest.mark.parametrize("type_name", OUTPUT_TYPES)
def test_the_engine_converts_every_output_type_the_validator_accepts(type_name):
    """Every output Type of the SSM facts is one the engine converts a selected value to, into the
    Python value that Type stands for."""
    samples = {"StringList": ["a"], "StringMap": {"k": "v"}, "MapList": [{"k": "v"}], "Boolean": True}
    converted = {"String": "1", "Integer": 1, "Boolean": True, **samples}
    value = samples.get(type_name, "1")
    result = to_output_type(value, type_name, "Out")
    assert result == converted[type_name]
    assert type(result) is type(converted[type_name])


@pytest.mark.parametrize(
    ("version", "precondition", "valid"),
    [
        pytest.param("2.2", {"StringEquals": ["platformType", "Linux"]}, True, id="linux-in-2.2"),
        pytest.param("2.0", {"StringEquals": ["platformType", "Linux"]}, False, id="precondition-in-2.0"),
        pytest.param("2.2", {"StringEquals": ["platformType", "Windows"]}, True, id="other-platform-skips"),
        pytest.param("2.2", {"StartsWith": ["platformType", "Lin"]}, False, id="unknown-operator"),
    ],
)
def test_preconditions_validate_exactly_when_the_agent_accepts_them(version, precondition, valid):
    """E106 flags a precondition if and only if the rehearsal's agent fails its step (2.0 included)."""
    step = {"name": "run", "action": "aws:runShellScript", "inputs": {"runCommand": ["true"]}}
    content = {"schemaVersion": version, "mainSteps": [{**step, "precondition": precondition}]}
    document = parse_document(json.dumps(content), "releaseflow-Facts.yaml")
    flagged = [f.message for f in validate_documents([document]) if f.code == "E106"]
    (plugin,) = plan_plugins(content, {})
    assert (flagged == []) is valid
    assert (plugin.fail_reason is None) is valid
