"""An Automation execution's AlarmConfiguration: the CloudWatch alarm that stops it, checked as it runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.engine.errors import AwsCallError

log = logging.getLogger("releaseflow.endpoint.alarms")

# Seconds between two reads of the alarm: more than once a second, so a deploy stops within one.
POLL_SECONDS = 0.5
# The states an alarm can be in; SSM acts on ALARM only (API reference, AlarmConfiguration).
ALARM = "ALARM"
# AlarmStateInformation.State for an alarm that could not be read (botocore's ExternalAlarmState enum).
UNKNOWN = "UNKNOWN"
# The execution statuses during which the alarm is watched: once cancelling, the stop is under way.
WATCHED = ("Pending", "InProgress")


@dataclass(frozen=True)
class AlarmConfiguration:
    """StartAutomationExecution's AlarmConfiguration: one alarm, and what an unreadable alarm means."""

    name: str
    ignore_poll_failure: bool = False

    @classmethod
    def from_request(cls, value: object) -> AlarmConfiguration | None:
        """Parse the request's AlarmConfiguration. The endpoint's model check (model_check.py) has refused
        what the API model does (other than exactly one alarm, a name of 1 to 255 characters); the types
        it does not check are refused here."""
        if value is None:
            return None
        alarms = value.get("Alarms") if isinstance(value, dict) else None
        if not isinstance(value, dict) or not isinstance(alarms, list) or not isinstance(alarms[0], dict):
            raise ApiError(
                "ValidationException", "AlarmConfiguration must be a structure with a list of Alarms."
            )
        ignore = value.get("IgnorePollAlarmFailure", False)
        if not isinstance(ignore, bool):
            raise ApiError(
                "ValidationException", "AlarmConfiguration.IgnorePollAlarmFailure must be a boolean."
            )
        return cls(str(alarms[0]["Name"]), ignore)

    def api(self) -> dict:
        """As GetAutomationExecution and DescribeAutomationExecutions return it."""
        return {"IgnorePollAlarmFailure": self.ignore_poll_failure, "Alarms": [{"Name": self.name}]}


def verdict(configuration: AlarmConfiguration, state: str | None) -> str | None:
    """The state that stops the execution (ALARM, or UNKNOWN when unreadable and not ignored), else None."""
    if state == ALARM:
        return ALARM
    if state is None and not configuration.ignore_poll_failure:
        return UNKNOWN
    return None


def read_state(aws: Callable[[str, str, dict], dict], name: str) -> str | None:
    """The alarm's StateValue through CloudWatch DescribeAlarms, metric or composite; None when unreadable."""
    try:
        answer = aws("cloudwatch", "DescribeAlarms", {"AlarmNames": [name], "AlarmTypes": _TYPES})
    except AwsCallError as error:
        log.info("alarm %s could not be read: %s %s", name, error.code, error.message)
        return None
    found = [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]
    return found[0].get("StateValue") if found else None


_TYPES = ["MetricAlarm", "CompositeAlarm"]


class AlarmMonitor:
    """Reads the alarm every POLL_SECONDS while the execution runs; the first verdict stops it, once."""

    def __init__(
        self,
        configuration: AlarmConfiguration,
        read: Callable[[str], str | None],
        status: Callable[[], str],
        stop: Callable[[dict], None],
        wait: Callable[[float], bool] | None = None,
    ):
        self.configuration = configuration
        self._read = read
        self._status = status
        self._stop = stop
        # An Event's wait, so the endpoint's shutdown ends the loop at once (and tests need not sleep).
        self._wait = wait or threading.Event().wait

    def run(self) -> dict | None:
        """Watch until the execution leaves WATCHED; returns the AlarmStateInformation that stopped it."""
        while self._status() in WATCHED:
            stopped = verdict(self.configuration, self._read(self.configuration.name))
            if stopped is not None and self._status() in WATCHED:
                triggered = {"Name": self.configuration.name, "State": stopped}
                self._stop(triggered)
                return triggered
            self._wait(POLL_SECONDS)
        return None
