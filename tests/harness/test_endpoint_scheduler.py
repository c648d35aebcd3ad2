"""EventBridge Scheduler on the rehearsal: one-time schedules call their universal target on time."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from botocore.exceptions import ClientError

from releaseflow.rehearsal.endpoint.scheduler_service import Schedule, SchedulerService, TargetError

TARGET = "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution"
ROLE = "arn:aws:iam::123456789012:role/releaseflow-SchedulerRole"
TOKEN = "0b7e2c4e-8a51-4c43-9d6f-3f1b2a6c9d01"
# 10:00 in Kolkata (UTC+05:30) is 04:30 UTC.
KOLKATA_TEN = datetime(2026, 3, 1, 4, 30, tzinfo=UTC).timestamp()


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Target:
    """Records each call of the target; answers with the errors queued in `failures`, then succeeds."""

    def __init__(self, clock: Clock, failures=()):
        self.clock = clock
        self.failures = list(failures)
        self.calls: list[tuple[float, str, str, dict, str]] = []

    def __call__(self, service: str, operation: str, request: dict, role_arn: str) -> dict:
        self.calls.append((self.clock(), service, operation, request, role_arn))
        if self.failures:
            raise self.failures.pop(0)
        return {"AutomationExecutionId": "exec-1"}


def _schedule(
    expression="at(2026-03-01T10:00:00)",
    timezone="Asia/Kolkata",
    after="DELETE",
    state="ENABLED",
    retry=None,
    name="releaseflow-production-abc",
) -> Schedule:
    target = {
        "Arn": TARGET,
        "RoleArn": ROLE,
        "Input": json.dumps({"DocumentName": "releaseflow-Deploy", "ClientToken": TOKEN}),
    }
    if retry:
        target["RetryPolicy"] = retry
    return Schedule(
        arn=f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}",
        group="default",
        name=name,
        expression=expression,
        timezone=timezone,
        state=state,
        target=target,
        action_after_completion=after,
    )


def _service(schedules, clock, target, fired_file=None):
    deleted: list[tuple[str, str]] = []

    def delete(group, name):
        deleted.append((group, name))
        schedules[:] = [s for s in schedules if s.name != name]

    service = SchedulerService(lambda: list(schedules), target, delete, fired_file=fired_file, clock=clock)
    return service, deleted


def test_an_at_schedule_fires_at_its_time_in_its_time_zone_and_not_before():
    """at(10:00) in Asia/Kolkata calls StartAutomationExecution at 04:30 UTC, not a second earlier,
    with the schedule's Input as the request and its RoleArn."""
    clock = Clock(KOLKATA_TEN - 1)
    target = Target(clock)
    service, _ = _service([_schedule()], clock, target)
    service.tick()
    assert target.calls == []
    clock.now = KOLKATA_TEN
    service.tick()
    request = {"DocumentName": "releaseflow-Deploy", "ClientToken": TOKEN}
    assert target.calls == [(KOLKATA_TEN, "ssm", "StartAutomationExecution", request, ROLE)]


def test_a_delete_schedule_is_deleted_once_it_has_run_and_a_none_schedule_stays_without_firing_again():
    """ActionAfterCompletion DELETE removes the schedule after its one call; NONE keeps it, called once."""
    clock = Clock(KOLKATA_TEN)
    target = Target(clock)
    schedules = [_schedule(name="gone"), _schedule(name="kept", after="NONE")]
    service, deleted = _service(schedules, clock, target)
    service.tick()
    clock.now += 120
    service.tick()
    assert deleted == [("default", "gone")]
    assert [s.name for s in schedules] == ["kept"]
    assert len(target.calls) == 2


def test_a_throttled_call_is_retried_with_backoff_and_the_same_client_token():
    """A throttled StartAutomationExecution is called again 1 s later, then 2 s after that, with the
    same Input (so the same ClientToken: a retry cannot start a second deploy)."""
    clock = Clock(KOLKATA_TEN)
    throttled = TargetError("ThrottlingException", "Rate exceeded")
    target = Target(clock, [throttled, TargetError("InternalServerError", "oops", server_side=True)])
    service, deleted = _service([_schedule()], clock, target)
    for step in (0, 0.5, 0.5, 1.0, 1.0):
        clock.now += step
        service.tick()
    assert [call[0] - KOLKATA_TEN for call in target.calls] == [0, 1.0, 3.0]
    assert {json.dumps(call[3]) for call in target.calls} == {json.dumps(target.calls[0][3])}
    assert target.calls[0][3]["ClientToken"] == TOKEN
    assert deleted == [("default", "releaseflow-production-abc")]


def test_retries_end_at_the_retry_policys_maximum_attempts():
    """MaximumRetryAttempts 2: three calls in all, then Scheduler gives up (and deletes a DELETE schedule)."""
    clock = Clock(KOLKATA_TEN)
    target = Target(clock, [TargetError("ThrottlingException", "Rate exceeded")] * 10)
    policy = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
    service, deleted = _service([_schedule(retry=policy)], clock, target)
    for _ in range(40):
        service.tick()
        clock.now += 1
    assert len(target.calls) == 3
    assert deleted == [("default", "releaseflow-production-abc")]
    assert [outcome["attempts"] for outcome in service.fired().values()] == [3]


def test_retries_end_at_the_retry_policys_maximum_event_age():
    """MaximumEventAgeInSeconds 60: no attempt is made more than 60 s after the schedule's time."""
    clock = Clock(KOLKATA_TEN)
    target = Target(clock, [TargetError("ThrottlingException", "Rate exceeded")] * 200)
    service, _ = _service([_schedule(retry={"MaximumEventAgeInSeconds": 60})], clock, target)
    for _ in range(400):
        service.tick()
        clock.now += 1
    assert target.calls and max(call[0] for call in target.calls) - KOLKATA_TEN <= 60
    assert len(target.calls) < 10


def test_a_refused_request_is_not_retried():
    """A ValidationException (the input itself is wrong) ends the schedule's run after one call."""
    clock = Clock(KOLKATA_TEN)
    target = Target(clock, [TargetError("ValidationException", "bad parameter")] * 3)
    service, deleted = _service([_schedule()], clock, target)
    for _ in range(10):
        service.tick()
        clock.now += 1
    assert len(target.calls) == 1
    assert deleted


@pytest.mark.parametrize(
    "schedule",
    [
        _schedule(state="DISABLED"),
        _schedule(expression="rate(5 minutes)"),
        _schedule(expression="cron(0 10 * * ? *)"),
    ],
    ids=["disabled", "rate", "cron"],
)
def test_disabled_and_recurring_schedules_are_not_fired(schedule):
    """Only ENABLED one-time at() schedules fire on the rehearsal."""
    clock = Clock(KOLKATA_TEN + 86400)
    target = Target(clock)
    service, _ = _service([schedule], clock, target)
    service.tick()
    assert target.calls == []


def test_a_restarted_endpoint_does_not_fire_a_schedule_again(tmp_path):
    """What has fired is kept in a file: a new service over it leaves a fired NONE schedule alone."""
    clock = Clock(KOLKATA_TEN)
    target = Target(clock)
    schedules = [_schedule(after="NONE")]
    fired = tmp_path / "schedules-fired.json"
    first, _ = _service(schedules, clock, target, fired_file=fired)
    first.tick()
    again, _ = _service(schedules, clock, target, fired_file=fired)
    again.tick()
    assert len(target.calls) == 1


# --- through the endpoint process -------------------------------------------------------------------

SLEEP_RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "Sleep a second.",
    "parameters": {"Revision": {"type": "String"}},
    "mainSteps": [{"name": "Pause", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}],
}


def _publish(endpoint) -> str:
    name = f"scheduled-{uuid.uuid4().hex[:8]}"
    endpoint.client("ssm").create_document(
        Name=name, Content=yaml.safe_dump(SLEEP_RUNBOOK), DocumentType="Automation", DocumentFormat="YAML"
    )
    return name


def _create(endpoint, runbook: str, seconds_ahead: float) -> tuple[str, float, str]:
    """A one-time schedule `seconds_ahead` (rounded up to the second) of now, in UTC; (name, time, token)."""
    moment = (datetime.now(UTC) + timedelta(seconds=seconds_ahead + 1)).replace(microsecond=0)
    name, token = f"releaseflow-test-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    request = {
        "DocumentName": runbook,
        "Parameters": {"Revision": ["abc"]},
        "ClientToken": token,
        "Tags": [{"Key": "releaseflow:schedule", "Value": name}],
    }
    endpoint.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=f"at({moment:%Y-%m-%dT%H:%M:%S})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": TARGET, "RoleArn": ROLE, "Input": json.dumps(request)},
    )
    return name, moment.timestamp(), token


def _executions(endpoint, runbook: str) -> list[dict]:
    return endpoint.client("ssm").describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": [runbook]}]
    )["AutomationExecutionMetadataList"]


def _wait_for_execution(endpoint, runbook: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while not _executions(endpoint, runbook):
        assert time.monotonic() < deadline, f"no execution of {runbook} within {timeout} s"
        time.sleep(0.1)
    return _executions(endpoint, runbook)[0]


def _faults(endpoint, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{endpoint.url}/_rehearsal/faults",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_schedule_two_seconds_ahead_starts_its_runbook_then_is_deleted(endpoint_server):
    """The endpoint calls StartAutomationExecution at the schedule's time (within a second), as the
    schedule's role, with the Input's parameters and tags (ListTagsForResource reads them back); the
    DELETE schedule is then gone."""
    runbook = _publish(endpoint_server)
    name, moment, _ = _create(endpoint_server, runbook, 2)
    execution = _wait_for_execution(endpoint_server, runbook)
    started = execution["ExecutionStartTime"].timestamp()
    assert moment <= started <= moment + 1.5
    assert execution["ExecutedBy"].startswith(
        "arn:aws:sts::123456789012:assumed-role/releaseflow-SchedulerRole/"
    )
    ssm = endpoint_server.client("ssm")
    full = ssm.get_automation_execution(AutomationExecutionId=execution["AutomationExecutionId"])
    assert full["AutomationExecution"]["Parameters"]["Revision"] == ["abc"]
    tags = ssm.list_tags_for_resource(
        ResourceType="Automation", ResourceId=execution["AutomationExecutionId"]
    )
    assert tags["TagList"] == [{"Key": "releaseflow:schedule", "Value": name}]
    deadline = time.monotonic() + 5
    while True:
        try:
            endpoint_server.client("scheduler").get_schedule(Name=name)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        assert time.monotonic() < deadline, f"{name} still exists after it ran"
        time.sleep(0.1)


def test_a_throttled_start_is_retried_and_starts_one_execution(endpoint_server):
    """StartAutomationExecution throttled at the schedule's time: Scheduler's retry starts the runbook,
    once, with the schedule's ClientToken."""
    runbook = _publish(endpoint_server)
    _faults(endpoint_server, {"operations": ["StartAutomationExecution"], "rate": 1.0})
    try:
        _, moment, token = _create(endpoint_server, runbook, 1)
        deadline = time.monotonic() + 10
        while _faults(endpoint_server)["injected"] < 1:
            assert time.monotonic() < deadline, "the schedule never called StartAutomationExecution"
            time.sleep(0.05)
    finally:
        _faults(endpoint_server, {})
    execution = _wait_for_execution(endpoint_server, runbook)
    assert execution["ExecutionStartTime"].timestamp() >= moment + 1
    assert len(_executions(endpoint_server, runbook)) == 1
    again = endpoint_server.client("ssm").start_automation_execution(DocumentName=runbook, ClientToken=token)
    assert again["AutomationExecutionId"] == execution["AutomationExecutionId"]
