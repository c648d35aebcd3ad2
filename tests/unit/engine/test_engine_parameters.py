"""StartAutomationExecution-time parameter checks: names, required, types, allowed values and patterns."""

import pytest

from releaseflow.rehearsal.engine.automation import InvalidParameters, validate_parameters

CONTENT = {
    "schemaVersion": "0.3",
    "parameters": {
        "Revision": {"type": "String", "allowedPattern": "[0-9a-f]{7,40}"},
        "Stage": {"type": "String", "default": "prod", "allowedValues": ["prod", "staging"]},
        "Hosts": {"type": "StringList", "default": [], "maxItems": 2},
        "Count": {"type": "Integer", "default": 1},
        "Dry": {"type": "Boolean", "default": False},
        "Tags": {"type": "StringMap", "default": {}},
        "Rules": {"type": "MapList", "default": []},
        "Instance": {"type": "AWS::EC2::Instance::Id", "default": "i-0"},
        "Instances": {"type": "List<AWS::EC2::Instance::Id>", "default": []},
    },
}


def test_defaults_are_applied_and_values_typed():
    """Given values are converted to their declared types; absent ones take their defaults."""
    typed = validate_parameters(
        CONTENT,
        {
            "Revision": ["abc1234"],
            "Count": ["3"],
            "Dry": ["True"],
            "Hosts": ["a", "b"],
            "Tags": ['{"k": "v"}'],
            "Rules": ['{"a": 1}', '{"b": 2}'],
            "Instances": ["i-1", "i-2"],
        },
    )
    assert typed == {
        "Revision": "abc1234",
        "Stage": "prod",
        "Hosts": ["a", "b"],
        "Count": 3,
        "Dry": True,
        "Tags": {"k": "v"},
        "Rules": [{"a": 1}, {"b": 2}],
        "Instance": "i-0",
        "Instances": ["i-1", "i-2"],
    }


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({}, "Revision is required"),
        ({"Revision": ["abc1234"], "Other": ["x"]}, "Other is not defined"),
        ({"Revision": ["XYZ"]}, "Revision value 'XYZ' does not match"),
        ({"Revision": ["abc1234"], "Stage": ["dev"]}, "Stage value 'dev' is not one of"),
        ({"Revision": ["abc1234"], "Count": ["many"]}, "Count must be an Integer"),
        ({"Revision": ["abc1234"], "Dry": ["yes"]}, "Dry must be a Boolean"),
        ({"Revision": ["abc1234"], "Hosts": ["a", "b", "c"]}, "Hosts takes at most 2 items"),
        ({"Revision": ["abc1234"], "Tags": ["[1]"]}, "Tags must be a StringMap"),
        ({"Revision": ["abc1234", "def5678"]}, "Revision of type String takes exactly one value"),
        ({"Revision": [""]}, "Revision: each value must be 1 to 512"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(given, named):
    """Each kind of bad start parameter raises InvalidParameters whose message names the parameter."""
    with pytest.raises(InvalidParameters, match=named):
        validate_parameters(CONTENT, given)


def test_allowed_pattern_is_unanchored_like_go_matchstring():
    """An unanchored allowedPattern accepts a value that merely contains a match, as SSM does."""
    typed = validate_parameters(CONTENT, {"Revision": ["abc1234; rm -rf /"]})
    assert typed["Revision"] == "abc1234; rm -rf /"


def test_anchored_pattern_refuses_a_trailing_newline_as_go_does():
    """Go's `$` ends the text, so `^...$` refuses a value with a final newline (Python's would not)."""
    content = {
        "schemaVersion": "0.3",
        "parameters": {"Revision": {"type": "String", "allowedPattern": "^[a-f0-9]+$"}},
    }
    assert validate_parameters(content, {"Revision": ["abc"]})["Revision"] == "abc"
    with pytest.raises(InvalidParameters, match="Revision"):
        validate_parameters(content, {"Revision": ["abc\n"]})
