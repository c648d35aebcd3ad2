"""execution(), metadata() and step_executions() fit botocore's SSM output shapes, key by key and by type."""

from datetime import datetime

import botocore.session
from engine_helpers import FakeFleet
from test_engine_deploy_runbook import FLEET, deploy

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


def test_execution_and_steps_fit_botocore_shapes(execute):
    """A whole deploy, failure path included, reports only fields and types the SSM model defines."""
    run = deploy(execute, FakeFleet(FLEET, fail={("releaseflow-HealthCheck", "i-0c"): "Failed"}))
    assert len(run.step_executions()) > 10
    assert mismatches(run.execution(), MODEL.shape_for("AutomationExecution")) == []
    assert mismatches(run.metadata(), MODEL.shape_for("AutomationExecutionMetadata")) == []
    for step in run.step_executions():
        assert mismatches(step, MODEL.shape_for("StepExecution")) == []
