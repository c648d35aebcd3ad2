"""JSONPath selectors, output type conversion and ISO 8601 durations used by steps."""

from datetime import UTC, datetime

import pytest

from releaseflow.rehearsal.engine.durations import duration_seconds, seconds_until
from releaseflow.rehearsal.engine.errors import StepFailed
from releaseflow.rehearsal.engine.jsonpath import JsonPathError, select
from releaseflow.rehearsal.engine.values import as_strings, to_output_type

RESPONSE = {
    "Reservations": [
        {"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}}]},
        {"Instances": [{"InstanceId": "i-2", "State": {"Name": "stopped"}}]},
    ],
    "Count": 2,
    "odd key": True,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.Count", 2),
        ("$.Reservations[0].Instances[0].InstanceId", "i-1"),
        ("$.Reservations[-1].Instances[0].State.Name", "stopped"),
        ("$['odd key']", True),
        ("$.Missing", None),
        ("$.Reservations[*].Instances[0].InstanceId", ["i-1", "i-2"]),
        ("$..InstanceId", ["i-1", "i-2"]),
        ("$.Reservations..State.Name", ["running", "stopped"]),
    ],
)
def test_selectors(path, expected):
    """Definite paths give one value (None if absent); wildcards and descent give a list."""
    assert select(RESPONSE, path).result() == expected


def test_selector_without_dollar_is_an_error():
    """A selector must start at the root `$`."""
    with pytest.raises(JsonPathError):
        select(RESPONSE, "Count")


@pytest.mark.parametrize(
    ("value", "type_name", "expected"),
    [
        ("7", "Integer", 7),
        (7, "String", "7"),
        ("true", "Boolean", True),
        ([1, "a"], "StringList", ["1", "a"]),
        ({"a": 1}, "StringMap", {"a": 1}),
        ([{"a": 1}], "MapList", [{"a": 1}]),
        (datetime(2026, 1, 2, tzinfo=UTC), "String", "2026-01-02T00:00:00+00:00"),
    ],
)
def test_output_types(value, type_name, expected):
    """Selected values are converted to the output's declared Type."""
    assert to_output_type(value, type_name, "Out") == expected


@pytest.mark.parametrize(("value", "type_name"), [("seven", "Integer"), ([1], "String"), ("yes", "Boolean")])
def test_output_type_mismatch_fails_the_step(value, type_name):
    """A value that does not fit the declared Type fails the step, naming the output."""
    with pytest.raises(StepFailed, match="Output Out"):
        to_output_type(value, type_name, "Out")


def test_values_render_as_api_strings():
    """Outputs and Parameters show strings as they are and other values as JSON."""
    assert as_strings(["a", 1, True]) == ["a", "1", "true"]
    assert as_strings({"k": "v"}) == ['{"k": "v"}']


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT10S", 10), ("PT1M30S", 90), ("P1DT1H", 90000), ("PT0.5S", 0.5)]
)
def test_durations(text, seconds):
    """ISO 8601 durations are read as seconds."""
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["10", "P", "PT", "P8D"])
def test_bad_or_too_long_durations_fail(text):
    """Malformed durations and ones past 604799 s fail the step."""
    with pytest.raises(StepFailed):
        duration_seconds(text)


def test_timestamp_is_measured_from_now():
    """A Timestamp sleeps until that moment, and not at all once it has passed."""
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert seconds_until("2026-01-01T00:01:00Z", now) == 60
    assert seconds_until("2025-12-31T00:00:00Z", now) == 0
