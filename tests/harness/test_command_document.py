"""Parameter checks and plugin plans of Command documents, as SendCommand and the SSM agent make them."""

import pytest

from releaseflow.rehearsal.command_document import (
    InvalidDocument,
    InvalidParameters,
    plan_plugins,
    resolve_parameters,
    substitute,
)


def document(parameters=None, steps=None):
    return {
        "schemaVersion": "2.2",
        "parameters": parameters or {},
        "mainSteps": steps
        or [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}],
    }


# --- resolve_parameters ---------------------------------------------------------------------------


def test_defaults_fill_missing_parameters():
    """A parameter not given takes its default; a StringList default stays a list."""
    content = document(
        {"A": {"type": "String", "default": "x"}, "B": {"type": "StringList", "default": ["p", "q"]}}
    )
    assert resolve_parameters(content, {}) == {"A": "x", "B": ["p", "q"]}


def test_given_values_override_defaults_and_keep_their_types():
    """A String takes its single value as a string, a StringList its values as a list."""
    content = document({"A": {"type": "String", "default": "x"}, "B": {"type": "StringList"}})
    assert resolve_parameters(content, {"A": ["y"], "B": ["1", "2"]}) == {"A": "y", "B": ["1", "2"]}


def test_numeric_and_boolean_defaults_become_their_text():
    """YAML numbers and booleans in defaults reach the script as SSM stores them: as text."""
    content = document({"N": {"type": "String", "default": 5}, "F": {"type": "String", "default": False}})
    assert resolve_parameters(content, {}) == {"N": "5", "F": "false"}


def test_unknown_parameter_is_refused():
    """A parameter the document does not declare is an InvalidParameters naming it."""
    with pytest.raises(InvalidParameters, match='"Nope"'):
        resolve_parameters(document({"A": {"type": "String", "default": ""}}), {"Nope": ["1"]})


def test_required_parameter_missing_is_refused():
    """A parameter without a default must be given."""
    with pytest.raises(InvalidParameters, match='"Revision" is required'):
        resolve_parameters(document({"Revision": {"type": "String"}}), {})


def test_string_takes_exactly_one_value():
    """Two values for a String parameter are refused."""
    with pytest.raises(InvalidParameters, match="exactly one value"):
        resolve_parameters(document({"A": {"type": "String"}}), {"A": ["1", "2"]})


def test_allowed_pattern_is_not_anchored():
    """allowedPattern matches anywhere in the value, like Go's regexp.MatchString: `[a-z]+` lets `main; rm -rf /` in."""
    content = document({"Branch": {"type": "String", "allowedPattern": "[a-z]+"}})
    assert resolve_parameters(content, {"Branch": ["main; rm -rf /"]}) == {"Branch": "main; rm -rf /"}


def test_allowed_pattern_refuses_values_without_a_match():
    """A value with no match anywhere is refused, naming the parameter and the value."""
    content = document({"Branch": {"type": "String", "allowedPattern": "^[a-z]+$"}})
    with pytest.raises(InvalidParameters, match='"Branch" value "main; rm -rf /"'):
        resolve_parameters(content, {"Branch": ["main; rm -rf /"]})


def test_allowed_pattern_dollar_ends_the_text_as_in_go():
    """Go's `$` does not match before a final newline, so `^[a-f0-9]+$` refuses `abc` + newline."""
    content = document({"Revision": {"type": "String", "allowedPattern": "^[a-f0-9]+$"}})
    assert resolve_parameters(content, {"Revision": ["abc"]}) == {"Revision": "abc"}
    with pytest.raises(InvalidParameters, match="allowedPattern"):
        resolve_parameters(content, {"Revision": ["abc\n"]})


def test_allowed_values_apply_to_each_list_item():
    """Every item of a StringList must be one of allowedValues."""
    content = document({"S": {"type": "StringList", "allowedValues": ["puma", "sidekiq"]}})
    assert resolve_parameters(content, {"S": ["puma"]}) == {"S": ["puma"]}
    with pytest.raises(InvalidParameters, match='"S" value "nginx"'):
        resolve_parameters(content, {"S": ["puma", "nginx"]})


def test_char_and_item_limits():
    """minChars/maxChars bound each value, minItems/maxItems a StringList's length."""
    content = document(
        {"A": {"type": "String", "minChars": 2, "maxChars": 3}, "L": {"type": "StringList", "maxItems": 1}}
    )
    assert resolve_parameters(content, {"A": ["ab"], "L": ["x"]}) == {"A": "ab", "L": ["x"]}
    with pytest.raises(InvalidParameters, match="minChars"):
        resolve_parameters(content, {"A": ["a"], "L": []})
    with pytest.raises(InvalidParameters, match="maxChars"):
        resolve_parameters(content, {"A": ["abcd"], "L": []})
    with pytest.raises(InvalidParameters, match="maxItems"):
        resolve_parameters(content, {"A": ["ab"], "L": ["x", "y"]})


def test_parameter_store_default_cannot_be_resolved_here():
    """A `{{ssm:/path}}` default is refused with a message saying the rehearsal cannot resolve it."""
    content = document({"A": {"type": "String", "default": "{{ssm:/app/revision}}"}})
    with pytest.raises(InvalidParameters, match="Parameter Store"):
        resolve_parameters(content, {})


def test_only_string_and_string_list_types():
    """Command documents take String and StringList parameters only."""
    with pytest.raises(InvalidDocument, match="Integer"):
        resolve_parameters(document({"N": {"type": "Integer", "default": 1}}), {})


# --- substitute -----------------------------------------------------------------------------------


def test_whole_placeholder_gets_the_raw_value():
    """A string that is exactly one placeholder becomes the value itself: a StringList stays a list."""
    assert substitute({"runCommand": "{{ Commands }}"}, {"Commands": ["a", "b"]}) == {
        "runCommand": ["a", "b"]
    }


def test_lists_inside_strings_are_compact_go_json():
    """Inside a longer string a list goes in as Go's json.Marshal writes it: no spaces, HTML escaped."""
    assert substitute("x {{ L }} y", {"L": ["a", "<b>"]}) == 'x ["a","\\u003cb\\u003e"] y'


def test_dollar_signs_in_values_are_expanded_as_go_templates():
    """Inside a longer string `$$` becomes `$` and `$name` vanishes, as Go's ReplaceAllString does."""
    assert substitute("echo {{ Msg }}!", {"Msg": "cost $$5 for $HOME"}) == "echo cost $5 for !"


def test_whole_placeholder_values_keep_dollar_signs():
    """A value that replaces a whole string is not a template: its `$` stay as they are."""
    assert substitute("{{ Msg }}", {"Msg": "a $HOME b $$"}) == "a $HOME b $$"


def test_unknown_placeholders_and_substituted_braces_stay():
    """Unknown names stay as written, and a value's own braces are not substituted again."""
    assert substitute("{{ Other }} {{ A }}", {"A": "{{ B }}", "B": "no"}) == "{{ Other }} {{ B }}"


# --- plan_plugins ---------------------------------------------------------------------------------


def test_plan_interpolates_inputs_and_reads_control_flow():
    """Steps come in order with interpolated inputs and their onFailure/onSuccess/finallyStep."""
    steps = [
        {
            "action": "aws:runShellScript",
            "name": "first",
            "inputs": {"runCommand": ["echo {{ Revision }}"], "onFailure": "exit", "onSuccess": "exit"},
        },
        {
            "action": "aws:runShellScript",
            "name": "last",
            "inputs": {"runCommand": ["true"], "finallyStep": True},
        },
    ]
    plugins = plan_plugins(document({"Revision": {"type": "String"}}, steps), {"Revision": "abc"})
    assert [(p.name, p.inputs["runCommand"]) for p in plugins] == [
        ("first", ["echo abc"]),
        ("last", ["true"]),
    ]
    assert (plugins[0].on_failure, plugins[0].on_success, plugins[0].finally_step) == ("exit", "exit", False)
    assert plugins[1].finally_step is True


def test_env_var_parameters_are_exported():
    """ENV_VAR parameters become SSM_<Name> in every plugin's environment; others do not."""
    content = document(
        {"Revision": {"type": "String", "interpolationType": "ENV_VAR"}, "Plain": {"type": "String"}}
    )
    plugins = plan_plugins(content, {"Revision": "abc", "Plain": "x"})
    assert plugins[0].environment == {"SSM_Revision": "abc"}


def test_precondition_platform_type_is_case_insensitive():
    """StringEquals [platformType, linux] runs on Linux; [platformType, Windows] is skipped."""
    steps = [
        {
            "action": "aws:runShellScript",
            "name": "lin",
            "precondition": {"StringEquals": ["platformType", "linux"]},
        },
        {
            "action": "aws:runShellScript",
            "name": "win",
            "precondition": {"StringEquals": ["platformType", "Windows"]},
        },
    ]
    lin, win = plan_plugins(document(steps=steps), {})
    assert (lin.skip_reason, lin.fail_reason) == (None, None)
    assert win.skip_reason == (
        "Step execution skipped due to unsatisfied preconditions: "
        "'\"StringEquals\": [platformType, Windows]'. Step name: win"
    )


def test_unrecognized_precondition_fails_the_step():
    """Any operator but StringEquals fails the step with the agent's "Unrecognized precondition" message."""
    steps = [
        {"action": "aws:runShellScript", "name": "s", "precondition": {"StringLike": ["platformType", "L"]}}
    ]
    (plugin,) = plan_plugins(document(steps=steps), {})
    assert plugin.fail_reason.startswith(
        "Unrecognized precondition(s): 'unrecognized operator: \"StringLike\"'"
    )


def test_schema_1_2_runtime_config_is_planned():
    """A 1.2 document's runtimeConfig properties become plugins named by their id."""
    content = {
        "schemaVersion": "1.2",
        "parameters": {"C": {"type": "StringList"}},
        "runtimeConfig": {
            "aws:runShellScript": {"properties": [{"id": "0.aws:runShellScript", "runCommand": "{{ C }}"}]}
        },
    }
    (plugin,) = plan_plugins(content, {"C": ["echo hi"]})
    assert (plugin.name, plugin.action, plugin.inputs["runCommand"]) == (
        "0.aws:runShellScript",
        "aws:runShellScript",
        ["echo hi"],
    )


def test_unknown_schema_is_refused():
    """An Automation schema is not something the host agent runs."""
    with pytest.raises(InvalidDocument, match=r"0\.3"):
        plan_plugins({"schemaVersion": "0.3", "mainSteps": []}, {})
