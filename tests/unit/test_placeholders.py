"""SSM placeholder substitution: raw values for whole placeholders, JSON inside strings, no recursion."""

from releaseflow.placeholders import Unresolved, interpolate, names_in

VALUES = {"Name": "web", "List": ["a", "b"], "Count": 3, "Braces": "{{ Name }}"}


def lookup(name):
    if name in VALUES:
        return VALUES[name]
    raise Unresolved(name)


def test_whole_placeholder_keeps_the_raw_value():
    """A value that is exactly one placeholder becomes the raw value: a list stays a list."""
    assert interpolate("{{ List }}", lookup) == ["a", "b"]
    assert interpolate("{{Count}}", lookup) == 3


def test_placeholder_inside_a_string_uses_json_for_non_strings():
    """Inside a longer string, strings go in as they are and other types as JSON."""
    assert interpolate("host {{ Name }} has {{ List }} x{{ Count }}", lookup) == 'host web has ["a", "b"] x3'


def test_substitution_is_not_recursive():
    """A substituted value's own placeholder is left as written."""
    assert interpolate("{{ Braces }}", lookup) == "{{ Name }}"


def test_unknown_names_are_left_alone_and_nested_values_are_walked():
    """Unknown placeholders stay; dicts and lists are interpolated item by item."""
    assert interpolate({"a": ["{{ Nope }}", "{{ Name }}"]}, lookup) == {"a": ["{{ Nope }}", "web"]}


def test_names_in_reports_paths():
    """names_in finds every placeholder with the path below the value."""
    assert list(names_in({"x": ["{{ A }} {{B}}"], "y": 1})) == [(("x", 0), "A"), (("x", 0), "B")]
