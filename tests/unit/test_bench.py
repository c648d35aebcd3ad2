"""The pure parts of `make bench`: statistics, critical path, the JSON shape and the call counter."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from ruamel.yaml import YAML

from bench import engine, peer, rehearsal, report, validate
from bench.critical_path import command_steps, critical_path_seconds
from bench.publish import CallCounter
from bench.rehearsal import DeployRun
from bench.stats import Summary, summarize
from releaseflow.execution import Invocation, Snapshot, Step
from releaseflow.rehearsal.harness.fleet_record import FleetRecord, HostRecord, LoadBalancerRecord

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(name, action="aws:runCommand", start=0.0, end=1.0, command_id="", parent=""):
    return Step(
        key=name,
        name=name,
        action=action,
        status="Success",
        start=at(start),
        end=at(end),
        command_id=command_id,
        parent=parent,
    )


def invocation(command_id, instance, start, end):
    return Invocation(
        command_id=command_id,
        instance_id=instance,
        document="releaseflow-X",
        status="Success",
        start=at(start),
        end=at(end),
    )


def test_summary_is_the_median_with_min_and_max():
    """The reported figure is the median of the runs, with their min and max beside it."""
    assert summarize([3.0, 1.0, 2.0]) == Summary(2.0, 1.0, 3.0, (3.0, 1.0, 2.0))


def test_summary_of_an_even_number_of_runs_averages_the_middle_two():
    """With an even number of runs the median lies between the two middle ones."""
    assert summarize([1.0, 2.0, 4.0, 10.0]).median == 3.0


def test_summary_rounds_to_the_given_places():
    """Figures are rounded so the table and the JSON stay legible."""
    assert summarize([1.23456], 2) == Summary(1.23, 1.23, 1.23, (1.23,))


def test_summary_needs_a_run():
    """A figure without runs is an error, not a zero."""
    with pytest.raises(ValueError):
        summarize([])


def test_critical_path_takes_the_longest_host_of_each_command_step():
    """Hosts of one step run in parallel: the step costs its slowest invocation, and steps add up."""
    steps = [step("A", command_id="c1"), step("B", command_id="c2")]
    invocations = [
        invocation("c1", "i-1", 0.0, 1.5),
        invocation("c1", "i-2", 0.1, 2.1),
        invocation("c2", "i-1", 3.0, 3.5),
    ]
    assert critical_path_seconds(steps, invocations, {}) == pytest.approx(2.5)


def test_critical_path_counts_sleeps_and_named_waits_but_not_api_steps():
    """aws:sleep and named drains are deliberate; API calls and branches are overhead."""
    steps = [
        step("ListFleet", action="aws:executeAwsApi", start=0, end=0.8),
        step("Pause", action="aws:sleep", start=1, end=4),
        step("WaitBatchDrained", action="aws:waitForAwsResourceProperty", start=4, end=6.2, parent="Loop"),
        step("WaitBatchDrained", action="aws:waitForAwsResourceProperty", start=7, end=9.1, parent="Loop"),
    ]
    assert critical_path_seconds(steps, [], {"WaitBatchDrained": 2}) == pytest.approx(7.0)


def test_critical_path_ignores_invocations_that_have_not_ended():
    """An invocation without an end time adds nothing (it cannot be measured)."""
    running = Invocation("c1", "i-1", "releaseflow-X", "InProgress", start=at(0))
    assert critical_path_seconds([step("A", command_id="c1")], [running], {}) == 0.0


def test_command_steps_counts_only_steps_that_sent_a_command():
    """Per-step overhead divides by the command steps, not by loops or branches."""
    steps = [step("A", command_id="c1"), step("Loop", action="aws:loop"), step("B", command_id="c2")]
    assert command_steps(steps) == 2


def test_json_nests_dotted_keys_and_records_targets():
    """`rehearsal.deploy_s` becomes {"rehearsal": {"deploy_s": ...}}; targets say whether they are met."""
    figures = {
        "rehearsal.deploy_s": summarize([30.0, 32.0, 31.0]),
        "rehearsal.overhead_ratio": summarize([1.2, 1.3, 1.25]),
        "publish.unchanged_writes": summarize([0, 0, 0]),
        "engine.step_overhead_ms.10": summarize([100.0]),
    }
    document = report.to_json(figures, {"runs": 3})
    assert document["meta"] == {"runs": 3}
    assert document["rehearsal"]["deploy_s"] == {
        "median": 31.0,
        "min": 30.0,
        "max": 32.0,
        "runs": [30.0, 32.0, 31.0],
    }
    assert document["engine"]["step_overhead_ms"]["10"]["median"] == 100.0
    assert document["targets"] == {
        "rehearsal.overhead_ratio": {"target": "<= 1.1", "met": False},
        "publish.unchanged_writes": {"target": "== 0", "met": True},
    }


def test_table_prints_median_spread_and_verdict():
    """Each line shows the median, (min..max) and, for a figure with a target, whether it is met."""
    text = report.table({"trigger.detect_latency_s": summarize([0.5, 0.7, 2.4]), "peer.ansible_ratio": 1.6})
    assert text.splitlines() == [
        "trigger.detect_latency_s         0.7  (0.5..2.4)             target <= 2: ok",
        "peer.ansible_ratio               1.6                         target < 1: MISSED",
    ]


def test_growth_is_the_ratio_of_per_step_overhead_between_sizes():
    """1 means the per-step overhead is flat in the number of hosts; 5 (for 10 -> 50) linear."""
    figures = {
        "engine.step_overhead_ms.10": summarize([200.0]),
        "engine.step_overhead_ms.50": summarize([300.0]),
    }
    assert engine.growth(figures, 10, 50) == 1.5


def test_deploy_run_derives_its_figures_from_the_execution_and_the_trigger():
    """Deploy time is the execution's own; detection latency runs from ExecutionEndTime to the trigger's exit."""
    snapshot = Snapshot(
        execution_id="e-1",
        runbook="releaseflow-Deploy",
        status="Success",
        start=at(0),
        end=at(20),
        steps=(step("A", command_id="c1"),),
        invocations=(invocation("c1", "i-1", 1, 17),),
    )
    run = DeployRun(snapshot, started=at(-1).timestamp(), exited=at(21.5).timestamp(), calls=45)
    assert run.deploy_s == 20
    assert run.critical_path_s == 16
    assert run.detect_latency_s == pytest.approx(1.5)
    assert run.calls_per_min == pytest.approx(45 * 60 / 22.5)


def test_busiest_minute_calls_counts_the_fullest_60_seconds_of_the_trigger():
    """trigger.busiest_minute_calls: the most call times within 60 s, not the average rate."""
    times = (0.0, 1.0, 2.0, 61.5, 62.0, 62.5, 63.0, 119.0)
    run = DeployRun(None, started=0, exited=120, calls=len(times), call_times=times)
    assert run.busiest_minute_calls == 5


def test_steps_per_batch_counts_the_batch_loops_nested_steps_per_iteration():
    """runbook.steps_per_batch: the steps UpdateBatches ran, divided by its iterations."""
    names = ["DrainBatch", "SwitchBatch", "RestartBatch", "HealthCheckBatch", "RegisterBatch"]
    nested = tuple(
        replace(step(name, parent="UpdateBatches"), key=f"{name}-{n}", iteration=n)
        for n in (1, 2)
        for name in names
    )
    snapshot = Snapshot(
        "e-1", "releaseflow-Deploy", "Success", start=at(0), end=at(9), steps=(step("Lock"), *nested)
    )
    assert DeployRun(snapshot, started=0, exited=1, calls=1).steps_per_batch == 5


def test_out_of_service_counts_each_interval_a_target_starts_not_healthy():
    """rehearsal.out_of_service_s: per target, the sampled seconds it was draining, not listed, initial..."""
    samples = [
        (0.0, {"i-1": "healthy", "i-2": "healthy"}),
        (1.0, {"i-1": "draining", "i-2": "healthy"}),
        (3.0, {"i-2": "healthy"}),
        (4.5, {"i-1": "initial", "i-2": "draining"}),
        (5.0, {"i-1": "healthy", "i-2": "unused"}),
        (6.0, {"i-1": "healthy", "i-2": "healthy"}),
    ]
    assert rehearsal.not_healthy_seconds(samples) == {"i-1": 4.0, "i-2": 1.5}


def test_switch_seconds_are_each_hosts_checkout_restart_and_health_check_durations():
    """rehearsal.switch_s: per host, the own durations of the commands it runs while out of service."""
    invocations = tuple(
        replace(invocation(f"c-{document}-{host}", host, start, end), document=f"releaseflow-{document}")
        for host, timings in {"i-1": (0, 2, 5), "i-2": (10, 11, 14)}.items()
        for document, start, end in [
            ("PrepareRevision", timings[0] - 30, timings[0] - 1),
            ("CheckoutRevision", timings[0], timings[1]),
            ("RestartServices", timings[1], timings[1] + 1),
            ("HealthCheck", timings[1] + 1, timings[2]),
        ]
    )
    snapshot = Snapshot(
        "e-1", "releaseflow-Deploy", "Success", start=at(-40), end=at(20), invocations=invocations
    )
    assert sorted(DeployRun(snapshot, started=0, exited=1, calls=1).switch_s) == [4.0, 5.0]


def test_rollback_seconds_are_each_hosts_rollback_and_health_check_durations():
    """rehearsal.rollback_s: a rollback's Rollback and HealthCheck per host; a DrainBatch or RegisterBatch
    command and an unfinished invocation do not count."""
    timings = [
        ("Rollback", "i-1", 0, 3),
        ("HealthCheck", "i-1", 3, 4.5),
        ("Rollback", "i-2", 0, 2),
        ("HealthCheck", "i-2", 2, None),
        ("CheckoutRevision", "i-2", 10, 20),
    ]
    invocations = [
        replace(
            invocation(f"c-{n}", host, start, end or 0),
            document=f"releaseflow-{document}",
            end=end and at(end),
        )
        for n, (document, host, start, end) in enumerate(timings)
    ]
    assert rehearsal.own_seconds_per_host(invocations, rehearsal.ROLLBACK_DOCUMENTS) == {
        "i-1": 4.5,
        "i-2": 2.0,
    }


def test_the_rollback_ratio_is_held_to_the_switch():
    """A host's rollback may take no longer than its switch (rehearsal.rollback_to_switch_ratio <= 1)."""
    assert report.verdicts({"rehearsal.rollback_to_switch_ratio": 1.0}) == {
        "rehearsal.rollback_to_switch_ratio": True
    }
    assert report.verdicts({"rehearsal.rollback_to_switch_ratio": 1.2}) == {
        "rehearsal.rollback_to_switch_ratio": False
    }


def test_call_counter_counts_calls_and_writes():
    """Every API call counts; only those that are not Get/List/Describe count as writes."""
    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    counter = CallCounter(ssm)
    with Stubber(ssm) as stub:
        stub.add_response("get_document", {"Name": "d", "Content": "{}"})
        stub.add_response("list_documents", {"DocumentIdentifiers": []})
        stub.add_response("update_document_default_version", {})
        ssm.get_document(Name="d")
        ssm.list_documents()
        ssm.update_document_default_version(Name="d", DocumentVersion="2")
    assert counter.take() == (3, 1)
    assert counter.take() == (0, 0)


def test_ansible_rollout_does_what_the_deploy_runbook_does_in_its_order(tmp_path):
    """The peer playbook: prepare every host, migrate once (from the prepared tree) on the lowest host, then
    the runbook's batches (that host alone, then BatchSize 2) drained, switched, restarted, checked, back."""
    state = tmp_path / "state"
    hosts = tuple(HostRecord(f"i-{n}", 3000 + n, state / "hosts" / f"i-{n}", 0) for n in (3, 1, 2))
    state.mkdir()
    lb = LoadBalancerRecord("http://127.0.0.1:1", 0, "arn:tg")
    FleetRecord(hosts, lb, "http://127.0.0.1:1").save(state)
    (state / "endpoint.json").write_text(json.dumps({"url": "http://127.0.0.1:1"}))
    (state / "releaseflow.yaml").write_text(
        "environments:\n  local:\n    parameters:\n      AppUser: releaseflow\n      TargetGroupArn: arn:tg\n"
        "      BatchSize: '2'\n"
    )
    work = tmp_path / "work"
    playbook, inventory = peer.write_rollout(state, "abc123", "ansible-bench-1", work)

    groups = json.loads(inventory.read_text())["all"]["children"]
    assert groups == {
        "fleet": {"hosts": {"i-1": {}, "i-2": {}, "i-3": {}}},
        "migration": {"hosts": {"i-1": {}}},
    }
    prepare, migrate, batches = json.loads(playbook.read_text())
    assert (prepare["hosts"], [t["name"] for t in prepare["tasks"]]) == ("fleet", ["PrepareRevision"])
    assert (migrate["hosts"], [t["name"] for t in migrate["tasks"]]) == ("migration", ["Migrate"])
    assert (batches["hosts"], batches["serial"]) == ("fleet", [1, 2])
    assert [t["name"] for t in batches["tasks"]] == [
        "deregister",
        "wait drained",
        "CheckoutRevision",
        "RestartServices",
        "HealthCheck",
        "register",
        "wait healthy",
    ]
    assert batches["environment"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    wrapper = (work / "i-2" / "CheckoutRevision.sh").read_text()
    assert "SSM_Revision=abc123" in wrapper and "SSM_AppUser=releaseflow" in wrapper
    assert "SSM_ExecutionId=ansible-bench-1" in wrapper
    # The runbook's bounds reach the peer too: PlanRollout's health bound for the defaults, the restart's.
    assert "timeout --signal=KILL 209 " in (work / "i-2" / "HealthCheck.sh").read_text()
    assert "timeout --signal=KILL 300 " in (work / "i-2" / "RestartServices.sh").read_text()
    assert "timeout --signal=KILL 900 " in wrapper
    assert f"mount --bind {state}/hosts/i-2/app /srv/app" in wrapper
    assert "SSM_Checkout=prepared" in (work / "i-1" / "Migrate.sh").read_text()


def test_the_deliberate_waits_are_the_release_runbooks_own_load_balancer_waits():
    """The steps counted as deliberate waits are exactly the batch steps that poll target health
    (drain and register): renaming or adding one cannot silently move it to overhead."""
    content = YAML(typ="safe").load((REPO / "automation" / "releaseflow-Deploy.yaml").read_text())
    [loop] = [step for step in content["mainSteps"] if step["name"] == "UpdateBatches"]
    polling = {
        step["name"]
        for step in loop["inputs"]["Steps"]
        if step["action"] == "aws:executeScript" and "describe_target_health" in step["inputs"]["Script"]
    }
    assert set(rehearsal.WAITS) == polling


def test_the_bench_validates_the_corpus_the_unit_tests_validate():
    """`make bench`'s default corpus is the folder of AWS documents tests/unit/test_corpus.py reads."""
    assert Path(__file__).resolve().parent / "data" / "corpus" == validate.CORPUS
    assert any(validate.CORPUS.rglob("*.json")) or any(validate.CORPUS.rglob("*.yaml"))
