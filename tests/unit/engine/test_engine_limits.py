"""AWS's documented time limits the engine enforces: aws:executeAwsApi's 25 s."""

import threading

from engine_helpers import FakeAws, runbook, statuses
from releaseflow.rehearsal.engine.limits import AWS_LIMITS, Limits


def test_aws_limits_are_aws_values():
    """The engine's defaults are AWS's documented values: 120 s to cancel, 25 s per API call."""
    assert (AWS_LIMITS.cancel_seconds, AWS_LIMITS.api_call_seconds) == (120, 25)


def test_an_api_call_slower_than_the_limit_fails_the_step(execute):
    """aws:executeAwsApi whose call outlasts api_call_seconds fails, naming the call and the 25 s rule."""
    release = threading.Event()
    aws = FakeAws({("svc", "Slow"): lambda params: release.wait(5) and {}})
    step = {"name": "slow", "action": "aws:executeAwsApi", "inputs": {"Service": "svc", "Api": "Slow"}}
    try:
        run = execute(runbook(step), aws=aws, limits=Limits(api_call_seconds=0.2))
    finally:
        release.set()
    assert statuses(run) == [("slow", "Failed")]
    message = run.step_executions()[0]["FailureMessage"]
    assert "svc.Slow did not answer within 0.2 s" in message
    assert "at most 25 seconds (step 'slow')" in message


def test_an_api_call_within_the_limit_keeps_its_answer_and_errors(execute):
    """A call that answers in time gives its response; one that raises fails the step with AWS's error."""
    from releaseflow.rehearsal.engine.automation import AwsCallError

    def boom(params):
        raise AwsCallError("Throttling", "slow down")

    aws = FakeAws({("svc", "Fast"): lambda params: {"Value": "ok"}, ("svc", "Boom"): boom})
    fast = {
        "name": "fast",
        "action": "aws:executeAwsApi",
        "inputs": {"Service": "svc", "Api": "Fast"},
        "outputs": [{"Name": "V", "Selector": "$.Value", "Type": "String"}],
        "onFailure": "Continue",
    }
    broken = {"name": "broken", "action": "aws:executeAwsApi", "inputs": {"Service": "svc", "Api": "Boom"}}
    run = execute(runbook(fast, broken), aws=aws, limits=Limits(api_call_seconds=2))
    assert statuses(run) == [("fast", "Success"), ("broken", "Failed")]
    assert run.step_executions()[0]["Outputs"] == {"V": ["ok"]}
    assert run.step_executions()[1]["FailureMessage"] == "svc.Boom failed: Throttling: slow down"
