"""One deploy lock: the runbooks' Lock step and `releaseflow deploy`'s check decide who holds a fleet alike."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aws_fakes import FakeExecutions
from published import published_handler, published_runbooks
from releaseflow.deploy import LockHeld, StartRequest, acquire, lock_holders
from releaseflow.documents import load_document
from releaseflow.result import Result, exit_code
from releaseflow.runbook_scripts import lock
from releaseflow.ssm import EXECUTION_RUNNING

ROOT = Path(__file__).resolve().parents[2]
NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)
DEPLOY, ROLLBACK = lock.RUNBOOKS
SHOP = {"FleetTagKey": [lock.FLEET_TAG_KEY], "FleetTagValue": ["shop"]}
ME = "d-me"
# When the deploy whose Lock step the cases run started.
STARTED = NOON + timedelta(seconds=10)


def at(seconds):
    return NOON + timedelta(seconds=seconds)


# Each case: the other executions (id -> runbook, start, parameters), those no longer running, and which
# one holds fleet shop (default key) against a deploy started at 10 s, or None.
CASES = {
    "an older deploy on the fleet": ({"d-1": (DEPLOY, at(1), SHOP)}, (), "d-1"),
    "a deploy on another fleet": (
        {"d-1": (DEPLOY, at(1), {"FleetTagKey": [lock.FLEET_TAG_KEY], "FleetTagValue": ["db"]})},
        (),
        None,
    ),
    "a deploy on the same value of another tag key": (
        {"d-1": (DEPLOY, at(1), {"FleetTagKey": ["team"], "FleetTagValue": ["shop"]})},
        (),
        None,
    ),
    "a deploy that lists no FleetTagKey works on the default key": (
        {"d-1": (DEPLOY, at(1), {"FleetTagValue": ["shop"]})},
        (),
        "d-1",
    ),
    "a rollback given only the id of its (ended) deploy on the fleet": (
        {
            "d-0": (DEPLOY, at(0), SHOP),
            "r-1": (ROLLBACK, at(1), {"ExecutionId": ["d-0"], "FleetTagKey": [""], "FleetTagValue": [""]}),
        },
        ("d-0",),
        "r-1",
    ),
    "a rollback of a deploy on another fleet": (
        {
            "d-0": (DEPLOY, at(0), {"FleetTagValue": ["db"]}),
            "r-1": (ROLLBACK, at(1), {"ExecutionId": ["d-0"], "FleetTagValue": [""]}),
        },
        ("d-0",),
        None,
    ),
    "a rollback given the fleet itself": (
        {
            "d-0": (DEPLOY, at(0), {"FleetTagValue": ["db"]}),
            "r-1": (ROLLBACK, at(1), {"ExecutionId": ["d-0"], **SHOP}),
        },
        ("d-0",),
        "r-1",
    ),
    "an execution that has ended": ({"d-1": (DEPLOY, at(1), SHOP)}, ("d-1",), None),
    "a runbook published with another prefix": ({"s-1": (f"staging-{DEPLOY}", at(1), SHOP)}, (), None),
    "another document whose name starts the same": ({"p-1": ("releaseflow-Probe", at(1), SHOP)}, (), None),
    "the oldest of several": (
        {"d-2": (DEPLOY, at(2), SHOP), "r-1": (ROLLBACK, at(1), {"ExecutionId": ["d-2"]})},
        (),
        "r-1",
    ),
}


def step_lock(executions, ended, me=ME, runbook=DEPLOY, start=STARTED, ignore="none"):
    """The Lock step's handler for execution `me`: the holder it yields to, or None when it goes on."""
    ssm = FakeExecutions({**executions, me: (runbook, start, SHOP)}, ended)
    events = {"ExecutionId": me, "FleetTagKey": lock.FLEET_TAG_KEY, "FleetTagValue": "shop", "Ignore": ignore}
    try:
        assert lock.handler(events, None, ssm=ssm) == {"Fleet": f"{lock.FLEET_TAG_KEY}=shop"}
    except RuntimeError as error:
        return str(error)
    return None


def cli_lock(executions, ended, runbook=DEPLOY):
    """`releaseflow deploy`'s check before it starts: the refusal it raises, or None when the fleet is free."""
    request = StartRequest(runbook, {"FleetTagValue": ["shop"]}, "token", ())
    try:
        acquire(FakeExecutions(executions, ended), request, wait=False, notify=print)
    except LockHeld as error:
        assert error.exit_code == exit_code(Result.LOCKED) == 5
        return str(error)
    return None


@pytest.mark.parametrize(("executions", "ended", "holder"), list(CASES.values()), ids=list(CASES))
def test_the_runbook_step_and_the_cli_agree_on_who_holds_the_fleet(executions, ended, holder):
    """For every case the Lock step yields to the same execution the CLI refuses to start beside, or both go on."""
    seen = [step_lock(executions, ended), cli_lock(executions, ended)]
    if holder is None:
        assert seen == [None, None]
        return
    runbook = executions[holder][0]
    held = f"execution {holder} of {runbook} is still running on fleet shop"
    assert (
        seen[0]
        == f"{held}; this execution yields before touching any host: start it again once that one has ended"
    )
    assert seen[1] == held


def test_the_younger_of_two_deploys_yields_and_the_older_goes_on():
    """The Lock step of the older execution goes on beside a younger one; the younger one yields."""
    younger = {"d-2": (DEPLOY, at(20), SHOP)}
    assert step_lock(younger, ()) is None
    assert step_lock({"d-1": (DEPLOY, at(1), SHOP)}, ()).startswith("execution d-1 of releaseflow-Deploy")


def test_equal_start_times_are_ordered_by_id_and_a_pending_execution_is_the_youngest():
    """Two executions started in the same instant agree that the smaller id is older; one not started
    yet (no start time) is younger than any started one."""
    assert step_lock({"d-b": (DEPLOY, at(10), SHOP)}, (), me="d-a") is None
    assert step_lock({"d-a": (DEPLOY, at(10), SHOP)}, (), me="d-b").startswith("execution d-a of")
    assert step_lock({"d-0": (DEPLOY, None, SHOP)}, ()) is None
    ssm = FakeExecutions({"d-0": (DEPLOY, None, SHOP), "d-1": (DEPLOY, at(1), SHOP)})
    assert [h[1] for h in lock.holders(ssm, list(lock.RUNBOOKS), (lock.FLEET_TAG_KEY, "shop"))] == [
        "d-1",
        "d-0",
    ]


def test_a_rollback_ignores_the_deploy_it_undoes():
    """RollbackFleet's Lock (Ignore = its deploy) goes on while that deploy waits for it in AwaitRollback."""
    deploy = {"d-1": (DEPLOY, at(1), SHOP)}
    assert step_lock(deploy, (), me="r-1", runbook=ROLLBACK, ignore="d-1") is None
    assert step_lock(deploy, (), me="r-1", runbook=ROLLBACK).startswith("execution d-1 of releaseflow-Deploy")


def test_a_prefixed_runbook_locks_against_its_own_prefix_only():
    """staging-releaseflow-Deploy is held by staging-releaseflow-RollbackFleet, not by the unprefixed runbooks;
    the CLI takes the prefix from the request's runbook name."""
    executions = {
        "d-1": (DEPLOY, at(1), SHOP),
        "r-2": (f"staging-{ROLLBACK}", at(2), {"ExecutionId": ["s-0"], **SHOP}),
    }
    held = "execution r-2 of staging-releaseflow-RollbackFleet is still running on fleet shop"
    assert step_lock(executions, (), runbook=f"staging-{DEPLOY}").startswith(held)
    assert cli_lock(executions, (), runbook=f"staging-{DEPLOY}") == held


def test_runbook_names_written_out_with_the_prefix_at_publish_stay_as_they_are(monkeypatch):
    """Publish may write the prefixed names into the script itself: they are then taken as they are."""
    prefixed = tuple(f"staging-{name}" for name in lock.RUNBOOKS)
    assert lock.runbook_names(f"staging-{DEPLOY}") == list(prefixed)
    monkeypatch.setattr(lock, "RUNBOOKS", prefixed)
    assert lock.runbook_names(f"staging-{ROLLBACK}") == list(prefixed)


def test_both_list_the_same_executions_every_running_status():
    """The step and the CLI ask for the same listing: both runbooks' common prefix, every running status."""
    step_ssm, cli_ssm = FakeExecutions({ME: (DEPLOY, at(10), SHOP)}), FakeExecutions({})
    lock.handler(
        {"ExecutionId": ME, "FleetTagKey": "k", "FleetTagValue": "v", "Ignore": "none"}, None, ssm=step_ssm
    )
    lock_holders(cli_ssm, StartRequest(DEPLOY, {"FleetTagValue": ["v"]}, "t", ()))
    listings = [
        [request for name, request in ssm.calls if name == "describe_automation_executions"]
        for ssm in (step_ssm, cli_ssm)
    ]
    expected = [
        {"Key": "DocumentNamePrefix", "Values": ["releaseflow-"]},
        {"Key": "ExecutionStatus", "Values": list(EXECUTION_RUNNING)},
    ]
    assert listings == [[{"Filters": expected}]] * 2


def test_the_default_fleet_tag_key_is_the_deploy_runbooks():
    """FLEET_TAG_KEY, what an execution without FleetTagKey works on, is releaseflow-Deploy's default."""
    deploy = load_document(ROOT / "automation" / "releaseflow-Deploy.yaml").content
    assert deploy["parameters"]["FleetTagKey"]["default"] == lock.FLEET_TAG_KEY


def test_wait_lock_waits_for_a_running_fleet_rollback_too():
    """With wait, the CLI waits while a RollbackFleet works on the fleet, then returns once it has ended."""
    ssm = FakeExecutions({"r-1": (ROLLBACK, at(1), {"ExecutionId": ["d-0"], **SHOP})})
    notes, slept = [], []

    def sleep(seconds):
        slept.append(seconds)
        ssm.ended.add("r-1")

    request = StartRequest(DEPLOY, {"FleetTagValue": ["shop"]}, "token", ())
    acquire(ssm, request, wait=True, notify=notes.append, sleep=sleep)
    assert notes == ["waiting for execution r-1 of releaseflow-RollbackFleet on fleet shop to finish"]
    assert len(slept) == 1


@pytest.mark.parametrize("runbook", [DEPLOY, ROLLBACK])
def test_a_lock_published_with_a_prefix_holds_against_its_own_environment_only(runbook):
    """Published with staging- (names rewritten in the script), the Lock step yields to an older staging
    execution on the fleet and ignores production's."""
    handler = published_handler(published_runbooks("staging-")[f"staging-{runbook}"], "Lock")
    executions = {
        "p-0": (DEPLOY, at(0), SHOP),
        "s-1": (f"staging-{DEPLOY}", at(1), SHOP),
        "s-2": (f"staging-{runbook}", at(2), SHOP),
    }
    events = {"FleetTagKey": lock.FLEET_TAG_KEY, "FleetTagValue": "shop", "Ignore": "none"}
    ssm = FakeExecutions(executions)
    assert handler({**events, "ExecutionId": "s-1"}, None, ssm=ssm) == {"Fleet": f"{lock.FLEET_TAG_KEY}=shop"}
    with pytest.raises(RuntimeError, match=r"^execution s-1 of staging-releaseflow-Deploy is still running"):
        handler({**events, "ExecutionId": "s-2"}, None, ssm=ssm)
