"""execution(), metadata() and step_executions() fit botocore's SSM output shapes, key by key and by type."""

from datetime import datetime

import botocore.session

from engine_helpers import FakeFleet, runbook

MODEL = botocore.session.get_session().get_service_model("ssm")
PYTHON_TYPES = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "timestamp": datetime,
    "map": dict,
    "list": list,
    "structure": dict,
}


def mismatches(value, shape, path="$"):
    """Every place where `value` does not fit `shape`: unknown keys or wrong types."""
    if not isinstance(value, PYTHON_TYPES[shape.type_name]):
        return [f"{path}: {type(value).__name__} is not {shape.type_name}"]
    found = []
    if shape.type_name == "structure":
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}: not in {shape.name}")
            else:
                found += mismatches(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "map":
        for key, item in value.items():
            found += mismatches(item, shape.value, f"{path}[{key!r}]")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            found += mismatches(item, shape.member, f"{path}[{index}]")
    return found


FLEET = {"i-0a": {"app": "shop"}, "i-0b": {"app": "shop"}, "i-0c": {"app": "shop"}}
# A rolling check with a failure path: an API call with outputs, a loop of commands, a branch, a sleep.
ROLLING = runbook(
    {
        "name": "List",
        "action": "aws:executeAwsApi",
        "inputs": {"Service": "ec2", "Api": "DescribeInstances"},
        "outputs": [{"Name": "Ids", "Selector": "$.Reservations..InstanceId", "Type": "StringList"}],
    },
    {
        "name": "EachHost",
        "action": "aws:loop",
        "onFailure": "step:Failed",
        "inputs": {
            "Iterators": "{{ List.Ids }}",
            "Steps": [
                {
                    "name": "Check",
                    "action": "aws:runCommand",
                    "onFailure": "step:Failed",
                    "inputs": {
                        "DocumentName": "releaseflow-HealthCheck",
                        "InstanceIds": ["{{ EachHost.CurrentIteratorValue }}"],
                    },
                }
            ],
        },
    },
    {"name": "Done", "action": "aws:sleep", "isEnd": True, "inputs": {"Duration": "PT0S"}},
    {
        "name": "Failed",
        "action": "aws:branch",
        "inputs": {"Choices": [{"NextStep": "Done", "Variable": "{{ List.Ids }}", "Contains": "i-0c"}]},
    },
    outputs=["List.Ids"],
)


def test_execution_and_steps_fit_botocore_shapes(execute):
    """A rolling run, failure path included, reports only fields and types the SSM model defines."""
    run = execute(ROLLING, aws=FakeFleet(FLEET, fail={("releaseflow-HealthCheck", "i-0c"): "Failed"}))
    assert len(run.step_executions()) > 5
    assert mismatches(run.execution(), MODEL.shape_for("AutomationExecution")) == []
    assert mismatches(run.metadata(), MODEL.shape_for("AutomationExecutionMetadata")) == []
    for step in run.step_executions():
        assert mismatches(step, MODEL.shape_for("StepExecution")) == []
