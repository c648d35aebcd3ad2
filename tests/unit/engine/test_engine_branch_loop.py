"""aws:branch operators and aws:loop iterations, including nested outputs and ParentStepDetails."""

import pytest

from engine_helpers import FakeAws, runbook, statuses
from releaseflow.rehearsal.engine.automation import AwsCallError
from releaseflow.rehearsal.engine.conditions import holds
from releaseflow.rehearsal.engine.errors import StepFailed


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"Variable": "main", "StringEquals": "main"}, True),
        ({"Variable": "Main", "StringEquals": "main"}, False),
        ({"Variable": "Main", "EqualsIgnoreCase": "mAIN"}, True),
        ({"Variable": "release-1", "StartsWith": "release-"}, True),
        ({"Variable": "release-1", "EndsWith": "-2"}, False),
        ({"Variable": "abcdef", "Contains": "cd"}, True),
        ({"Variable": ["a", "b"], "Contains": "b"}, True),
        ({"Variable": ["a", "b"], "Contains": "c"}, False),
        ({"Variable": "3", "NumericEquals": 3}, True),
        ({"Variable": 4, "NumericGreater": 3}, True),
        ({"Variable": 3, "NumericGreater": 3}, False),
        ({"Variable": 2, "NumericLesser": 3}, True),
        ({"Variable": 3, "NumericGreaterOrEquals": 3}, True),
        ({"Variable": 4, "NumericLesserOrEquals": 3}, False),
        ({"Variable": "true", "BooleanEquals": True}, True),
        ({"Variable": False, "BooleanEquals": True}, False),
        ({"And": [{"Variable": 1, "NumericEquals": 1}, {"Variable": "x", "StringEquals": "y"}]}, False),
        ({"Or": [{"Variable": 1, "NumericEquals": 1}, {"Variable": "x", "StringEquals": "y"}]}, True),
        ({"Not": [{"Variable": "x", "StringEquals": "y"}]}, True),
    ],
)
def test_operators(condition, expected):
    """Every aws:branch operator, and And/Or/Not, evaluates as SSM documents it."""
    assert holds(condition) is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"Variable": "abc", "NumericEquals": 1},
        {"Variable": "x"},
        {"Variable": "maybe", "BooleanEquals": True},
    ],
)
def test_bad_conditions_fail_the_step(condition):
    """A non-number for a numeric operator, a missing operator or a non-Boolean fail the step."""
    with pytest.raises(StepFailed):
        holds(condition)


def note(name, **step):
    """A step that reports its own name to the fake svc.Note."""
    return {
        "name": name,
        "action": "aws:executeAwsApi",
        "inputs": {"Service": "svc", "Api": "Note", "Step": name},
        **step,
    }


def fails(name, **step):
    """A step that calls the fake svc.Fail, which `failing_aws` makes fail."""
    return {"name": name, "action": "aws:executeAwsApi", "inputs": {"Service": "svc", "Api": "Fail"}, **step}


def failing_aws():
    """A fake AWS whose svc.Fail raises an AWS error and whose svc.Note answers."""

    def fail(params):
        raise AwsCallError("Boom", "broke")

    return FakeAws({("svc", "Fail"): fail, ("svc", "Note"): lambda params: {}})


def loop_over(iterators, *steps):
    """An aws:loop step `each` running `steps` once per value of `iterators`."""
    return {
        "name": "each",
        "action": "aws:loop",
        "inputs": {"Iterators": list(iterators), "Steps": list(steps)},
    }


def branch_runbook(default=None):
    """A branch on the Integer parameter Size, with an optional Default."""
    inputs = {
        "Choices": [
            {"NextStep": "small", "Variable": "{{ Size }}", "NumericLesser": 10},
            {"NextStep": "large", "Variable": "{{ Size }}", "NumericGreaterOrEquals": 100},
        ]
    }
    if default:
        inputs["Default"] = default
    return runbook(
        {"name": "choose", "action": "aws:branch", "inputs": inputs},
        note("middle"),
        note("small", isEnd=True),
        note("large", isEnd=True),
        note("fallback"),
        parameters={"Size": {"type": "Integer"}},
    )


@pytest.mark.parametrize(
    ("size", "default", "ran"),
    [
        ("5", None, ["small"]),
        ("500", None, ["large"]),
        ("50", None, ["middle", "small"]),
        ("50", "fallback", ["fallback"]),
    ],
)
def test_branch_follows_the_first_matching_choice(execute, size, default, ran):
    """The first matching choice wins; else Default; else the next step in order."""
    aws = FakeAws({("svc", "Note"): lambda params: {}})
    execute(branch_runbook(default), {"Size": [size]}, aws=aws)
    assert [params["Step"] for _, _, params in aws.calls] == ran


def test_loop_runs_nested_steps_per_iterator_with_parent_details(execute):
    """A for-each loop runs its Steps per value; nested steps read the value and carry ParentStepDetails."""
    aws = FakeAws({("svc", "Deploy"): lambda params: {"Host": params["Host"], "Round": params["Round"]}})
    loop = {
        "name": "each",
        "action": "aws:loop",
        "inputs": {
            "Iterators": "{{ Hosts }}",
            "Steps": [
                {
                    "name": "deploy",
                    "action": "aws:executeAwsApi",
                    "inputs": {
                        "Service": "svc",
                        "Api": "Deploy",
                        "Host": "{{ each.CurrentIteratorValue }}",
                        "Round": "{{ each.CurrentIteration }}",
                    },
                    "outputs": [{"Name": "Host", "Selector": "$.Host", "Type": "String"}],
                }
            ],
        },
    }
    run = execute(
        runbook(loop, parameters={"Hosts": {"type": "StringList"}}), {"Hosts": ["h1", "h2", "h3"]}, aws=aws
    )
    assert [params for _, _, params in aws.calls] == [
        {"Host": "h1", "Round": 1},
        {"Host": "h2", "Round": 2},
        {"Host": "h3", "Round": 3},
    ]
    steps = run.step_executions()
    assert [step["StepName"] for step in steps] == ["each", "deploy", "deploy", "deploy"]
    loop_id = steps[0]["StepExecutionId"]
    assert [step["ParentStepDetails"] for step in steps[1:]] == [
        {
            "StepExecutionId": loop_id,
            "StepName": "each",
            "Action": "aws:loop",
            "Iteration": n,
            "IteratorValue": h,
        }
        for n, h in [(1, "h1"), (2, "h2"), (3, "h3")]
    ]
    assert [step["Outputs"]["Host"] for step in steps[1:]] == [["h1"], ["h2"], ["h3"]]
    assert steps[0]["Outputs"] == {"CurrentIteration": ["3"], "CurrentIteratorValue": ["h3"]}
    assert "ParentStepDetails" not in steps[0]


def test_failing_nested_step_fails_the_loop(execute):
    """A nested step that fails (Abort) stops the loop and fails the loop step and the execution."""

    def deploy(params):
        if params["Host"] == "h2":
            raise AwsCallError("Boom", "h2 broke")
        return {}

    aws = FakeAws({("svc", "Deploy"): deploy})
    loop = {
        "name": "each",
        "action": "aws:loop",
        "inputs": {
            "Iterators": ["h1", "h2", "h3"],
            "Steps": [
                {
                    "name": "deploy",
                    "action": "aws:executeAwsApi",
                    "inputs": {"Service": "svc", "Api": "Deploy", "Host": "{{ each.CurrentIteratorValue }}"},
                }
            ],
        },
    }
    run = execute(runbook(loop, note("after")), aws=aws)
    assert statuses(run) == [("each", "Failed"), ("deploy", "Success"), ("deploy", "Failed")]
    assert "Nested step deploy Failed in iteration 2" in run.step_executions()[0]["FailureMessage"]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_nested_on_failure_step_outside_the_loop_is_taken_by_the_loop(execute):
    """A nested step's onFailure step:X naming a main step makes the loop step go there."""
    loop = loop_over(["h1", "h2"], fails("deploy", onFailure="step:rollback"))
    run = execute(runbook(loop, note("next", isEnd=True), note("rollback")), aws=failing_aws())
    assert statuses(run) == [("each", "Failed"), ("deploy", "Failed"), ("rollback", "Success")]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_do_while_loop_stops_when_the_condition_no_longer_holds(execute):
    """A LoopCondition loop runs at least once and repeats while the condition holds, up to MaxIterations."""
    remaining = iter([2, 1, 0])
    aws = FakeAws({("svc", "Count"): lambda params: {"Left": next(remaining)}})
    loop = {
        "name": "poll",
        "action": "aws:loop",
        "inputs": {
            "MaxIterations": 10,
            "LoopCondition": {"Variable": "{{ count.Left }}", "NumericGreater": 0},
            "Steps": [
                {
                    "name": "count",
                    "action": "aws:executeAwsApi",
                    "inputs": {"Service": "svc", "Api": "Count"},
                    "outputs": [{"Name": "Left", "Selector": "$.Left", "Type": "Integer"}],
                }
            ],
        },
    }
    run = execute(runbook(loop), aws=aws)
    assert len(aws.calls) == 3
    assert run.step_executions()[0]["Outputs"] == {"CurrentIteration": ["3"]}


def test_max_iterations_below_the_iterators_stops_the_loop_early_with_success(execute):
    """MaxIterations 2 over three Iterators runs two iterations and the loop step succeeds, as AWS does."""
    aws = FakeAws({("svc", "Note"): lambda params: {}})
    loop = {
        "name": "each",
        "action": "aws:loop",
        "inputs": {"MaxIterations": 2, "Iterators": ["a", "b", "c"], "Steps": [note("x")]},
    }
    run = execute(runbook(loop), aws=aws)
    assert statuses(run) == [("each", "Success"), ("x", "Success"), ("x", "Success")]
    assert run.step_executions()[0]["Outputs"]["CurrentIteration"] == ["2"]
    assert run.execution()["AutomationExecutionStatus"] == "Success"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"Iterators": [str(n) for n in range(101)]}, "Iterators has 101 values and is refused"),
        ({"Iterators": ["a"], "MaxIterations": 101}, "MaxIterations 101 is refused"),
        ({"LoopCondition": {"Variable": "x", "StringEquals": "x"}, "MaxIterations": 0}, "MaxIterations 0"),
    ],
)
def test_loops_past_aws_limit_of_100_are_refused(execute, inputs, message):
    """More than 100 Iterators, or MaxIterations outside 1..100, fail the loop step before any iteration."""
    loop = {"name": "each", "action": "aws:loop", "inputs": {**inputs, "Steps": [note("x")]}}
    run = execute(runbook(loop), aws=FakeAws({("svc", "Note"): lambda params: {}}))
    assert statuses(run) == [("each", "Failed")]
    assert message in run.step_executions()[0]["FailureMessage"]


def test_critical_nested_failure_with_continue_fails_the_execution(execute):
    """A critical nested step that continues past its failure still fails the execution at the end."""
    loop = loop_over(["h1"], fails("try", onFailure="Continue", isCritical=True), note("after"))
    run = execute(runbook(loop), aws=failing_aws())
    assert statuses(run) == [("each", "Success"), ("try", "Failed"), ("after", "Success")]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"
    assert run.execution()["FailureMessage"].startswith("Step try (aws:executeAwsApi) Failed.")


def test_jump_to_a_missing_step_inside_a_loop_fails_the_loop_step(execute):
    """A nested nextStep naming no step fails the loop step, which then ends the execution."""
    loop = loop_over(["h1"], note("x", nextStep="ghost"))
    run = execute(runbook(loop), aws=FakeAws({("svc", "Note"): lambda params: {}}))
    assert statuses(run) == [("each", "Failed"), ("x", "Success")]
    assert run.step_executions()[0]["FailureMessage"] == "Step x leads to step ghost, which does not exist"
