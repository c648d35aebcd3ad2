"""The project's own releaseflow-Deploy runbook, run by the engine against a fake fleet of three hosts."""

from pathlib import Path

from engine_helpers import FakeFleet

from releaseflow.documents import load_document

DEPLOY = Path(__file__).resolve().parents[2] / "automation" / "releaseflow-Deploy.yaml"
FLEET = {
    "i-0a": {"releaseflow:fleet": "shop"},
    "i-0b": {"releaseflow:fleet": "shop", "releaseflow:migrate": "true"},
    "i-0c": {"releaseflow:fleet": "shop"},
}
TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop/0123456789abcdef"
# ReportFailure's boto3 client: an endpoint that refuses at once, dummy credentials, no retries.
SCRIPT_ENV = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def deploy(execute, fleet, **parameters):
    """Start releaseflow-Deploy for revision abc1234 on the fleet tagged shop."""
    given = {"Revision": ["abc1234"], "FleetTagValue": ["shop"]}
    given.update({name: [value] for name, value in parameters.items()})
    return execute(load_document(DEPLOY).content, given, aws=fleet, script_env=SCRIPT_ENV)


def test_migration_host_first_then_one_batch_at_a_time(execute):
    """Checkout and migrate run on the tagged migration host first, then each other host in its own batch."""
    fleet = FakeFleet(FLEET)
    run = deploy(execute, fleet)
    assert run.execution()["AutomationExecutionStatus"] == "Success", run.execution().get("FailureMessage")
    assert fleet.sent() == [
        ("releaseflow-CheckoutRevision", ["i-0b"]),
        ("releaseflow-Migrate", ["i-0b"]),
        ("releaseflow-RestartServices", ["i-0b"]),
        ("releaseflow-HealthCheck", ["i-0b"]),
        ("releaseflow-CheckoutRevision", ["i-0a"]),
        ("releaseflow-RestartServices", ["i-0a"]),
        ("releaseflow-HealthCheck", ["i-0a"]),
        ("releaseflow-CheckoutRevision", ["i-0c"]),
        ("releaseflow-RestartServices", ["i-0c"]),
        ("releaseflow-HealthCheck", ["i-0c"]),
    ]
    checkout = next(params for _, api, params in fleet.calls if api == "SendCommand")
    assert checkout["Parameters"]["Revision"] == ["abc1234"]
    assert checkout["Parameters"]["ExecutionId"] == ["exec-1"]
    assert run.execution()["Outputs"] == {
        "Finish.MigrationHost": ["i-0b"],
        "Finish.UpdatedHosts": ["i-0b", "i-0a", "i-0c"],
        "Finish.Revision": ["abc1234"],
    }


def test_batch_size_groups_the_other_hosts(execute):
    """BatchSize 2 sends the two other hosts in one command per document."""
    fleet = FakeFleet(FLEET)
    deploy(execute, fleet, BatchSize="2")
    assert fleet.sent()[4:] == [
        ("releaseflow-CheckoutRevision", ["i-0a", "i-0c"]),
        ("releaseflow-RestartServices", ["i-0a", "i-0c"]),
        ("releaseflow-HealthCheck", ["i-0a", "i-0c"]),
    ]


def test_load_balancer_drains_and_restores_each_batch(execute):
    """With a target group, the migration host is healthy first; each batch drained before, registered healthy after."""
    fleet = FakeFleet(FLEET)
    states: dict[str, list[str]] = {}
    fleet.handlers[("elbv2", "DeregisterTargets")] = lambda p: (
        states.update({t["Id"]: ["draining", "unused"] for t in p["Targets"]}) or {}
    )
    fleet.handlers[("elbv2", "RegisterTargets")] = lambda p: (
        states.update({t["Id"]: ["initial", "healthy"] for t in p["Targets"]}) or {}
    )

    def health(params):
        found = []
        for target in params["Targets"]:
            # A target the deploy never took out (the migration host) stays healthy.
            pending = states.get(target["Id"], ["healthy"])
            state = pending.pop(0) if len(pending) > 1 else pending[0]
            found.append({"Target": target, "TargetHealth": {"State": state}})
        return {"TargetHealthDescriptions": found}

    fleet.handlers[("elbv2", "DescribeTargetHealth")] = health
    run = deploy(execute, fleet, TargetGroupArn=TARGET_GROUP)
    assert run.execution()["AutomationExecutionStatus"] == "Success", run.execution().get("FailureMessage")
    elb = [
        (api, params["Targets"])
        for service, api, params in fleet.calls
        if service == "elbv2" and api != "DescribeTargetHealth"
    ]
    first = next(params for service, api, params in fleet.calls if service == "elbv2")
    assert first["Targets"] == [{"Id": "i-0b"}], "the migration host must be healthy before a batch goes out"
    assert elb == [
        ("DeregisterTargets", [{"Id": "i-0a"}]),
        ("RegisterTargets", [{"Id": "i-0a"}]),
        ("DeregisterTargets", [{"Id": "i-0c"}]),
        ("RegisterTargets", [{"Id": "i-0c"}]),
    ]


def test_failed_health_check_rolls_back_the_fleet_and_fails(execute):
    """A host failing its health check sends Rollback to the whole fleet and the execution fails."""
    fleet = FakeFleet(FLEET, fail={("releaseflow-HealthCheck", "i-0c"): "Failed"})
    run = deploy(execute, fleet)
    assert fleet.sent()[-2:] == [
        ("releaseflow-HealthCheck", ["i-0c"]),
        ("releaseflow-Rollback", ["i-0b", "i-0a", "i-0c"]),
    ]
    steps = [(s["StepName"], s["StepStatus"]) for s in run.step_executions()]
    assert ("HealthCheckBatch", "Failed") in steps
    assert ("UpdateBatches", "Failed") in steps
    assert steps[-3:] == [
        ("RollBackSwitchedHosts", "Success"),
        ("ReregisterIfBalanced", "Success"),
        ("ReportFailure", "Failed"),
    ]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_rollback_fleet_runbook_reverts_host_by_host(execute):
    """releaseflow-RollbackFleet sends Rollback then HealthCheck to the migration host, then each batch."""
    fleet = FakeFleet(FLEET)
    content = load_document(DEPLOY.with_name("releaseflow-RollbackFleet.yaml")).content
    given = {"ExecutionId": ["0d1c2b3a-1111-2222-3333-444455556666"], "FleetTagValue": ["shop"]}
    run = execute(content, given, aws=fleet, script_env=SCRIPT_ENV)
    assert run.execution()["AutomationExecutionStatus"] == "Success", run.execution().get("FailureMessage")
    assert fleet.sent() == [
        (document, [host])
        for host in ("i-0b", "i-0a", "i-0c")
        for document in ("releaseflow-Rollback", "releaseflow-HealthCheck")
    ]
    rollback = next(params for _, api, params in fleet.calls if api == "SendCommand")
    assert rollback["Parameters"]["ExecutionId"] == ["0d1c2b3a-1111-2222-3333-444455556666"]
