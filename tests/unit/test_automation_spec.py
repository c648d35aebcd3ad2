"""Automation rules beyond single-file fixtures: the action table, cross-document checks, robustness."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaseflow.documents import Document, parse_document
from releaseflow.rules import all_rules
from releaseflow.rules._automation_spec import steps_of
from releaseflow.ssm import ACTIONS, duration_seconds
from releaseflow.validation import validate_documents

# The Automation actions SSM-FACTS.md lists (from the user guide's automation-actions page).
FACTS_ACTIONS = """approve, assertAwsResourceProperty, branch, changeInstanceState, copyImage, createImage,
  createStack, createTags, deleteImage, deleteStack, executeAutomation, executeAwsApi, executeScript,
  executeStateMachine, invokeLambdaFunction, invokeWebhook, loop, pause, runCommand, runInstances,
  sleep, updateVariable, waitForAwsResourceProperty"""

MIGRATE = """\
schemaVersion: '2.2'
description: Migrate.
parameters:
  Revision:
    type: String
    description: The commit.
  RailsEnv:
    type: String
    description: RAILS_ENV.
    default: production
mainSteps:
  - action: aws:runShellScript
    name: Migrate
    inputs:
      runCommand: [bundle exec rails db:migrate]
"""


def runbook(steps: str, top: str = "") -> str:
    return f"schemaVersion: '0.3'\ndescription: Test.\n{top}mainSteps:\n{steps}"


def findings(code: str, *documents: tuple[str, str]) -> list[str]:
    """The `LINE: message` of every finding of `code`, validating the documents together."""
    parsed = [parse_document(text, name) for name, text in documents]
    return [f"{f.path}:{f.line}: {f.message}" for f in validate_documents(parsed) if f.code == code]


def migrate_findings(*parameters: str) -> list[str]:
    """The E212 findings of a runbook whose one step runs releaseflow-Migrate with these Parameters lines."""
    lines = "".join(f"        {line}\n" for line in parameters)
    steps = f"""\
  - name: Migrate
    action: aws:runCommand
    inputs:
      DocumentName: releaseflow-Migrate
      InstanceIds: [i-0123456789abcdef0]
      Parameters:
{lines}"""
    return findings(
        "E212", ("releaseflow-Migrate.yaml", MIGRATE), ("releaseflow-Deploy.yaml", runbook(steps))
    )


def test_table_covers_every_action_in_the_facts():
    """The action table has exactly the Automation actions SSM-FACTS lists."""
    assert {f"aws:{name.strip()}" for name in FACTS_ACTIONS.split(",")} == set(ACTIONS)


def test_run_command_parameters_are_checked_against_the_validated_command_document():
    """A runCommand step may pass only declared parameters and must pass those without a default."""
    assert migrate_findings("RailsEnv: [staging]", "Revison: [abc123]") == [
        "releaseflow-Deploy.yaml:9: step 'Migrate': releaseflow-Migrate needs parameter 'Revision', which has no default",
        "releaseflow-Deploy.yaml:11: step 'Migrate': releaseflow-Migrate declares no parameter 'Revison'",
    ]


def test_run_command_passing_every_required_parameter_is_clean():
    """A runCommand step that passes the required parameters of a validated document gives no E212."""
    assert migrate_findings("Revision: [abc123]") == []


def test_declared_runbook_variables_resolve_and_undeclared_ones_do_not():
    """{{ variable:NAME }} resolves only to a variable the runbook declares under `variables`."""
    top = "variables:\n  Attempts:\n    type: Integer\n    default: 0\n"
    steps = """\
  - name: Count
    action: aws:updateVariable
    inputs:
      Name: variable:Attempts
      Value: '{{ variable:Attempts }} {{ variable:Tries }}'
"""
    assert findings("E211", ("releaseflow-Count.yaml", runbook(steps, top))) == [
        "releaseflow-Count.yaml:12: step 'Count': {{ variable:Tries }} is not a known variable"
    ]


def test_loop_condition_sees_the_loop_s_nested_outputs_but_iterators_do_not():
    """LoopCondition is evaluated after the nested steps; Iterators before them."""
    steps = """\
  - name: Poll
    action: aws:loop
    inputs:
      Iterators: ['{{ Check.Retry }}']
      Steps:
        - name: Check
          action: aws:executeAwsApi
          inputs: {Service: ec2, Api: DescribeInstances}
          outputs:
            - {Name: Retry, Selector: $.NextToken, Type: Boolean}
  - name: Until
    action: aws:loop
    inputs:
      LoopCondition: {Variable: '{{ Check2.Retry }}', BooleanEquals: true}
      Steps:
        - name: Check2
          action: aws:executeAwsApi
          inputs: {Service: ec2, Api: DescribeInstances}
          outputs:
            - {Name: Retry, Selector: $.NextToken, Type: Boolean}
"""
    assert findings("E211", ("releaseflow-Poll.yaml", runbook(steps))) == [
        "releaseflow-Poll.yaml:7: step 'Poll': {{ Check.Retry }}: step 'Check' does not run before this one"
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT10S", 10),
        ("PT1H30M", 5400),
        ("P1D", 86400),
        ("P1W", 604800),
        ("P6DT23H59M59S", 604799),
        ("PT0.5S", 0.5),
    ],
)
def test_iso_durations_are_measured(text, seconds):
    """ISO 8601 durations are measured in seconds, days and weeks included."""
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["P", "PT", "10S", "P1DT", "PT1S1M", 600, None])
def test_non_durations_are_refused(text):
    """Strings that are not ISO 8601 durations, and non-strings, have no length."""
    assert duration_seconds(text) is None


MALFORMED = [
    "mainSteps: 3",
    "mainSteps: [1, null, [], 'x']",
    "mainSteps:\n  - name: [x]\n    action: {a: 1}\n    inputs: []\n    outputs: 7\n    onFailure: 3\n    nextStep: [a]",
    "outputs: {a: 1}\nmainSteps:\n  - {name: A, action: aws:loop, inputs: {Steps: {a: 1}, Iterators: 7, LoopCondition: [1]}}",
    "outputs: [1, a.b.c, A.]\nmainSteps:\n  - {name: A, action: aws:branch, inputs: {Choices: [1, {And: 3}, {Not: [1]}], Default: 1}}",
    "mainSteps:\n  - {name: A, action: aws:sleep, inputs: {Duration: 5, Timestamp: [1]}}",
    "mainSteps:\n  - {name: A, action: aws:executeScript, inputs: {Runtime: [python3.11], Handler: 1}}",
    "mainSteps:\n  - {name: A, action: aws:runCommand, inputs: {DocumentName: [x], Parameters: 3, MaxErrors: [1]}}",
    "mainSteps:\n  - {name: A, action: aws:runCommand, inputs: {DocumentName: releaseflow-X, InstanceIds: 3}}",
    "mainSteps:\n  - {name: A, action: aws:branch, inputs: {Choices: [{1: x, b: y, NextStep: A}]}, outputs: [{1: x, b: y}]}",
    "assumeRole: [1]\nparameters: [a]\nmainSteps:\n  - {name: A, action: aws:pause, inputs: {x: '{{ B.C.D }} {{ }}'}}",
]


@pytest.mark.parametrize("body", MALFORMED)
def test_rules_never_crash_on_malformed_runbooks(body):
    """Every rule survives wrong types anywhere in a runbook, reporting findings instead of raising."""
    document = parse_document(f"schemaVersion: '0.3'\n{body}\n", "releaseflow-Odd.yaml")
    automation_rules = [rule for rule in all_rules() if rule.code[1] == "2"]
    assert automation_rules
    validate_documents([document], automation_rules)


def _paths(value, path=()):
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*path, key))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


FIXTURES = Path(__file__).parent / "fixtures" / "rules"


@pytest.mark.parametrize(
    "name",
    ["E204/good/jumps.yaml", "E209/good/outputs.yaml", "E210/good/loops.yaml", "E211/good/references.yaml"],
)
def test_rules_never_crash_when_any_value_has_the_wrong_type(name):
    """Replacing any single value of a valid runbook by a value of another type never makes a rule raise."""
    valid = parse_document((FIXTURES / name).read_text(), "releaseflow-Fuzz.yaml")
    rules = [rule for rule in all_rules() if rule.code[1] == "2"]
    for path in _paths(valid.content):
        for wrong in (None, 7, True, "{{ x }}", ["a"], {"a": [1]}):
            document = Document(valid.path, _replaced(valid.content, path, wrong), valid.text, valid.lines)
            findings = validate_documents([document], rules)
            assert all(finding.code.startswith(("E", "W")) for finding in findings)


def test_steps_of_finds_the_action_s_steps_inside_loops_and_passes_over_malformed_inputs():
    """steps_of yields the named actions' steps, nested loop steps included, and not those without input maps."""
    document = parse_document(
        """\
schemaVersion: '0.3'
mainSteps:
  - name: Nap
    action: aws:sleep
    inputs: {Duration: PT1S}
  - name: Each
    action: aws:loop
    inputs:
      Iterators: [a, b]
      Steps:
        - name: Inner
          action: aws:sleep
          inputs: {Duration: PT2S}
        - name: Script
          action: aws:executeScript
          inputs: {Runtime: python3.11, Handler: h, Script: 'def h(e, c): pass'}
  - name: Broken
    action: aws:sleep
    inputs: [PT1S]
""",
        "releaseflow-Walk.yaml",
    )
    assert [step["name"] for _path, step, _inputs in steps_of(document, "aws:sleep")] == ["Nap", "Inner"]
    found = list(steps_of(document, "aws:executeScript", "aws:loop"))
    assert [(path, step["name"]) for path, step, _inputs in found] == [
        (("mainSteps", 1), "Each"),
        (("mainSteps", 1, "inputs", "Steps", 1), "Script"),
    ]
    assert found[1][2]["Runtime"] == "python3.11"
