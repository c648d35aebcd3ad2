"""Scenarios 4b and 4c on the rehearsal: a host whose agent is lost mid-deploy, or before its batch.

Apart from test_failures_flow.py so the two longest scenarios run on a fleet (and a worker) of their own;
one fleet of 3 hosts serves the module, and every test starts and ends with it consistent at revision 1.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scenarios import (
    assert_fleet_consistent,
    client,
    deploy,
    deploy_record,
    execution_id,
    fleet_fixture,
    kill_agent,
    puma_pid,
    restart_agent,
    roles,
    snapshot,
    start_deploy,
    wait_for_invocation,
)

pytestmark = pytest.mark.rehearsal

# SSM notices a lost agent after OFFLINE_AFTER seconds without a poll (the rehearsal's own threshold,
# far below AWS's minutes either way). Both tests wait for that, so the module's fleet notices sooner
# than the 10 s default; a live agent always has a long poll open, so it never looks lost.
OFFLINE_AFTER = 5

rehearsal = fleet_fixture(hosts=3, offline_after=OFFLINE_AFTER)


def test_host_lost_mid_deploy_waits_for_its_agent_which_reports_its_checkout_and_the_deploy_goes_on(
    rehearsal,
):
    """Scenario 4b, as AWS behaves: a host whose agent dies mid-command keeps its command InProgress (SSM
    waits for the agent, or the total timeout); the agent started again takes up the checkout the old one
    left running (the SSM agent's processInProgressDocuments; its script was not killed: issue 18) and
    reports it, and the deploy goes on to the end."""
    old, new = rehearsal.revisions
    *_, lost = roles(rehearsal)
    since = datetime.now(UTC)
    # A slow install keeps the lost host's checkout command running while its agent is killed. The two
    # hosts after the migration host go in one batch: the lost host's is still the last batch (nothing
    # follows it but the deploy's end), reached one batch sooner.
    process = start_deploy(
        rehearsal, "--revision", new, "--param", "InstallCommand=sleep 3", "--param", "BatchSize=2"
    )
    try:
        wait_for_invocation(rehearsal, lost, "releaseflow-CheckoutRevision", ("InProgress",), process, since)
        kill_agent(rehearsal, lost)
        # Lost for SSM, yet its command is not ended: no timeout short of delivery + execution timeout.
        wait_for_invocation(rehearsal, lost, "releaseflow-CheckoutRevision", ("InProgress",), process, since)
        restart_agent(rehearsal, lost)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()

    assert process.returncode == 0, out[-3000:] + err
    [checkout] = [
        i
        for i in client(rehearsal, "ssm").list_command_invocations(InstanceId=lost)["CommandInvocations"]
        if i["DocumentName"] == "releaseflow-CheckoutRevision" and i["RequestedDateTime"] >= since
    ]
    assert checkout["Status"] == "Success"
    assert_fleet_consistent(rehearsal.state_dir, new)

    # Back to revision 1 for the module's next test: setup, not what this test proves, so the quickest
    # deploy the runbook offers (revision 1 has no migration to run; the two hosts after the migration
    # host in one batch).
    restored = deploy(rehearsal, "--revision", old, "--param", "Migrate=false", "--param", "BatchSize=100%")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr
    assert_fleet_consistent(rehearsal.state_dir, old)


def test_host_lost_before_its_batch_fails_the_batch_at_once(rehearsal):
    """Scenario 4c: a host lost after the preflight fails its batch's DrainBatch, naming it, with no delivery wait."""
    old, new = rehearsal.revisions
    migration, first, lost = roles(rehearsal)
    before = snapshot(rehearsal)
    since = datetime.now(UTC)
    # The agent is lost as soon as its host has prepared (after the preflight, before any batch): SSM
    # notices (OFFLINE_AFTER) while the migration runs and the first two hosts' batches go, each a
    # switch, a restart, a health check and a registration, so a 1 s install is slow enough.
    process = start_deploy(rehearsal, "--revision", new, "--param", "InstallCommand=sleep 1")
    try:
        wait_for_invocation(rehearsal, lost, "releaseflow-PrepareRevision", ("Success",), process, since)
        kill_agent(rehearsal, lost)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()
        restart_agent(rehearsal, lost)

    assert process.returncode == 1, out[-3000:] + err
    # The report names the step (the trigger's "failed step" line names the last failed command, if any).
    assert "step DrainBatch Failed" in out
    assert f"not online in Systems Manager, so this batch does not start: {lost}" in out
    ssm = client(rehearsal, "ssm")
    sent_to_lost = ssm.list_command_invocations(InstanceId=lost)["CommandInvocations"]
    # It prepared with the others (which changes nothing it serves); no switch or restart reached it.
    assert [i["DocumentName"] for i in sent_to_lost if i["RequestedDateTime"] >= since] == [
        "releaseflow-PrepareRevision"
    ]
    assert (puma_pid(rehearsal, lost), deploy_record(rehearsal.state_dir, lost)) == before[lost]
    for rolled_back in (migration, first):
        assert deploy_record(rehearsal.state_dir, rolled_back)["rolled-back"] == execution_id(out)
    assert_fleet_consistent(rehearsal.state_dir, old)
