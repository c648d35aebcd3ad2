"""The rollout plan: the Deploy runbook's planning script, run offline by `releaseflow plan`."""

import pytest

from releaseflow.cli import main
from releaseflow.rollout import Plan, PlanError, plan_rollout

FLEET = ["i-0c", "i-0a", "i-0e", "i-0b", "i-0d"]


def test_lowest_instance_id_migrates_without_a_tag():
    """Without a tagged host the lowest instance id migrates; the others follow one by one in id order."""
    assert plan_rollout(FLEET) == Plan("i-0a", (("i-0b",), ("i-0c",), ("i-0d",), ("i-0e",)))


def test_tagged_host_migrates():
    """The host carrying the migration tag migrates, wherever it sorts."""
    assert plan_rollout(FLEET, migration_hosts=["i-0d"], batch_size="2") == Plan(
        "i-0d", (("i-0a", "i-0b"), ("i-0c", "i-0e"))
    )


@pytest.mark.parametrize(
    ("batch_size", "batches"),
    [
        ("50%", (("i-0b", "i-0c", "i-0d"), ("i-0e",))),
        ("20%", (("i-0b",), ("i-0c",), ("i-0d",), ("i-0e",))),
        ("1%", (("i-0b",), ("i-0c",), ("i-0d",), ("i-0e",))),
        ("100%", (("i-0b", "i-0c", "i-0d", "i-0e"),)),
    ],
)
def test_percentage_is_of_the_whole_fleet_rounded_up(batch_size, batches):
    """A percentage batch size takes that share of the whole fleet, rounded up, at least one host."""
    assert plan_rollout(FLEET, batch_size=batch_size).batches == batches


def test_count_bigger_than_the_fleet_is_one_batch():
    """A count larger than the remaining hosts puts them all in one batch."""
    assert plan_rollout(FLEET, batch_size="40").batches == (("i-0b", "i-0c", "i-0d", "i-0e"),)


def test_single_host_has_no_batches():
    """A fleet of one host is just the migration host."""
    assert plan_rollout(["i-0a"], batch_size="25%") == Plan("i-0a", ())


def test_two_tagged_hosts_are_refused():
    """Two hosts tagged as migration host fail the plan, naming both."""
    with pytest.raises(PlanError, match=r"2 instances are tagged releaseflow:migrate=true \(i-0a, i-0b\)"):
        plan_rollout(FLEET, migration_hosts=["i-0b", "i-0a"])


@pytest.mark.parametrize("batch_size", ["0", "101%", "0%", "abc", "-1"])
def test_invalid_batch_sizes_are_refused(batch_size):
    """Zero, over 100% and non-numbers are refused with the runbook's message."""
    with pytest.raises(PlanError, match="neither a count nor a percentage"):
        plan_rollout(FLEET, batch_size=batch_size)


def test_migration_host_outside_the_fleet_is_refused():
    """A --migration-host that is not among the hosts is an error, not silently ignored."""
    with pytest.raises(PlanError, match="migration host i-0z is not one of the hosts"):
        plan_rollout(FLEET, migration_hosts=["i-0z"])


def test_fleets_past_50_hosts_plan_with_batches_of_at_most_50():
    """Hundreds of hosts plan; no batch (one aws:runCommand) gets more than 50 instance ids."""
    fleet = [f"i-{n:04d}" for n in range(240)]
    plan = plan_rollout(fleet, batch_size="100%")
    assert plan.migration_host == "i-0000"
    assert [len(batch) for batch in plan.batches] == [50, 50, 50, 50, 39]
    assert [h for batch in plan.batches for h in batch] == fleet[1:]


def test_more_than_100_batches_are_refused_naming_batch_size():
    """An aws:loop runs at most 100 iterations: 101 batches are refused before any change, naming BatchSize."""
    fleet = [f"i-{n:04d}" for n in range(101)]
    assert len(plan_rollout(fleet[:100]).batches) == 99
    with pytest.raises(
        PlanError, match=r"101 batches .* more than the 100 an aws:loop runs: raise BatchSize \(now 1\)"
    ):
        plan_rollout(fleet)


def test_empty_fleet_is_refused():
    """No hosts at all fails as the runbook does for an empty fleet."""
    with pytest.raises(PlanError, match="no running instance carries the fleet tag"):
        plan_rollout([])


def test_cli_prints_migration_host_and_batches(capsys):
    """`releaseflow plan` prints the migration host, then one line a batch, and exits 0."""
    code = main(
        [
            "plan",
            "--hosts",
            "i-0aaaaaaa,i-0bbbbbbb,i-0ccccccc",
            "--migration-host",
            "i-0ccccccc",
            "--batch-size",
            "2",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == (
        "migration host: i-0ccccccc (checks out, migrates, restarts and is checked first)\nbatch 1: i-0aaaaaaa, i-0bbbbbbb\n"
    )


def test_cli_reports_refusal_with_exit_1(capsys):
    """A plan the runbook would refuse is one `Error:` line and exit code 1."""
    code = main(
        [
            "plan",
            "--hosts",
            "i-0aaaaaaa,i-0bbbbbbb",
            "--migration-host",
            "i-0aaaaaaa",
            "--migration-host",
            "i-0bbbbbbb",
        ]
    )
    assert code == 1
    assert capsys.readouterr().err == (
        "Error: 2 instances are tagged releaseflow:migrate=true (i-0aaaaaaa, i-0bbbbbbb); tag exactly one\n"
    )


def test_worker_hosts_follow_in_batches_of_their_own_and_the_plan_says_so(capsys):
    """Issue 19: `--workers` names the hosts tagged releaseflow:role=worker; they follow the web hosts in
    batches of their own (50% of the 2 workers: one a batch), and the migration host may be one."""
    plan = plan_rollout(FLEET, workers=["i-0d", "i-0e"], batch_size="50%")
    assert plan == Plan("i-0a", (("i-0b", "i-0c"), ("i-0d",), ("i-0e",)), worker_batches=(2, 3))
    hosts = "i-0aaaaaaa,i-0bbbbbbb,i-0ccccccc"
    assert main(["plan", "--hosts", hosts, "--workers", "i-0aaaaaaa,i-0ccccccc"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "migration host: i-0aaaaaaa (a worker host) (checks out, migrates, restarts and is checked first)",
        "batch 1: i-0bbbbbbb",
        "batch 2 (workers): i-0ccccccc",
    ]
    with pytest.raises(PlanError, match="worker i-0f is not one of the hosts"):
        plan_rollout(FLEET, workers=["i-0f"])
