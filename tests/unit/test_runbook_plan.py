"""PlanRollout's module: the migration host, the batches, the health check's bound, a rollback's subset."""

import json
import re

import pytest

from aws_fakes import online
from releaseflow.runbook_scripts.plan_rollout import MAX_HEALTH_SECONDS, handler


def test_the_migration_host_is_the_first_batch():
    """PlanRollout puts the migration host alone in batch 0, then the others in batches of BatchSize."""
    instances = [{"InstanceId": i} for i in ["i-0c", "i-0a", "i-0b", "i-0d"]]
    instances[0]["Tags"] = [{"Key": "releaseflow:migrate", "Value": "true"}]
    payload = {
        "Instances": json.dumps(instances),
        "InstanceInformation": json.dumps(online("i-0a", "i-0b", "i-0c", "i-0d")),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0c"], ["i-0a", "i-0b"], ["i-0d"]]
    assert result["BatchIndexes"] == ["0", "1", "2"]
    assert json.loads(result["Chunks"]) == [["i-0c", "i-0a", "i-0b", "i-0d"]]


def test_batches_and_chunks_hold_at_most_50_hosts():
    """A batch and a prepare chunk each go to one aws:runCommand: at most 50 instance ids, even at 100%."""
    hosts = [f"i-{n:03d}" for n in range(120)]
    payload = {
        "Instances": json.dumps([{"InstanceId": h} for h in hosts]),
        "InstanceInformation": json.dumps(online(*hosts)),
        "MigrationTagKey": "m",
        "BatchSize": "100%",
    }
    result = handler(payload, None)
    assert [len(batch) for batch in json.loads(result["Batches"])] == [1, 50, 50, 19]
    assert [len(chunk) for chunk in json.loads(result["Chunks"])] == [50, 50, 20]


@pytest.mark.parametrize(
    ("instances", "agents", "message"),
    [
        ([], [], "no running instance carries the fleet tag"),
        ([{"InstanceId": "i-0a"}, {"InstanceId": "i-0b"}], [], "not online in Systems Manager: i-0a, i-0b"),
    ],
    ids=["empty-fleet", "no-agents"],
)
def test_plan_refuses_an_empty_fleet_or_one_without_agents_with_its_message(instances, agents, message):
    """An empty fleet, or one with no agents, fails PlanRollout with the message it means to give."""
    payload = {
        "Instances": json.dumps(instances),
        "InstanceInformation": json.dumps(agents),
        "MigrationTagKey": "m",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        handler(payload, None)


def test_plan_refuses_offline_hosts():
    """The planning script fails the deploy before any change when a fleet host is not online."""
    payload = {
        "Instances": json.dumps([{"InstanceId": "i-0a"}, {"InstanceId": "i-0b"}]),
        "InstanceInformation": json.dumps(
            [
                {"InstanceId": "i-0a", "PingStatus": "Online"},
                {"InstanceId": "i-0b", "PingStatus": "ConnectionLost"},
            ]
        ),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match="not online in Systems Manager: i-0b"):
        handler(payload, None)


@pytest.mark.parametrize("only", ["all", json.dumps(["i-0a"])], ids=["deploy", "rollback"])
def test_plan_gives_the_health_check_all_its_tries_and_refuses_what_its_step_cannot_wait_for(only):
    """PlanRollout's health bound covers every try, with the 3 s delays, and refuses pairs needing over 900 s."""
    payload = {
        "Instances": json.dumps([{"InstanceId": "i-0a"}]),
        "InstanceInformation": json.dumps(online("i-0a")),
        "MigrationTagKey": "m",
        "BatchSize": "1",
        "Only": only,
    }
    for retries, try_seconds in [(1, 1), (10, 5), (60, 5), (13, 60)]:
        result = handler(
            {**payload, "HealthCheckRetries": str(retries), "HealthCheckTimeoutSeconds": str(try_seconds)},
            None,
        )
        seconds = int(result["HealthCheckSeconds"])
        assert retries * try_seconds + (retries - 1) * 3 < seconds <= MAX_HEALTH_SECONDS == 900
    assert handler(payload, None)["HealthCheckSeconds"] == "107"  # the defaults: 10 tries of 5 s, 3 s apart
    with pytest.raises(
        ValueError, match="HealthCheckRetries 60 tries of up to HealthCheckTimeoutSeconds 60 s need"
    ):
        handler({**payload, "HealthCheckRetries": "60", "HealthCheckTimeoutSeconds": "60"}, None)


def test_plan_for_a_rollback_keeps_the_switched_hosts_in_order_and_names_the_unreachable():
    """With Only, the plan keeps the deploy's order for the hosts it switched and skips, naming, the lost ones."""
    payload = {
        "Instances": json.dumps([{"InstanceId": i} for i in ["i-0a", "i-0b", "i-0c", "i-0d"]]),
        "InstanceInformation": json.dumps(
            [
                *online("i-0a", "i-0c", "i-0d"),
                {"InstanceId": "i-0b", "PingStatus": "ConnectionLost"},
            ]
        ),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
        "Only": json.dumps(["i-0a", "i-0b", "i-0c", "i-0z"]),
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0a"], ["i-0c"]]
    assert result["Skipped"] == "i-0b, i-0z"
    nothing = handler({**payload, "Only": "[]"}, None)
    assert (nothing["BatchCount"], nothing["Skipped"]) == (0, "none")
