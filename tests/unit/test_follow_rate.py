"""How cheap following a deploy is: calls a minute and how soon the end is seen, on a fake clock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from releaseflow.deploy import run_deploy
from releaseflow.execution import Invocation
from releaseflow.follow import CALLS_PER_MINUTE, busiest_minute, follow
from test_deploy import FakeClock, FakeSSM, _host, _request, _step, _stopping_at, cancel_scenario, scenario


class TimedSSM(FakeSSM):
    """FakeSSM that also records when (fake seconds) each call was made."""

    def __init__(self, timeline, clock, **kwargs):
        super().__init__(timeline, clock, **kwargs)
        self.meta = SimpleNamespace(region_name="eu-west-1")
        self.times: list[float] = []
        # When a status poll first answered that the deploy (exec-1) had ended.
        self.end_seen: float | None = None
        for name in (
            "get_automation_execution",
            "describe_automation_step_executions",
            "list_command_invocations",
            "get_command_invocation",
            "stop_automation_execution",
            "start_automation_execution",
            "describe_automation_executions",
        ):
            self._timed(name, clock)

    def _timed(self, name, clock):
        method = getattr(self, name)

        def timed(**kwargs):
            self.times.append(clock())
            answer = method(**kwargs)
            execution = (answer or {}).get("AutomationExecution", {})
            ended = execution.get("AutomationExecutionStatus") in ("Success", "Failed", "Cancelled")
            if ended and execution["AutomationExecutionId"] == "exec-1" and self.end_seen is None:
                self.end_seen = clock()
            return answer

        setattr(self, name, timed)


def churning(steps: int, seconds_each: float, hosts: int = 4) -> tuple[list[tuple[float, dict]], float]:
    """A runbook of `steps` top-level runCommand steps, one every `seconds_each`, each on `hosts` hosts."""
    timeline = []
    done_steps: list[dict] = []
    done_hosts: dict[str, list[dict]] = {}
    for n in range(steps):
        start, end = n * seconds_each, (n + 1) * seconds_each
        command = f"c{n}"
        running = _step(f"S{n}", "InProgress", start, command=command)
        running_hosts = [_host(command, f"i-{h}", "releaseflow-X", "InProgress", start) for h in range(hosts)]
        timeline.append(
            (
                start,
                {
                    "status": "InProgress",
                    "steps": [*done_steps, running],
                    "hosts": {**done_hosts, command: running_hosts},
                },
            )
        )
        done_steps = [*done_steps, _step(f"S{n}", "Success", start, end, command=command)]
        done_hosts = {
            **done_hosts,
            command: [_host(command, f"i-{h}", "releaseflow-X", "Success", start, end) for h in range(hosts)],
        }
    end = steps * seconds_each
    timeline.append((end, {"status": "Success", "steps": done_steps, "hosts": done_hosts}))
    return timeline, end


def measure(timeline, end):
    clock = FakeClock()
    ssm = TimedSSM(timeline, clock)
    outcome = follow(ssm, "exec-1", listener=lambda *_: None, clock=clock, sleep=clock.sleep)
    return outcome, ssm.times, clock.now - end


def test_busy_deploy_stays_under_60_calls_a_minute_and_sees_the_end_within_2_s():
    """A 10-minute deploy running a new command on 2 hosts every 5 s: at most 60 calls in any minute
    (the final fetch included), about 54 a minute on average, and the end seen within 2 s."""
    outcome, times, late = measure(*churning(steps=120, seconds_each=5.0, hosts=2))
    assert outcome.result == "success"
    assert busiest_minute(times) <= 60
    assert len(times) / (times[-1] / 60) <= 56
    assert 0 <= late <= 2.0


def test_churn_beyond_the_budget_is_caught_up_at_the_end_within_60_calls_a_minute():
    """A new command every second, faster than the budget lists them: no minute exceeds 60 calls, the end
    and its catch-up included; the end is seen within 2 s, and the final report lists every host."""
    timeline, end = churning(steps=600, seconds_each=1.0, hosts=2)
    clock = FakeClock()
    ssm = TimedSSM(timeline, clock)
    outcome = follow(ssm, "exec-1", listener=lambda *_: None, clock=clock, sleep=clock.sleep)
    assert outcome.result == "success"
    assert busiest_minute(ssm.times) <= CALLS_PER_MINUTE
    assert 0 <= ssm.end_seen - end <= 2.0
    assert len(outcome.snapshot.invocations) == 600 * 2


def test_long_command_is_watched_at_about_half_the_rate():
    """One 10-minute command with no change: 32 status calls a minute, host refreshes backing off to 30 s."""
    timeline, end = churning(steps=1, seconds_each=600.0)
    outcome, times, late = measure(timeline, end)
    assert outcome.result == "success"
    assert busiest_minute(times) <= 40
    assert len(times) / (times[-1] / 60) <= 37
    assert 0 <= late <= 2.0


def test_every_host_and_step_is_still_reported_when_fetches_are_deferred():
    """Deferring detail fetches loses nothing: the listener hears of every step's and host's success."""
    timeline, _ = churning(steps=60, seconds_each=1.0, hosts=2)
    clock = FakeClock()
    steps, hosts = set(), set()

    def listener(snapshot, changed):
        for item in changed:
            if isinstance(item, Invocation):
                hosts.add((item.command_id, item.instance_id, item.status))
            else:
                steps.add((item.label, item.status))

    follow(TimedSSM(timeline, clock), "exec-1", listener=listener, clock=clock, sleep=clock.sleep)
    assert {(f"S{n}", "Success") for n in range(60)} <= steps
    assert {(f"c{n}", f"i-{h}", "Success") for n in range(60) for h in range(2)} <= hosts


def test_short_deploy_sees_the_end_within_2_s():
    """The three-step scenario of the deploy tests ends within 2 s of its end."""
    timeline = scenario()
    outcome, _, late = measure(timeline, timeline[-1][0])
    assert outcome.result == "success"
    assert 0 <= late <= 2.0


def trigger(timeline, end, **fake):
    """Run the whole trigger (lock, start, claim, follow, rollback) on a fake clock: its calls' times, when
    it returned after the end, and its outcome."""
    clock = FakeClock()
    ssm = TimedSSM(timeline, clock, **fake)
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock), clock=clock)
    return deployment, ssm.times, clock.now - end


@pytest.mark.parametrize(
    ("steps", "seconds_each"),
    [(12, 20 / 12), (120, 15.0)],
    ids=["20-second deploy", "30-minute deploy"],
)
def test_the_trigger_makes_at_most_60_calls_in_any_minute_and_returns_within_2_s_of_the_end(
    steps, seconds_each
):
    """Lock, start, claim, following and the final report of a 20 s and of a 30 min deploy (a new command
    on 3 hosts every 1.7 s or 15 s): the busiest 60 s hold at most 60 calls; it returns within 2 s."""
    timeline, end = churning(steps=steps, seconds_each=seconds_each, hosts=3)
    deployment, times, late = trigger(timeline, end)
    assert deployment.outcome.result == "success"
    assert busiest_minute(times) <= CALLS_PER_MINUTE
    assert 0 <= late <= 2.0
    assert len(deployment.outcome.snapshot.invocations) == steps * 3


def test_a_cancelled_deploy_and_the_rollback_it_started_share_the_60_calls_a_minute():
    """Stopping the deploy, following its rollback and reading both at the end stay within 60 calls in
    any minute; the rollback's end is seen within 2 s."""
    clock = FakeClock()
    scenario_ = cancel_scenario(rollback_ends=20)
    ssm = TimedSSM(scenario_["timeline"], clock, cancelled=scenario_["cancelled"], others=scenario_["others"])
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, 4), clock=clock)
    assert (deployment.outcome.result, deployment.rollback.snapshot.status) == ("cancelled", "Success")
    assert busiest_minute(ssm.times) <= CALLS_PER_MINUTE
    assert 0 <= clock.now - 20 <= 2.0


def test_busiest_minute_counts_the_calls_of_the_fullest_60_seconds():
    """busiest_minute is the largest number of call times within any 60 s (start included, end not)."""
    assert busiest_minute([]) == 0
    assert busiest_minute([0, 30, 59.9, 60, 61]) == 4
    assert busiest_minute([0, 60, 120]) == 1


def cancelled_with_rollback(cancel_at: float, rollback_steps: int, seconds_each: float) -> dict:
    """A long deploy (a new command on 3 hosts every `seconds_each`) cancelled at `cancel_at`: its
    RollBackOnCancel starts r-1, which runs `rollback_steps` commands as long each (FakeSSM's arguments)."""
    timeline, _ = churning(steps=900, seconds_each=seconds_each, hosts=3)
    state = [entry for at, entry in timeline if at <= cancel_at][-1]
    started = _step("RollBackOnCancel", "Success", cancel_at, cancel_at, action="aws:executeAwsApi")
    started["Outputs"] = {"RollbackExecutionId": ["r-1"]}
    steps = [
        {**s, "StepStatus": "Cancelled"} if s["StepStatus"] == "InProgress" else s for s in state["steps"]
    ]
    cancelled = {**state, "status": "Cancelled", "steps": [*steps, started]}
    rollback, _ = churning(steps=rollback_steps, seconds_each=seconds_each, hosts=3)
    renamed = []
    for at, entry in rollback:
        hosts = {
            f"r{command}": [{**row, "CommandId": f"r{command}"} for row in rows]
            for command, rows in entry["hosts"].items()
        }
        entry_steps = [
            {**s, "Outputs": {"CommandId": [f"r{s['Outputs']['CommandId'][0]}"]}} for s in entry["steps"]
        ]
        renamed.append((cancel_at + at, {**entry, "steps": entry_steps, "hosts": hosts}))
    return {"timeline": timeline, "cancelled": cancelled, "others": {"r-1": [(0, renamed[0][1]), *renamed]}}


def test_a_long_deploy_cancelled_and_its_long_rollback_stay_within_60_calls_a_minute():
    """A deploy cancelled after 5 minutes of commands every 8 s, and its 3-minute rollback (24 commands): stopping,
    following both and the final report never make more than 60 calls in any 60 s; the rollback's end
    is reported within 2 s."""
    fake = cancelled_with_rollback(cancel_at=300, rollback_steps=24, seconds_each=8.0)
    clock = FakeClock()
    ssm = TimedSSM(fake["timeline"], clock, cancelled=fake["cancelled"], others=fake["others"])
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, 300), clock=clock)
    assert (deployment.outcome.result, deployment.rollback.snapshot.status) == ("cancelled", "Success")
    assert busiest_minute(ssm.times) <= CALLS_PER_MINUTE
    assert 0 <= clock.now - (300 + 24 * 8) <= 2.0


@pytest.mark.parametrize(
    ("cancel_at", "rollback_steps", "seconds_each"),
    [(15, 6, 2.0), (20, 3, 4.0), (25, 4, 3.0)],
    ids=["15 s, then 6 commands of 2 s", "20 s, then 3 of 4 s", "25 s, then 4 of 3 s"],
)
def test_a_short_deploy_cancelled_and_its_short_rollback_report_the_end_within_2_s(
    cancel_at, rollback_steps, seconds_each
):
    """A deploy cancelled after `cancel_at` seconds of commands on 3 hosts, and its rollback, all within one
    minute: the rollback's end is reported within 2 s, within 60 calls in any 60 s. The end's reads take
    what the window has left; when they had to wait for the other calls' share, these ended 23-37 s late."""
    fake = cancelled_with_rollback(cancel_at, rollback_steps, seconds_each)
    clock = FakeClock()
    ssm = TimedSSM(fake["timeline"], clock, cancelled=fake["cancelled"], others=fake["others"])
    deployment = run_deploy(ssm, _request(), stopping=_stopping_at(clock, cancel_at), clock=clock)
    assert (deployment.outcome.result, deployment.rollback.snapshot.status) == ("cancelled", "Success")
    assert busiest_minute(ssm.times) <= CALLS_PER_MINUTE
    assert 0 <= clock.now - (cancel_at + rollback_steps * seconds_each) <= 2.0
