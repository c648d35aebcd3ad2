"""The rehearsal's alarm monitor on its own: the request's AlarmConfiguration, the verdict, the watch loop."""

from __future__ import annotations

import pytest

from releaseflow.rehearsal.endpoint.alarm_monitor import (
    POLL_SECONDS,
    AlarmConfiguration,
    AlarmMonitor,
    read_state,
    verdict,
)
from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.model_check import problems
from releaseflow.rehearsal.engine.errors import AwsCallError

WATCHED = AlarmConfiguration("shop-5xx")
IGNORING = AlarmConfiguration("shop-5xx", ignore_poll_failure=True)


@pytest.mark.parametrize(
    ("configuration", "state", "stops"),
    [
        (WATCHED, "OK", None),
        (WATCHED, "INSUFFICIENT_DATA", None),
        (WATCHED, "ALARM", "ALARM"),
        (WATCHED, None, "UNKNOWN"),
        (IGNORING, None, None),
        (IGNORING, "ALARM", "ALARM"),
    ],
)
def test_only_alarm_or_an_unreadable_alarm_not_ignored_stops(configuration, state, stops):
    """ALARM stops; OK and INSUFFICIENT_DATA never do; unreadable stops unless IgnorePollAlarmFailure."""
    assert verdict(configuration, state) == stops


@pytest.mark.parametrize(
    "value",
    [{"Alarms": []}, {"Alarms": [{"Name": "a"}, {"Name": "b"}]}, {"Alarms": [{"Name": "  "}]}],
)
def test_configuration_other_than_one_named_alarm_is_refused_by_the_model(value):
    """The API model takes exactly one alarm with a non-blank name: the endpoint's model check refuses the
    rest before the configuration is parsed."""
    assert problems("ssm", "StartAutomationExecution", {"DocumentName": "run", "AlarmConfiguration": value})


def test_a_configuration_whose_flag_is_not_a_boolean_is_refused():
    """A type the model check does not read (IgnorePollAlarmFailure as a string) is refused when parsed."""
    with pytest.raises(ApiError) as error:
        AlarmConfiguration.from_request({"Alarms": [{"Name": "a"}], "IgnorePollAlarmFailure": "yes"})
    assert error.value.code == "ValidationException"


def test_configuration_round_trips_in_the_api_shape():
    """What StartAutomationExecution gets is what GetAutomationExecution gives back (IgnorePoll... false by default)."""
    parsed = AlarmConfiguration.from_request({"Alarms": [{"Name": "shop-5xx"}]})
    assert parsed == WATCHED
    assert parsed.api() == {"IgnorePollAlarmFailure": False, "Alarms": [{"Name": "shop-5xx"}]}
    assert AlarmConfiguration.from_request(None) is None


def test_read_state_finds_metric_or_composite_alarms_and_none_when_missing_or_refused():
    """StateValue of the metric or composite alarm; None for no such alarm and for an API error."""
    answers = iter(
        [
            {"MetricAlarms": [{"StateValue": "OK"}], "CompositeAlarms": []},
            {"MetricAlarms": [], "CompositeAlarms": [{"StateValue": "ALARM"}]},
            {"MetricAlarms": [], "CompositeAlarms": []},
        ]
    )
    calls = []

    def aws(service, api, params):
        calls.append((service, api, tuple(params["AlarmNames"])))
        answer = next(answers, None)
        if answer is None:
            raise AwsCallError("AccessDenied", "not allowed")
        return answer

    assert [read_state(aws, "shop-5xx") for _ in range(4)] == ["OK", "ALARM", None, None]
    assert set(calls) == {("cloudwatch", "DescribeAlarms", ("shop-5xx",))}


def test_monitor_reads_every_poll_while_running_and_stops_once():
    """OK readings wait POLL_SECONDS each (under a second); the first ALARM stops the execution, once."""
    readings = iter(["OK", "OK", "ALARM", "ALARM"])
    waits, stops = [], []
    monitor = AlarmMonitor(
        WATCHED,
        read=lambda name: next(readings),
        status=lambda: "InProgress",
        stop=stops.append,
        wait=waits.append,
    )
    assert monitor.run() == {"Name": "shop-5xx", "State": "ALARM"}
    assert stops == [{"Name": "shop-5xx", "State": "ALARM"}]
    assert waits == [POLL_SECONDS, POLL_SECONDS]
    assert POLL_SECONDS < 1


def test_monitor_ends_without_a_stop_once_the_execution_is_no_longer_running():
    """An execution that ends (or is being cancelled by someone else) is left alone."""
    statuses = iter(["InProgress", "InProgress", "Cancelling"])
    stops = []
    monitor = AlarmMonitor(
        WATCHED, read=lambda name: "OK", status=lambda: next(statuses), stop=stops.append, wait=lambda s: None
    )
    assert monitor.run() is None
    assert stops == []
