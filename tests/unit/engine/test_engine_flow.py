"""Execution flow: order, nextStep/isEnd, onFailure, maxAttempts, timeouts, isCritical, outputs, variables."""

import pytest

from engine_helpers import FakeAws, FakeChanges, runbook, statuses
from releaseflow.rehearsal.engine.automation import AutomationRun, AwsCallError


def api(name, api_name="Get", **step):
    """An aws:executeAwsApi step on the fake service `svc`."""
    return {
        "name": name,
        "action": "aws:executeAwsApi",
        "inputs": {"Service": "svc", "Api": api_name},
        **step,
    }


def failing(name, **step):
    """A step whose API call fails."""
    return api(name, "Fail", **step)


def fake_aws(**handlers):
    """A fake AWS where svc.Get succeeds, svc.Fail fails, and `handlers` add "service.Api" answers."""

    def fail(params):
        raise AwsCallError("ValidationException", "nope")

    extra = {tuple(key.split(".")): handler for key, handler in handlers.items()}
    return FakeAws({("svc", "Get"): lambda params: {"Value": "ok"}, ("svc", "Fail"): fail, **extra})


def test_steps_run_in_order_and_the_execution_succeeds(execute):
    """mainSteps run in document order; all succeeding makes the execution Success with an end time."""
    run = execute(runbook(api("a"), api("b"), api("c")), aws=fake_aws())
    assert statuses(run) == [("a", "Success"), ("b", "Success"), ("c", "Success")]
    execution = run.execution()
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["ExecutionEndTime"] >= execution["ExecutionStartTime"]
    assert "FailureMessage" not in execution


def test_next_step_jumps_and_is_end_stops(execute):
    """nextStep jumps forward past steps; isEnd ends the execution after that step."""
    run = execute(runbook(api("a", nextStep="c"), api("b"), api("c", isEnd=True), api("d")), aws=fake_aws())
    assert statuses(run) == [("a", "Success"), ("c", "Success")]


def test_abort_fails_the_execution_with_an_informative_message(execute):
    """onFailure Abort (the default) stops at the failed step; the message names step, action and reason."""
    run = execute(runbook(api("a"), failing("b"), api("c")), aws=fake_aws())
    assert statuses(run) == [("a", "Success"), ("b", "Failed")]
    execution = run.execution()
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert execution["FailureMessage"] == (
        "Step b (aws:executeAwsApi) Failed. svc.Fail failed: ValidationException: nope"
    )
    assert execution["StepExecutions"][1]["FailureMessage"] == "svc.Fail failed: ValidationException: nope"


def test_continue_runs_on_and_a_non_critical_failure_keeps_success(execute):
    """onFailure Continue goes on; such a step is not critical by default, so the execution succeeds."""
    run = execute(runbook(failing("a", onFailure="Continue"), api("b")), aws=fake_aws())
    assert statuses(run) == [("a", "Failed"), ("b", "Success")]
    assert run.execution()["AutomationExecutionStatus"] == "Success"
    assert run.step_executions()[0]["IsCritical"] is False


def test_critical_step_with_continue_fails_the_execution_at_the_end(execute):
    """isCritical: true with Continue lets later steps run but the execution ends Failed."""
    run = execute(runbook(failing("a", onFailure="Continue", isCritical=True), api("b")), aws=fake_aws())
    assert statuses(run) == [("a", "Failed"), ("b", "Success")]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_on_failure_step_runs_the_handler_and_the_execution_still_fails(execute):
    """onFailure step:X jumps to X; the failed step is critical, so the execution ends Failed after X."""
    steps = [failing("a", onFailure="step:rollback"), api("b", isEnd=True), api("rollback")]
    run = execute(runbook(*steps), aws=fake_aws())
    assert statuses(run) == [("a", "Failed"), ("rollback", "Success")]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_non_critical_step_goto_ends_in_success(execute):
    """With isCritical: false, a handled failure does not fail the execution."""
    steps = [failing("a", onFailure="step:handle", isCritical=False), api("handle")]
    assert execute(runbook(*steps), aws=fake_aws()).execution()["AutomationExecutionStatus"] == "Success"


def test_max_attempts_retries_a_failing_step(execute):
    """maxAttempts retries the action until it succeeds, within one step execution."""
    answers = iter([AwsCallError("Throttling", "slow down"), None])

    def flaky(params):
        error = next(answers)
        if error:
            raise error
        return {"Value": "ok"}

    aws = fake_aws(**{"svc.Flaky": flaky})
    run = execute(runbook(api("a", "Flaky", maxAttempts=3)), aws=aws)
    assert statuses(run) == [("a", "Success")]
    assert aws.apis() == ["Flaky", "Flaky"]


def test_max_attempts_exhausted_fails(execute):
    """A step that fails every attempt is tried maxAttempts times and then fails."""
    aws = fake_aws()
    run = execute(runbook(failing("a", maxAttempts=3)), aws=aws)
    assert aws.apis() == ["Fail", "Fail", "Fail"]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_step_timeout_times_out_the_step_and_the_execution(execute, clock):
    """A step running past timeoutSeconds ends TimedOut, and an aborting timeout times out the execution."""
    step = {"name": "nap", "action": "aws:sleep", "timeoutSeconds": 5, "inputs": {"Duration": "PT1M"}}
    run = execute(runbook(step, api("after")), aws=fake_aws())
    assert statuses(run) == [("nap", "TimedOut")]
    assert run.execution()["AutomationExecutionStatus"] == "TimedOut"
    assert "timed out after 5 seconds" in run.execution()["FailureMessage"]
    assert sum(clock.slept) == pytest.approx(5)


def test_sleep_uses_the_injected_clock(execute, clock):
    """aws:sleep passes its Duration through the injected sleep, in short slices."""
    execute(runbook({"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT3S"}}))
    assert sum(clock.slept) == pytest.approx(3)
    assert max(clock.slept) <= 0.5


def test_outputs_select_from_the_response_and_feed_later_steps(execute):
    """Step outputs use Selector and Type; `{{ Step.Output }}` passes them on; runbook outputs list them."""
    aws = fake_aws()
    aws.handlers[("svc", "List")] = lambda params: {"Items": [{"Id": "x"}, {"Id": "y"}], "Total": "2"}
    aws.handlers[("svc", "Use")] = lambda params: {}
    outputs = [
        {"Name": "Ids", "Selector": "$.Items[*].Id", "Type": "StringList"},
        {"Name": "Total", "Selector": "$.Total", "Type": "Integer"},
    ]
    use = {
        "Ids": "{{ list.Ids }}",
        "Text": "ids={{ list.Ids }} n={{list.Total}}",
        "Total": "{{ list.Total }}",
    }
    content = runbook(
        api("list", "List", outputs=outputs),
        {"name": "use", "action": "aws:executeAwsApi", "inputs": {"Service": "svc", "Api": "Use", **use}},
        outputs=["list.Ids", "list.Total", "use.Nothing"],
    )
    run = execute(content, aws=aws)
    assert aws.calls[-1][2] == {"Ids": ["x", "y"], "Text": 'ids=["x", "y"] n=2', "Total": 2}
    assert run.execution()["Outputs"] == {
        "list.Ids": ["x", "y"],
        "list.Total": ["2"],
        "use.Nothing": ["No output available yet because the step is not successfully executed"],
    }
    assert run.step_executions()[0]["Outputs"] == {"Ids": ["x", "y"], "Total": ["2"]}
    assert run.step_executions()[1]["Inputs"]["Ids"] == '["x", "y"]'


def test_parameters_and_variables_are_interpolated(execute):
    """Parameters keep their type when whole; global: and automation: variables resolve; unknown stay."""
    aws = fake_aws()
    aws.handlers[("svc", "Echo")] = lambda params: params
    inputs = {
        "Service": "svc",
        "Api": "Echo",
        "Hosts": "{{ Hosts }}",
        "Line": "{{Hosts}} in {{ global:REGION }}",
        "Id": "{{ automation:EXECUTION_ID }}",
        "Account": "{{ global:ACCOUNT_ID }}",
        "Date": "{{ global:DATE }}",
        "Unknown": "{{ nope.Nothing }}",
    }
    content = runbook(
        {"name": "echo", "action": "aws:executeAwsApi", "inputs": inputs},
        parameters={"Hosts": {"type": "StringList"}},
    )
    execute(content, {"Hosts": ["h1", "h2"]}, aws=aws)
    assert aws.calls[0][2] == {
        "Hosts": ["h1", "h2"],
        "Line": '["h1", "h2"] in eu-west-1',
        "Id": "exec-1",
        "Account": "111122223333",
        "Date": "2027-01-15",
        "Unknown": "{{ nope.Nothing }}",
    }


def test_unsupported_action_fails_its_step_by_name(execute):
    """An action the rehearsal does not run fails its step with a message naming action and step."""
    run = execute(runbook({"name": "ask", "action": "aws:approve", "inputs": {}}))
    assert (
        run.step_executions()[0]["FailureMessage"]
        == "aws:approve is not supported by the rehearsal (step 'ask')"
    )
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_jump_to_a_missing_step_fails_the_execution(execute):
    """A nextStep that names no step fails the execution with a message saying so."""
    run = execute(runbook(api("a", nextStep="ghost")), aws=fake_aws())
    assert run.execution()["AutomationExecutionStatus"] == "Failed"
    assert run.execution()["FailureMessage"] == "Step a leads to step ghost, which does not exist"


def test_wait_for_property_polls_until_every_value_is_desired(execute, clock):
    """aws:waitForAwsResourceProperty polls until all selected values are in DesiredValues."""
    states = iter([["initial", "healthy"], ["healthy", "draining"], ["healthy", "healthy"]])
    aws = FakeAws(
        {
            ("elbv2", "DescribeTargetHealth"): lambda params: {
                "TargetHealthDescriptions": [{"TargetHealth": {"State": state}} for state in next(states)]
            }
        }
    )
    step = {
        "name": "wait",
        "action": "aws:waitForAwsResourceProperty",
        "inputs": {
            "Service": "elbv2",
            "Api": "DescribeTargetHealth",
            "TargetGroupArn": "arn:tg",
            "PropertySelector": "$.TargetHealthDescriptions..TargetHealth.State",
            "DesiredValues": ["healthy"],
        },
    }
    run = execute(runbook(step), aws=aws)
    assert statuses(run) == [("wait", "Success")]
    assert aws.calls[0][2] == {"TargetGroupArn": "arn:tg"}
    assert len(aws.calls) == 3
    assert 0 < sum(clock.slept) < 2


def test_waiting_inside_the_endpoint_polls_seldom_and_sees_the_end_at_once(execute, clock):
    """AwaitRollback waits for another execution's end: with the endpoint's change count the pauses grow
    to a second and that execution's change ends the pause, so 20 s of rollback take a few dozen calls
    (not one every 50 ms) and no lag."""
    ends = clock() + 20
    aws = FakeAws(
        {
            ("ssm", "GetAutomationExecution"): lambda params: {
                "AutomationExecution": {
                    "AutomationExecutionStatus": "Success" if clock() >= ends else "InProgress"
                }
            }
        }
    )
    step = {
        "name": "AwaitRollback",
        "action": "aws:waitForAwsResourceProperty",
        "inputs": {
            "Service": "ssm",
            "Api": "GetAutomationExecution",
            "AutomationExecutionId": "exec-2",
            "PropertySelector": "$.AutomationExecution.AutomationExecutionStatus",
            "DesiredValues": ["Success", "Failed"],
        },
    }
    run = execute(runbook(step), aws=aws, changes=FakeChanges(clock, ends))
    assert statuses(run) == [("AwaitRollback", "Success")]
    assert len(aws.calls) <= 35
    assert clock() - ends < 0.001


def test_assert_property_fails_when_the_value_is_not_desired(execute):
    """aws:assertAwsResourceProperty checks once and fails, naming the actual value."""
    aws = FakeAws({("ec2", "DescribeInstances"): lambda params: {"State": "stopped"}})
    step = {
        "name": "check",
        "action": "aws:assertAwsResourceProperty",
        "inputs": {
            "Service": "ec2",
            "Api": "DescribeInstances",
            "PropertySelector": "$.State",
            "DesiredValues": ["running"],
        },
    }
    run = execute(runbook(step), aws=aws)
    assert statuses(run) == [("check", "Failed")]
    assert "['stopped']" in run.step_executions()[0]["FailureMessage"]


def test_state_round_trips_through_json(execute):
    """to_json/from_json keep a finished execution readable exactly as it was."""
    run = execute(runbook(api("a"), failing("b")), aws=fake_aws())
    restored = AutomationRun.from_json(run.to_json())
    assert restored.execution() == run.execution()
    assert restored.metadata()["AutomationExecutionStatus"] == "Failed"


def test_change_instance_state_stops_and_waits(execute):
    """aws:changeInstanceState asks EC2 for the state, then polls DescribeInstances until all reach it."""
    states = iter(["stopping", "stopped"])
    aws = FakeAws(
        {
            ("ec2", "StopInstances"): lambda params: {},
            ("ec2", "DescribeInstances"): lambda params: {
                "Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Name": next(states)}}]}]
            },
        }
    )
    step = {
        "name": "stop",
        "action": "aws:changeInstanceState",
        "inputs": {"InstanceIds": ["i-1"], "DesiredState": "stopped", "Force": True},
    }
    run = execute(runbook(step), aws=aws)
    assert statuses(run) == [("stop", "Success")]
    assert aws.calls[0] == ("ec2", "StopInstances", {"InstanceIds": ["i-1"], "Force": True})
    assert aws.apis() == ["StopInstances", "DescribeInstances", "DescribeInstances"]


def test_change_instance_state_check_only_makes_no_change(execute):
    """CheckStateOnly only waits for the state; it never calls Start/Stop/Terminate."""
    aws = FakeAws(
        {
            ("ec2", "DescribeInstances"): lambda params: {
                "Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}}]}]
            }
        }
    )
    step = {
        "name": "check",
        "action": "aws:changeInstanceState",
        "inputs": {"InstanceIds": ["i-1"], "DesiredState": "running", "CheckStateOnly": True},
    }
    execute(runbook(step), aws=aws)
    assert aws.apis() == ["DescribeInstances"]
