"""The deploy's ReportFailure: the failed steps, the hosts where they failed, and what the rollback did."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from aws_fakes import FakeClient
from releaseflow.runbook_scripts import deploy_report

# When the failed step began, as boto3 gives it (here in UTC+1): the report asks from that moment in UTC.
STARTED = datetime(2026, 12, 7, 13, 0, 5, tzinfo=timezone(timedelta(hours=1)))


class FakeSsm(FakeClient):
    """The SSM calls ReportFailure makes: a failed health check on one host of a batch, then the rollback."""

    def __init__(self, rollback_status="Success", extra=()):
        super().__init__()
        self.rollback_status = rollback_status
        self.extra = list(extra)

    def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
        assert AutomationExecutionId == "exec-1"
        return {
            "StepExecutions": [
                {"StepName": "SwitchBatch", "Action": "aws:runCommand", "StepStatus": "Success"},
                {"StepName": "UpdateBatches", "Action": "aws:loop", "StepStatus": "Failed"},
                {
                    "StepName": "HealthCheckBatch",
                    "Action": "aws:runCommand",
                    "StepStatus": "Failed",
                    "ExecutionStartTime": STARTED,
                    "Inputs": {
                        "DocumentName": json.dumps("staging-releaseflow-HealthCheck"),
                        "InstanceIds": json.dumps(["i-0b", "i-0c"]),
                    },
                    "FailureMessage": "Step fails when it is Poll action.",
                },
                {
                    "StepName": "StartRollback",
                    "Action": "aws:executeAwsApi",
                    "StepStatus": "Success",
                    "Outputs": {"RollbackExecutionId": ["r-1"]},
                },
                *self.extra,
            ]
        }

    def list_command_invocations(self, InstanceId, Filters):
        """Each host's invocations of the health check since the step began: i-0c's failed."""
        if InstanceId in ("i-0b", "i-0c"):
            assert Filters == [
                {"key": "DocumentName", "value": "staging-releaseflow-HealthCheck"},
                {"key": "InvokedAfter", "value": "2026-12-07T12:00:05Z"},
            ]
        status = {"i-0b": "Success", "i-0c": "Failed"}.get(InstanceId)
        if not status:
            return {"CommandInvocations": []}
        # Newest first, as the API lists them: the rollback's later health check passed on i-0c.
        later = {
            "InstanceId": InstanceId,
            "Status": "Success",
            "RequestedDateTime": STARTED + timedelta(minutes=2),
        }
        own = {
            "InstanceId": InstanceId,
            "Status": status,
            "RequestedDateTime": STARTED + timedelta(seconds=1),
        }
        return {"CommandInvocations": [later, own]}

    def get_automation_execution(self, AutomationExecutionId):
        assert AutomationExecutionId == "r-1"
        failure = (
            {"FailureMessage": "unreachable, so not rolled back: i-0d"}
            if self.rollback_status != "Success"
            else {}
        )
        return {"AutomationExecution": {"AutomationExecutionStatus": self.rollback_status, **failure}}


def report(ssm) -> str:
    """The message ReportFailure fails the deploy with."""
    with pytest.raises(RuntimeError) as raised:
        deploy_report.handler({"ExecutionId": "exec-1"}, None, ssm=ssm)
    return str(raised.value)


def test_report_failure_names_the_failed_step_the_host_and_the_rollback():
    """ReportFailure names the failed step, only the hosts where its command failed (the step's own
    command, not the rollback's later one on the same host), and the rollback's outcome."""
    assert report(FakeSsm()) == (
        "deploy failed: step HealthCheckBatch Failed on i-0c (Failed): Step fails when it is Poll action.. "
        "releaseflow-RollbackFleet r-1 rolled back the hosts this execution switched."
    )


def test_report_failure_passes_on_what_the_rollback_could_not_do():
    """A rollback that failed (a host unreachable) is named with its own message."""
    assert report(FakeSsm("Failed")).endswith(
        "releaseflow-RollbackFleet r-1 ended Failed: unreachable, so not rolled back: i-0d"
    )


def test_report_failure_without_a_failed_invocation_names_the_hosts_the_command_went_to():
    """A command whose hosts show no failed invocation (lost before it arrived) names the hosts it was
    sent to; the step's outputs are never read, so this holds whether a failed step reports any."""
    lost = {
        "StepName": "SwitchBatch",
        "Action": "aws:runCommand",
        "StepStatus": "TimedOut",
        "Outputs": {"CommandId": ["c-9"]},
        "Inputs": {"InstanceIds": json.dumps(["i-0e", "i-0f"])},
    }
    assert "step SwitchBatch TimedOut on one of i-0e, i-0f" in report(FakeSsm(extra=[lost]))


def test_report_failure_before_any_switch_says_nothing_was_rolled_back():
    """A failure while preparing starts no rollback, and the report says so."""

    class Prepared(FakeSsm):
        def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
            failed = {"StepName": "PrepareChunk", "Action": "aws:runCommand", "StepStatus": "Failed"}
            return {"StepExecutions": [failed]}

    assert report(Prepared()) == (
        "deploy failed: step PrepareChunk Failed. No host was switched, so nothing was rolled back."
    )


def test_report_failure_still_fails_when_the_lookup_fails(monkeypatch):
    """Without access to SSM, ReportFailure still fails the execution and says why it has no details."""

    def client(service):
        raise OSError("no route to the endpoint")

    monkeypatch.setattr(deploy_report, "client", client)
    with pytest.raises(
        RuntimeError, match=r"^deploy failed: a step failed \(the details could not be looked up: no route"
    ):
        deploy_report.handler({"ExecutionId": "exec-1"}, None)


def test_report_failure_names_why_the_cancel_path_could_not_start_the_rollback():
    """A refused RollBackOnCancel start is named in the report, with the refusal, as a rollback that could not start."""

    class Refused(FakeSsm):
        def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
            return {
                "StepExecutions": [
                    {"StepName": "SwitchBatch", "Action": "aws:runCommand", "StepStatus": "Cancelled"},
                    {
                        "StepName": "RollBackOnCancel",
                        "Action": "aws:executeAwsApi",
                        "StepStatus": "Failed",
                        "FailureMessage": "AccessDeniedException: not authorized to perform iam:PassRole",
                    },
                ]
            }

    message = report(Refused())
    assert message.startswith("deploy failed: step SwitchBatch Cancelled. The rollback could not start: ")
    assert message.endswith(
        "step RollBackOnCancel could not start releaseflow-RollbackFleet (AccessDeniedException: not "
        "authorized to perform iam:PassRole): run it with ExecutionId exec-1"
    )


def test_report_failure_after_a_cancel_while_awaiting_the_rollback_says_it_still_runs():
    """Cancelled while AwaitRollback waits, the report names the rollback StartRollback started as still running."""

    class Awaiting(FakeSsm):
        def describe_automation_step_executions(self, AutomationExecutionId, NextToken=None):
            steps = super().describe_automation_step_executions(AutomationExecutionId)["StepExecutions"]
            cancelled = {"StepName": "AwaitRollback", "Action": "aws:waitForAwsResourceProperty"}
            return {"StepExecutions": [*steps, {**cancelled, "StepStatus": "Cancelled"}]}

    assert report(Awaiting("InProgress")).endswith(
        "releaseflow-RollbackFleet r-1 is still rolling back the hosts this execution switched."
    )
