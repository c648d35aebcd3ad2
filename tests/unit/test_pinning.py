"""The publish-time rewrite: every name of ours a runbook holds follows the prefix, and nothing else does."""

from __future__ import annotations

import json

import pytest

from releaseflow.pinning import renamer, rewrite_runbook

NAMES = ["releaseflow-Deploy", "releaseflow-RollbackFleet", "releaseflow-Rollback", "releaseflow-HealthCheck"]
STAGING = renamer({name: "staging-" + name for name in NAMES})


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("releaseflow-RollbackFleet", "staging-releaseflow-RollbackFleet"),
        ("releaseflow-Rollback", "staging-releaseflow-Rollback"),
        (
            'RUNBOOKS = ("releaseflow-Deploy", "releaseflow-RollbackFleet")',
            'RUNBOOKS = ("staging-releaseflow-Deploy", "staging-releaseflow-RollbackFleet")',
        ),
        ("run releaseflow-Deploy instead.", "run staging-releaseflow-Deploy instead."),
        ("**releaseflow-Deploy**, then", "**staging-releaseflow-Deploy**, then"),
        (
            "automation-definition/releaseflow-RollbackFleet:$DEFAULT",
            "automation-definition/staging-releaseflow-RollbackFleet:$DEFAULT",
        ),
        ('[prefix + "releaseflow-"]', '[prefix + "staging-releaseflow-"]'),
        ('"releaseflow-" in c["DocumentName"]', '"staging-releaseflow-" in c["DocumentName"]'),
    ],
)
def test_whole_names_and_their_shared_stem_get_the_prefix(text, published):
    """A whole name, wherever it stands in a string, and the stem all names share standing alone, are prefixed."""
    assert STAGING(text) == published


@pytest.mark.parametrize(
    "text",
    [
        "# A published prefix (staging-releaseflow-Deploy) locks only against the same prefix.",
        "automation/releaseflow-Deploy.yaml",
        "releaseflow-DeployAll and releaseflow-HealthChecks",
        "releaseflow-Other, releaseflow plan, releaseflow:fleet, /releaseflow/commands",
        "AWS-RunShellScript",
    ],
)
def test_names_inside_longer_names_and_other_strings_stay_as_written(text):
    """A name inside a longer name, a file name, other names of the family and AWS's documents are left alone."""
    assert STAGING(text) == text


def test_without_a_prefix_nothing_changes():
    """Names published under their own name leave every string, the stem's included, as written."""
    same = renamer({name: name for name in NAMES})
    assert (
        same('prefix + "releaseflow-" and releaseflow-Deploy')
        == 'prefix + "releaseflow-" and releaseflow-Deploy'
    )


def test_names_without_one_prefix_have_no_stem_rewritten():
    """The stem is rewritten only when every name gets the same prefix: otherwise there is no one answer."""
    mixed = renamer(
        {"releaseflow-Deploy": "a-releaseflow-Deploy", "releaseflow-Rollback": "b-releaseflow-Rollback"}
    )
    assert mixed('"releaseflow-" releaseflow-Rollback') == '"releaseflow-" b-releaseflow-Rollback'


def test_yaml_keeps_its_scripts_literal_blocks_and_comments():
    """Rewriting a script's names keeps it a literal block, and the comments stay."""
    text = (
        "mainSteps:\n"
        "  # why this step\n"
        "  - name: Lock\n"
        "    inputs:\n"
        "      Script: |-\n"
        '        RUNBOOKS = ("releaseflow-Deploy",)\n'
        "        # releaseflow-Rollback\n"
    )
    names = {name: "staging-" + name for name in NAMES}
    assert rewrite_runbook(text, "YAML", names=names, hashes={}) == text.replace(
        "releaseflow-", "staging-releaseflow-"
    )


def test_json_runbooks_are_rewritten_the_same_way():
    """A JSON runbook's strings, nested lists included, get the prefix too."""
    content = {
        "mainSteps": [
            {"inputs": {"DocumentName": "releaseflow-RollbackFleet", "Any": ["releaseflow-Deploy"]}}
        ]
    }
    names = {name: "staging-" + name for name in NAMES}
    published = json.loads(rewrite_runbook(json.dumps(content), "JSON", names=names, hashes={}))
    assert published["mainSteps"][0]["inputs"] == {
        "DocumentName": "staging-releaseflow-RollbackFleet",
        "Any": ["staging-releaseflow-Deploy"],
    }
