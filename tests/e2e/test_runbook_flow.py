"""The release runbooks on the rehearsal endpoint, with scripted agents instead of Rails hosts
(tests/support/scripted_agents.py): the runbooks' own flow, step by step, command by command."""

from __future__ import annotations

import time
import uuid

import pytest

from scenarios import create_alarm
from scripted_agents import (
    ENDED,
    ENDPOINT_OFFLINE_AFTER,  # noqa: F401 (the endpoint_server fixture reads the module's threshold)
    ROLE,
    Agents,
    launch,
    start,
    step,
    wait_end,
    wait_online,
)

pytestmark = pytest.mark.rehearsal


def health_check_fails_once_on(failing):
    """An `outcome` for Agents: the first releaseflow-HealthCheck on `failing` fails (the new revision's),
    every other command succeeds (the rolled-back revision's check too)."""
    failed = []

    def outcome(document, host):
        if (document, host) == ("releaseflow-HealthCheck", failing) and not failed:
            failed.append(host)
            return "Failed"
        return "Success"

    return outcome


def test_deploy_prepares_all_migrates_once_then_batches_the_migration_host_first(published):
    """Prepare on every host, migrate on the tagged host, then switch/restart/check it first and each other batch."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = launch(published, 3, fleet, tagged=[1])
    agents = Agents(published, hosts)
    try:
        execution = wait_end(published, start(published, fleet))
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    migration, others = hosts[1], sorted(hosts[:1] + hosts[2:])
    assert sorted(agents.sent("releaseflow-PrepareRevision")) == sorted(hosts)
    assert agents.sent("releaseflow-Migrate") == [migration]
    order = [migration, *others]
    for document in (
        "releaseflow-CheckoutRevision",
        "releaseflow-RestartServices",
        "releaseflow-HealthCheck",
    ):
        assert agents.sent(document) == order, document
    names = [name for name, _, _ in agents.ran]
    assert names.index("releaseflow-Migrate") < names.index("releaseflow-CheckoutRevision")
    assert execution["Outputs"]["Finish.UpdatedHosts"] == order
    # Five steps a batch on the happy path: one loop iteration runs exactly them.
    batch = [
        s["StepName"]
        for s in execution["StepExecutions"]
        if s.get("ParentStepDetails", {}).get("StepName") == "UpdateBatches"
        and s["ParentStepDetails"].get("IteratorValue") == "0"
    ]
    assert batch == [
        "DrainBatch",
        "SwitchBatch",
        "RestartBatch",
        "HealthCheckBatch",
        "RegisterBatch",
    ]
    # BakeSeconds 0 (the default): the branch after the loop skips the bake.
    top = [s["StepName"] for s in execution["StepExecutions"] if not s.get("ParentStepDetails")]
    assert top[top.index("UpdateBatches") :] == ["UpdateBatches", "BakeOrNot", "Finish"]


def test_failed_health_check_starts_rollback_fleet_which_reverts_the_switched_hosts_only(published):
    """A batch failing its health check starts RollbackFleet, waits for it, and fails naming step, host and outcome."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = sorted(launch(published, 3, fleet))
    failing = hosts[1]
    agents = Agents(published, hosts, outcome=health_check_fails_once_on(failing))
    try:
        execution = wait_end(published, start(published, fleet))
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Failed"
    rollback_id = step(execution, "StartRollback")["Outputs"]["RollbackExecutionId"][0]
    rollback = wait_end(published, rollback_id)
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert rollback["Parameters"]["ExecutionId"] == [execution["AutomationExecutionId"]]
    # Only the hosts SwitchBatch reached, in the deploy's order; the last host never switched.
    assert agents.sent("releaseflow-Rollback") == hosts[:2]
    assert agents.sent("releaseflow-CheckoutRevision") == hosts[:2]
    report = step(execution, "ReportFailure")["FailureMessage"]
    assert f"step HealthCheckBatch Failed on {failing} (Failed)" in report
    assert f"releaseflow-RollbackFleet {rollback_id} rolled back the hosts this execution switched." in report
    assert step(execution, "AwaitRollback")["StepStatus"] == "Success"


def test_a_fleet_of_workers_only_deploys_and_rolls_back_as_workers(published):
    """Every host tagged worker: each switch, restart, health check and rollback goes to them with Role
    worker and the deploy's WorkerServices, never Services; a worker failing its check rolls the switched back."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = sorted(launch(published, 3, fleet, workers=range(3)))
    failing = hosts[1]
    agents = Agents(published, hosts, outcome=health_check_fails_once_on(failing))
    try:
        execution = wait_end(published, start(published, fleet, WorkerServices="sidekiq-jobs"))
        rollback = wait_end(published, step(execution, "StartRollback")["Outputs"]["RollbackExecutionId"][0])
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert agents.sent("releaseflow-Rollback") == hosts[:2]
    by_role = [
        (document, parameters.get("Role"), parameters.get("Services"))
        for document, _, parameters in agents.ran
        if document not in ("releaseflow-PrepareRevision", "releaseflow-Migrate")
    ]
    assert {document for document, _, _ in by_role} == {
        "releaseflow-CheckoutRevision",
        "releaseflow-RestartServices",
        "releaseflow-HealthCheck",
        "releaseflow-Rollback",
    }
    assert {(str(role), str(services)) for _, role, services in by_role} == {
        (str(["worker"]), str(["sidekiq-jobs"]))
    }, by_role


def test_failed_preparation_switches_nothing_and_starts_no_rollback(published):
    """A host failing to prepare fails the deploy before the migration; no host switches, nothing rolls back."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = launch(published, 3, fleet)
    agents = Agents(
        published,
        hosts,
        outcome=lambda document, host: (
            "Failed" if (document, host) == ("releaseflow-PrepareRevision", hosts[2]) else "Success"
        ),
    )
    try:
        execution = wait_end(published, start(published, fleet))
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Failed"
    names = {s["StepName"] for s in execution["StepExecutions"]}
    assert not {"MigrateOnMigrationHost", "UpdateBatches", "StartRollback"} & names
    assert [name for name, _, _ in agents.ran] == ["releaseflow-PrepareRevision"] * 3
    report = step(execution, "ReportFailure")["FailureMessage"]
    assert f"step PrepareChunk Failed on {hosts[2]} (Failed)" in report
    assert report.rstrip().endswith("No host was switched, so nothing was rolled back.")


def test_cancel_mid_batch_ends_at_once_and_the_rollback_it_started_waits_for_it(published):
    """StopAutomationExecution mid-batch: Cancelled within seconds; RollbackFleet starts on hosts only after."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = sorted(launch(published, 3, fleet))
    agents = Agents(
        published,
        hosts,
        delay=lambda document, host: (
            8 if (document, host) == ("releaseflow-RestartServices", hosts[1]) else 0
        ),
    )
    ssm = published.client("ssm")
    try:
        execution_id = start(published, fleet)
        deadline = time.monotonic() + 120
        while agents.sent("releaseflow-RestartServices")[1:] != [hosts[1]]:
            assert time.monotonic() < deadline, agents.ran
            time.sleep(0.2)
        stopped = time.monotonic()
        ssm.stop_automation_execution(AutomationExecutionId=execution_id)
        execution = wait_end(published, execution_id, timeout=120)
        cancel_seconds = time.monotonic() - stopped
        rollback_id = step(execution, "RollBackOnCancel")["Outputs"]["RollbackExecutionId"][0]
        rollback = wait_end(published, rollback_id)
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert cancel_seconds < 20
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    assert agents.sent("releaseflow-Rollback") == hosts[:2]
    assert rollback["ExecutionEndTime"] > execution["ExecutionEndTime"]
    # The restart the cancel caught still ran on its host (this agent ignores cancels): the rollback waited.
    restart_ended = agents.times[("releaseflow-RestartServices", hosts[1])][1]
    assert agents.times[("releaseflow-Rollback", hosts[1])][0] > restart_ended


def _step_running(endpoint, execution_id, name, iteration=None) -> bool:
    """Whether step `name` (of loop iteration `iteration`, when given) is InProgress; fails once the execution ended."""
    execution = endpoint.client("ssm").get_automation_execution(AutomationExecutionId=execution_id)
    execution = execution["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] not in ENDED, execution
    return any(
        s["StepName"] == name
        and s["StepStatus"] == "InProgress"
        and (iteration is None or s.get("ParentStepDetails", {}).get("IteratorValue") == iteration)
        for s in execution["StepExecutions"]
    )


@pytest.mark.parametrize(
    ("count", "bake", "iteration"),
    # One host is the migration host and the last batch: it bakes only after the loop, so no bake passes first.
    [(2, "RegisterBatch", "0"), (1, "BakeFleet", None)],
    ids=["after-the-migration-host", "after-the-last-batch"],
)
def test_an_alarm_during_a_bake_stops_the_deploy_and_rolls_back_what_it_switched(
    published, count, bake, iteration
):
    """The execution's CloudWatch alarm goes into ALARM while the deploy bakes (in RegisterBatch after the
    migration host, in BakeFleet after the last batch): Cancelled at once, the alarm named, RollbackFleet
    reverts the migration host, the one host switched so far."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = sorted(launch(published, count, fleet))
    alarm = f"{fleet}-5xx"
    cloudwatch = published.client("cloudwatch")
    create_alarm(cloudwatch, alarm)
    agents = Agents(published, hosts)
    parameters = {
        "Revision": "abc1234",
        "FleetTagValue": fleet,
        "AutomationAssumeRole": ROLE,
        "BakeSeconds": "60",
    }
    try:
        execution_id = published.client("ssm").start_automation_execution(
            DocumentName="releaseflow-Deploy",
            Parameters={k: [v] for k, v in parameters.items()},
            AlarmConfiguration={"Alarms": [{"Name": alarm}]},
        )["AutomationExecutionId"]
        deadline = time.monotonic() + 120
        while not _step_running(published, execution_id, bake, iteration):
            assert time.monotonic() < deadline, agents.ran
            time.sleep(0.2)
        alarmed = time.monotonic()
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")
        execution = wait_end(published, execution_id, timeout=60)
        stop_seconds = time.monotonic() - alarmed
        rollback = wait_end(
            published, step(execution, "RollBackOnCancel")["Outputs"]["RollbackExecutionId"][0]
        )
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    # Well inside the 60 s bake: the alarm, not the end of the bake, ended it.
    assert stop_seconds < 20
    assert execution["TriggeredAlarms"] == [{"Name": alarm, "State": "ALARM"}]
    baking = [s for s in execution["StepExecutions"] if s["StepName"] == bake]
    assert baking[-1]["StepStatus"] == "Cancelled"
    assert rollback["AutomationExecutionStatus"] == "Success", rollback.get("FailureMessage")
    # The migration host had switched, and only it, so only it went back; nothing switched after the alarm.
    assert agents.sent("releaseflow-CheckoutRevision") == hosts[:1]
    assert agents.sent("releaseflow-Rollback") == hosts[:1]


def test_a_younger_deploy_on_the_same_fleet_yields_in_its_lock_step(published):
    """Two deploys started on one fleet: the younger fails at Lock naming the older, before any command."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = launch(published, 2, fleet)
    agents = Agents(published, hosts, delay=lambda document, host: 0.5)
    try:
        older = start(published, fleet)
        younger = start(published, fleet)
        refused = wait_end(published, younger)
        finished = wait_end(published, older)
    finally:
        agents.stop()
    assert finished["AutomationExecutionStatus"] == "Success", finished.get("FailureMessage")
    assert refused["AutomationExecutionStatus"] == "Failed"
    assert [s["StepName"] for s in refused["StepExecutions"]] == ["Lock"]
    assert (
        f"execution {older} of releaseflow-Deploy is still running on fleet {fleet}"
        in refused["FailureMessage"]
    )


def test_sixty_hosts_among_150_other_managed_nodes_deploy_with_at_most_50_ids_a_command(published):
    """60 hosts, BatchSize 50%, 150 other managed nodes: every host updates once, no command gets over 50 ids."""
    fleet = f"flow-{uuid.uuid4().hex[:6]}"
    hosts = launch(published, 60, fleet)
    others = launch(published, 150, f"other-{fleet}")
    agents = Agents(published, hosts + others, threads=8)
    try:
        # The runbook refuses a fleet with a host not yet online: start once every agent has polled.
        wait_online(published, hosts)
        execution = wait_end(published, start(published, fleet, BatchSize="50%"), timeout=600)
    finally:
        agents.stop()
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert sorted(agents.sent("releaseflow-PrepareRevision")) == sorted(hosts)
    assert sorted(agents.sent("releaseflow-CheckoutRevision")) == sorted(hosts)
    commands = published.client("ssm").get_paginator("list_commands").paginate()
    sizes = [len(c["InstanceIds"]) for page in commands for c in page["Commands"]]
    assert max(sizes) <= 50
    prepares = [s for s in execution["StepExecutions"] if s["StepName"] == "PrepareChunk"]
    assert len(prepares) == 2


def test_send_command_runs_a_pinned_hash_only_on_the_version_that_has_it(published):
    """SendCommand with the default version's DocumentHash is accepted; with another hash refused (strict reading)."""
    ssm = published.client("ssm")
    [instance] = launch(published, 1, f"flow-{uuid.uuid4().hex[:6]}")
    agents = Agents(published, [instance], threads=1)
    deadline = time.monotonic() + 10
    while not ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance]}])[
        "InstanceInformationList"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    digest = ssm.describe_document(Name="releaseflow-HealthCheck")["Document"]["Hash"]
    pinned = {
        "DocumentName": "releaseflow-HealthCheck",
        "InstanceIds": [instance],
        "DocumentHashType": "Sha256",
    }
    assert (
        ssm.send_command(**pinned, DocumentHash=digest)["Command"]["DocumentName"]
        == "releaseflow-HealthCheck"
    )
    try:
        with pytest.raises(ssm.exceptions.InvalidDocument, match="does not match DocumentHash"):
            ssm.send_command(**pinned, DocumentHash="0" * 64)
    finally:
        agents.stop()
