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


class BalancedFleet(FakeFleet):
    """FakeFleet behind a target group; it notes every command that restarts a host still in service.

    A host counts as switched once it was sent releaseflow-CheckoutRevision: Rollback's CheckOnly
    answers from that, as the on-host record would.
    """

    def __init__(self, instances, fail=None):
        super().__init__(instances, fail)
        self.registered = set(instances)
        self.states = {host: ["healthy"] for host in instances}
        self.events: list[tuple[str, str]] = []
        self.restarted_in_service: list[tuple[str, str]] = []
        self.handlers.update(
            {
                ("elbv2", "DeregisterTargets"): self.deregister,
                ("elbv2", "RegisterTargets"): self.register,
                ("elbv2", "DescribeTargetHealth"): self.health,
            }
        )

    def deregister(self, params):
        for target in params["Targets"]:
            self.registered.discard(target["Id"])
            self.states[target["Id"]] = ["draining", "unused"]
            self.events.append(("DeregisterTargets", target["Id"]))
        return {}

    def register(self, params):
        for target in params["Targets"]:
            self.registered.add(target["Id"])
            self.states[target["Id"]] = ["initial", "healthy"]
            self.events.append(("RegisterTargets", target["Id"]))
        return {}

    def health(self, params):
        found = []
        for target in params["Targets"]:
            pending = self.states[target["Id"]]
            state = pending.pop(0) if len(pending) > 1 else pending[0]
            found.append({"Target": target, "TargetHealth": {"State": state}})
        return {"TargetHealthDescriptions": found}

    def send_command(self, params):
        document = params["DocumentName"]
        if params.get("Parameters", {}).get("CheckOnly") == ["true"]:
            document += " CheckOnly"
        for host in params["InstanceIds"]:
            self.events.append((document, host))
            if (
                document in ("releaseflow-RestartServices", "releaseflow-Rollback")
                and host in self.registered
            ):
                self.restarted_in_service.append((document, host))
        return super().send_command(params)

    def list_command_invocations(self, params):
        answer = super().list_command_invocations(params)
        command = self.commands[params["CommandId"]]["params"]
        if command.get("Parameters", {}).get("CheckOnly") == ["true"]:
            switched = {host for document, host in self.events if document == "releaseflow-CheckoutRevision"}
            for invocation in answer["CommandInvocations"]:
                needed = invocation["InstanceId"] in switched
                invocation["CommandPlugins"][0]["Output"] = (
                    "rollback needed: execution exec-1" if needed else "no rollback needed: not switched"
                )
        return answer


def served_from_the_balancer(events):
    """The events without the read-only rollback checks."""
    return [event for event in events if not event[0].endswith("CheckOnly")]


def test_load_balancer_drains_each_host_before_its_restart(execute):
    """With a target group, the migration host and then each batch are drained before their restart and
    healthy again before the next goes out; no host restarts while registered."""
    fleet = BalancedFleet(FLEET)
    run = deploy(execute, fleet, TargetGroupArn=TARGET_GROUP)
    assert run.execution()["AutomationExecutionStatus"] == "Success", run.execution().get("FailureMessage")
    assert fleet.events == [
        ("releaseflow-CheckoutRevision", "i-0b"),
        ("releaseflow-Migrate", "i-0b"),
        ("DeregisterTargets", "i-0b"),
        ("releaseflow-RestartServices", "i-0b"),
        ("releaseflow-HealthCheck", "i-0b"),
        ("RegisterTargets", "i-0b"),
        *[
            event
            for host in ("i-0a", "i-0c")
            for event in [
                ("DeregisterTargets", host),
                ("releaseflow-CheckoutRevision", host),
                ("releaseflow-RestartServices", host),
                ("releaseflow-HealthCheck", host),
                ("RegisterTargets", host),
            ]
        ],
    ]
    assert fleet.restarted_in_service == []
    assert fleet.registered == set(FLEET)


def test_failed_health_check_rolls_back_the_fleet_and_fails(execute):
    """Without a load balancer, a failed health check rolls back each host in turn, checked again, and fails."""
    fleet = FakeFleet(FLEET, fail={("releaseflow-HealthCheck", "i-0c"): "Failed"})
    run = deploy(execute, fleet)
    failed_at = fleet.sent().index(("releaseflow-HealthCheck", ["i-0c"]))
    assert fleet.sent()[failed_at + 1 :] == [
        (document, [host])
        for host in ("i-0b", "i-0a", "i-0c")
        for document in ("releaseflow-Rollback", "releaseflow-Rollback", "releaseflow-HealthCheck")
    ]
    steps = [(s["StepName"], s["StepStatus"]) for s in run.step_executions()]
    assert ("HealthCheckBatch", "Failed") in steps
    top_level = [
        (s["StepName"], s["StepStatus"]) for s in run.step_executions() if not s.get("ParentStepDetails")
    ]
    assert ("UpdateBatches", "Failed") in top_level
    assert top_level[-3:] == [
        ("RollBackHosts", "Success"),
        ("ReregisterIfBalanced", "Success"),
        ("ReportFailure", "Failed"),
    ]
    assert run.execution()["AutomationExecutionStatus"] == "Failed"


def test_failure_behind_a_load_balancer_drains_each_switched_host_around_its_rollback(execute):
    """A failed batch rolls back host after host: deregister, Rollback, HealthCheck, register, never in service."""
    fleet = BalancedFleet(FLEET, fail={("releaseflow-HealthCheck", "i-0c"): "Failed"})
    run = deploy(execute, fleet, TargetGroupArn=TARGET_GROUP)
    assert run.execution()["AutomationExecutionStatus"] == "Failed"
    events = served_from_the_balancer(fleet.events)
    failed_at = events.index(("releaseflow-HealthCheck", "i-0c"))
    assert events[failed_at + 1 :] == [
        *[
            event
            for host in ("i-0b", "i-0a")
            for event in [
                ("DeregisterTargets", host),
                ("releaseflow-Rollback", host),
                ("releaseflow-HealthCheck", host),
                ("RegisterTargets", host),
            ]
        ],
        # The failed batch is already out of service: deregistering it again changes nothing. The fake
        # fails every health check on i-0c, so it stays out until ReregisterFleet.
        ("DeregisterTargets", "i-0c"),
        ("releaseflow-Rollback", "i-0c"),
        ("releaseflow-HealthCheck", "i-0c"),
        # ReregisterFleet, the safety net for hosts drained but not rolled back.
        *[("RegisterTargets", host) for host in ("i-0b", "i-0a", "i-0c")],
    ]
    assert fleet.restarted_in_service == []
    assert fleet.registered == set(FLEET)


def test_failed_migration_drains_and_rolls_back_only_the_migration_host(execute):
    """Hosts the execution never switched answer the check `no rollback needed` and stay in service, untouched."""
    fleet = BalancedFleet(FLEET, fail={("releaseflow-Migrate", "i-0b"): "Failed"})
    run = deploy(execute, fleet, TargetGroupArn=TARGET_GROUP)
    assert run.execution()["AutomationExecutionStatus"] == "Failed"
    assert fleet.events[2:] == [
        ("releaseflow-Rollback CheckOnly", "i-0b"),
        ("DeregisterTargets", "i-0b"),
        ("releaseflow-Rollback", "i-0b"),
        ("releaseflow-HealthCheck", "i-0b"),
        ("RegisterTargets", "i-0b"),
        ("releaseflow-Rollback CheckOnly", "i-0a"),
        ("releaseflow-Rollback CheckOnly", "i-0c"),
        *[("RegisterTargets", host) for host in ("i-0b", "i-0a", "i-0c")],
    ]
    assert fleet.restarted_in_service == []


def test_a_host_failing_its_rollback_does_not_stop_the_others(execute):
    """The migration host's Rollback fails; the other switched host is still rolled back and re-registered."""
    # Every releaseflow-Rollback command fails on i-0b, its check too: a failed check rolls back anyway.
    fleet = BalancedFleet(
        FLEET,
        fail={("releaseflow-RestartServices", "i-0a"): "Failed", ("releaseflow-Rollback", "i-0b"): "Failed"},
    )
    run = deploy(execute, fleet, TargetGroupArn=TARGET_GROUP)
    assert run.execution()["AutomationExecutionStatus"] == "Failed"
    events = served_from_the_balancer(fleet.events)
    failed_at = events.index(("releaseflow-RestartServices", "i-0a"))
    assert events[failed_at + 1 :] == [
        ("DeregisterTargets", "i-0b"),
        ("releaseflow-Rollback", "i-0b"),
        ("DeregisterTargets", "i-0a"),
        ("releaseflow-Rollback", "i-0a"),
        ("releaseflow-HealthCheck", "i-0a"),
        ("RegisterTargets", "i-0a"),
        *[("RegisterTargets", host) for host in ("i-0b", "i-0a", "i-0c")],
    ]
    failed = [s["StepName"] for s in run.step_executions() if s["StepStatus"] == "Failed"]
    assert failed == ["UpdateBatches", "RestartBatch", "CheckHost", "RollBackHost", "ReportFailure"]
    assert fleet.registered == set(FLEET)


def test_a_batch_host_lost_since_the_preflight_fails_its_batch_at_once(execute):
    """A host that went offline after the preflight fails PickBatch, naming it, before any command to it."""
    fleet = FakeFleet(FLEET)
    answers = iter([["i-0a", "i-0b", "i-0c"], ["i-0a", "i-0b", "i-0c"]])

    def agents(params):
        up = next(answers, ["i-0a", "i-0b"])
        return {
            "InstanceInformationList": [
                {"InstanceId": host, "PingStatus": "Online" if host in up else "ConnectionLost"}
                for host in FLEET
            ]
        }

    fleet.handlers[("ssm", "DescribeInstanceInformation")] = agents
    run = deploy(execute, fleet)
    assert run.execution()["AutomationExecutionStatus"] == "Failed"
    pick = [s for s in run.step_executions() if s["StepName"] == "PickBatch"]
    assert [s["StepStatus"] for s in pick] == ["Success", "Failed"]
    assert "not online in Systems Manager, so this batch does not start: i-0c" in pick[1]["FailureMessage"]
    assert ("releaseflow-CheckoutRevision", ["i-0c"]) not in fleet.sent()


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
