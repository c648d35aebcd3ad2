"""PlanRollout's module: the migration host, the batches, the health check's bound, a rollback's subset."""

import json
import re
from pathlib import Path

import pytest

from releaseflow.documents import load_document
from releaseflow.runbook_scripts import pick_chunk
from releaseflow.runbook_scripts.plan_rollout import MAX_HEALTH_SECONDS, handler
from releaseflow.runbook_scripts.shared import HEALTH_DELAY_SECONDS


def test_the_migration_host_is_the_first_batch():
    """PlanRollout puts the migration host alone in batch 0, then the others in batches of BatchSize."""
    payload = {
        "Hosts": json.dumps(["i-0c", "i-0a", "i-0b", "i-0d"]),
        "Offline": "[]",
        "Tagged": json.dumps(["i-0c"]),
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0c"], ["i-0a", "i-0b"], ["i-0d"]]
    assert result["BatchIndexes"] == ["0", "1", "2"]
    assert result["ChunkIndexes"] == ["0"]


def test_batches_and_chunks_hold_at_most_50_hosts():
    """A batch and a prepare chunk each go to one aws:runCommand: at most 50 instance ids, even at 100%."""
    hosts = [f"i-{n:03d}" for n in range(120)]
    payload = {
        "Hosts": json.dumps(hosts),
        "Offline": "[]",
        "Tagged": "[]",
        "MigrationTagKey": "m",
        "BatchSize": "100%",
    }
    result = handler(payload, None)
    assert [len(batch) for batch in json.loads(result["Batches"])] == [1, 50, 50, 19]
    chunks = [pick_chunk.handler({**result, "Index": n}, None)["InstanceIds"] for n in result["ChunkIndexes"]]
    assert [len(chunk) for chunk in chunks] == [50, 50, 20]
    assert [h for chunk in chunks for h in chunk] == [h for b in json.loads(result["Batches"]) for h in b]


@pytest.mark.parametrize(
    ("hosts", "offline", "message"),
    [
        ([], [], "no running instance carries the fleet tag"),
        (["i-0a", "i-0b"], ["i-0b", "i-0a"], "not online in Systems Manager: i-0a, i-0b"),
        (
            [f"i-{n:04d}" for n in range(1001)],
            [],
            "1001 hosts are more than the 1000 releaseflow's runbooks support "
            "(what aws:executeScript's 100 KB output carries)",
        ),
    ],
    ids=["empty-fleet", "no-agents", "over-the-maximum"],
)
def test_plan_refuses_an_empty_fleet_one_without_agents_or_one_too_large_with_its_message(
    hosts, offline, message
):
    """An empty fleet, one with no agents, or one over 1,000 hosts fails PlanRollout with its message."""
    payload = {
        "Hosts": json.dumps(hosts),
        "Offline": json.dumps(offline),
        "Tagged": "[]",
        "MigrationTagKey": "m",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        handler(payload, None)


def test_plan_refuses_offline_hosts():
    """The planning script fails the deploy before any change when a fleet host is not online."""
    payload = {
        "Hosts": json.dumps(["i-0a", "i-0b"]),
        "Offline": json.dumps(["i-0b"]),
        "Tagged": "[]",
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "1",
    }
    with pytest.raises(ValueError, match="not online in Systems Manager: i-0b"):
        handler(payload, None)


@pytest.mark.parametrize("only", ["all", json.dumps(["i-0a"])], ids=["deploy", "rollback"])
def test_plan_gives_the_health_check_all_its_tries_and_refuses_what_its_step_cannot_wait_for(only):
    """PlanRollout's health bound covers every try, with the 1 s delays, and refuses pairs needing over 900 s."""
    payload = {
        "Hosts": json.dumps(["i-0a"]),
        "Offline": "[]",
        "Tagged": "[]",
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
        assert retries * try_seconds + (retries - 1) * 1 < seconds <= MAX_HEALTH_SECONDS == 900
    assert handler(payload, None)["HealthCheckSeconds"] == "209"  # the defaults: 30 tries of 5 s, 1 s apart
    with pytest.raises(
        ValueError, match="HealthCheckRetries 60 tries of up to HealthCheckTimeoutSeconds 60 s need"
    ):
        handler({**payload, "HealthCheckRetries": "60", "HealthCheckTimeoutSeconds": "60"}, None)


def test_the_health_bound_uses_the_defaults_the_documents_declare():
    """The bound's delay is releaseflow-HealthCheck's default, and its fallbacks are the Deploy runbook's
    defaults: a default changed in one place and not the other would cut a host's check short."""
    root = Path(__file__).resolve().parents[2]
    check = load_document(root / "documents" / "releaseflow-HealthCheck.yaml").content["parameters"]
    deploy = load_document(root / "automation" / "releaseflow-Deploy.yaml").content["parameters"]
    assert int(check["HealthCheckDelaySeconds"]["default"]) == HEALTH_DELAY_SECONDS
    defaults = {name: deploy[name]["default"] for name in ("HealthCheckRetries", "HealthCheckTimeoutSeconds")}
    assert defaults == {name: check[name]["default"] for name in defaults}
    payload = {"Hosts": '["i-0a"]', "Offline": "[]", "Tagged": "[]", "MigrationTagKey": "m", "BatchSize": "1"}
    assert handler(payload, None) == handler({**payload, **defaults}, None)


def test_plan_for_a_rollback_keeps_the_switched_hosts_in_order_and_names_the_unreachable():
    """With Only, the plan keeps the deploy's order for the hosts it switched and skips, naming, the lost ones."""
    payload = {
        "Hosts": json.dumps(["i-0a", "i-0b", "i-0c", "i-0d"]),
        "Offline": json.dumps(["i-0b"]),
        "Tagged": "[]",
        "MigrationTagKey": "releaseflow:migrate",
        "BatchSize": "2",
        "Only": json.dumps(["i-0a", "i-0b", "i-0c", "i-0z"]),
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0a"], ["i-0c"]]
    assert result["Skipped"] == "i-0b, i-0z"
    nothing = handler({**payload, "Only": "[]"}, None)
    assert (nothing["BatchCount"], nothing["Skipped"]) == (0, "none")


@pytest.mark.parametrize(
    ("workers", "tagged", "batches", "worker_batches"),
    [
        # Mixed: the migration host (web) alone, web batches, then worker batches; 50% of each role.
        (["i-0d", "i-0e", "i-0f"], [], [["i-0a"], ["i-0b", "i-0c"], ["i-0d", "i-0e"], ["i-0f"]], [2, 3]),
        # The migration host may be a worker: it goes first, on its own, as a worker batch.
        (
            ["i-0d", "i-0e", "i-0f"],
            ["i-0e"],
            [["i-0e"], ["i-0a", "i-0b"], ["i-0c"], ["i-0d", "i-0f"]],
            [0, 3],
        ),
        # Workers only, and web only (as before roles: 50% of the 6 hosts).
        (
            ["i-0a", "i-0b", "i-0c", "i-0d", "i-0e", "i-0f"],
            [],
            [["i-0a"], ["i-0b", "i-0c", "i-0d"], ["i-0e", "i-0f"]],
            [0, 1, 2],
        ),
        ([], [], [["i-0a"], ["i-0b", "i-0c", "i-0d"], ["i-0e", "i-0f"]], []),
    ],
)
def test_each_batch_holds_one_role_web_first_then_workers_batch_size_per_role(
    workers, tagged, batches, worker_batches
):
    """Issue 19: hosts tagged releaseflow:role=worker follow the web hosts in batches of their own (a
    percentage BatchSize is of the role's hosts), and WorkerBatches names those batches by index."""
    payload = {
        "Hosts": json.dumps(["i-0a", "i-0b", "i-0c", "i-0d", "i-0e", "i-0f"]),
        "Offline": "[]",
        "Tagged": json.dumps(tagged),
        "Workers": json.dumps(workers),
        "MigrationTagKey": "m",
        "BatchSize": "50%",
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == batches
    assert json.loads(result["WorkerBatches"]) == worker_batches


def test_a_rollback_plan_keeps_its_batches_single_role():
    """RollbackFleet plans only the switched hosts, with the same single-role batches in the same order."""
    payload = {
        "Hosts": json.dumps(["i-0a", "i-0b", "i-0c", "i-0d"]),
        "Offline": "[]",
        "Tagged": "[]",
        "Workers": json.dumps(["i-0b", "i-0d"]),
        "MigrationTagKey": "m",
        "BatchSize": "2",
        "Only": json.dumps(["i-0a", "i-0b", "i-0c"]),
    }
    result = handler(payload, None)
    assert json.loads(result["Batches"]) == [["i-0a"], ["i-0c"], ["i-0b"]]
    assert json.loads(result["WorkerBatches"]) == [2]
