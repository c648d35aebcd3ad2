"""On the rehearsal: a prefixed environment rolls back through its own runbook.

One fleet of 2 hosts and one endpoint hold both sets, as one account holds production's and staging's:
`local up` publishes the unprefixed set, the module publishes `--prefix staging-` beside it, and only
the staging set is deployed. A failed deploy and a cancelled one each roll back through
staging-releaseflow-RollbackFleet, and nothing of the unprefixed set runs.
"""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime

import pytest

from published import ROOT, SOURCES, name_tokens
from releaseflow.rehearsal.harness.app_repo import push_commit
from scenarios import (
    RELEASEFLOW,
    assert_cancel_rolled_back,
    assert_fleet_consistent,
    client,
    deploy,
    execution_id,
    fleet_fixture,
    roles,
    start_deploy,
    wait_for_execution_end,
    wait_for_invocation,
)

pytestmark = pytest.mark.rehearsal

rehearsal = fleet_fixture(hosts=2)

PREFIX = "staging-"
RUNBOOK = f"{PREFIX}releaseflow-Deploy"
ROLLBACK = f"{PREFIX}releaseflow-RollbackFleet"

# A revision no host can serve: its health check fails on the migration host, the first batch.
ALWAYS_UNHEALTHY = """\
class UpController < ActionController::Base
  def show
    render plain: "scenario: unhealthy\\n", status: :service_unavailable
  end
end
"""


@pytest.fixture(scope="module")
def staging(rehearsal):
    """The fleet with the staging- set published beside the unprefixed one, as an adopter publishes it."""
    published = subprocess.run(
        [RELEASEFLOW, "publish", "--prefix", PREFIX],
        env=rehearsal.environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    pages = client(rehearsal, "ssm").get_paginator("list_documents").paginate()
    names = {d["Name"] for page in pages for d in page["DocumentIdentifiers"]}
    assert {*SOURCES, *(PREFIX + name for name in SOURCES)} <= names
    return rehearsal


def assert_only_staging_ran(rehearsal) -> None:
    """Every execution and every command on the endpoint is of a staging- document."""
    ssm = client(rehearsal, "ssm")
    pages = ssm.get_paginator("describe_automation_executions").paginate()
    runbooks = {row["DocumentName"] for page in pages for row in page["AutomationExecutionMetadataList"]}
    documents = {
        c["DocumentName"] for page in ssm.get_paginator("list_commands").paginate() for c in page["Commands"]
    }
    assert ROLLBACK in runbooks
    assert sorted(name for name in runbooks | documents if not name.startswith(PREFIX)) == []


def test_a_failed_prefixed_deploy_rolls_back_through_the_prefixed_rollback_fleet(staging):
    """A staging deploy failing its health check starts staging-releaseflow-RollbackFleet, which puts the host back."""
    old = staging.revisions[0]
    migration, _ = roles(staging)
    broken = push_commit(
        staging.state_dir, {"app/controllers/up_controller.rb": ALWAYS_UNHEALTHY}, "/up always fails"
    )

    # Fewer tries than the default 30 fail the host sooner; the rollback inherits them and its restarted
    # puma needs several seconds on a busy machine (with 1 try, the rollback's own health check failed).
    result = deploy(staging, "--revision", broken, "--runbook", RUNBOOK, "--param", "HealthCheckRetries=15")

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: UpdateBatches[1].HealthCheckBatch" in result.stdout
    assert f"host: {migration}" in result.stdout
    ended = wait_for_execution_end(staging, execution_id(result.stdout))
    (start,) = [s for s in ended["StepExecutions"] if s["StepName"] == "StartRollback"]
    rollback = wait_for_execution_end(staging, start["Outputs"]["RollbackExecutionId"][0])
    assert (rollback["DocumentName"], rollback["AutomationExecutionStatus"]) == (ROLLBACK, "Success"), (
        rollback.get("FailureMessage")
    )
    # The failure message names the runbook that rolled back, as published.
    assert f"{ROLLBACK} {rollback['AutomationExecutionId']} rolled back" in result.stdout
    assert not set(name_tokens(result.stdout)) & set(SOURCES), result.stdout[-3000:]
    assert_fleet_consistent(staging.state_dir, old)
    assert_only_staging_ran(staging)


def test_a_cancelled_prefixed_deploy_rolls_back_through_the_prefixed_rollback_fleet(staging):
    """SIGTERM during a staging deploy's batches: RollBackOnCancel starts staging-releaseflow-RollbackFleet."""
    old, new = staging.revisions
    migration, _ = roles(staging)
    since = datetime.now(UTC)
    process = start_deploy(staging, "--revision", new, "--runbook", RUNBOOK)
    try:
        # Once the migration host has switched, so the rollback has a host to put back.
        wait_for_invocation(
            staging, migration, f"{PREFIX}releaseflow-CheckoutRevision", ("Success",), process, since
        )
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()

    assert process.returncode == 4, out[-3000:] + err
    ended = wait_for_execution_end(staging, execution_id(out))
    assert (ended["DocumentName"], ended["AutomationExecutionStatus"]) == (RUNBOOK, "Cancelled")
    assert_cancel_rolled_back(staging, ended, out, old, runbook=ROLLBACK)
    assert_only_staging_ran(staging)
