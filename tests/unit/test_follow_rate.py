"""How cheap following a deploy is: calls a minute and how soon the end is seen, on a fake clock."""

from __future__ import annotations

from releaseflow.execution import Invocation
from releaseflow.follow import follow
from test_deploy import FakeClock, FakeSSM, _host, _step, scenario


class TimedSSM(FakeSSM):
    """FakeSSM that also records when (fake seconds) each call was made."""

    def __init__(self, timeline, clock):
        super().__init__(timeline, clock)
        self.times: list[float] = []
        for name in (
            "get_automation_execution",
            "describe_automation_step_executions",
            "list_command_invocations",
            "get_command_invocation",
            "stop_automation_execution",
        ):
            self._timed(name, clock)

    def _timed(self, name, clock):
        method = getattr(self, name)

        def timed(**kwargs):
            self.times.append(clock())
            return method(**kwargs)

        setattr(self, name, timed)


def busiest_minute(times: list[float]) -> int:
    """The most calls in any 60 s window."""
    return max(sum(1 for t in times if start <= t < start + 60) for start in times)


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


def test_churn_beyond_the_budget_waits_for_the_end_to_catch_up():
    """A new command every second: until the end, no minute exceeds 60 calls; the final fetch lists the rest."""
    timeline, end = churning(steps=600, seconds_each=1.0, hosts=2)
    outcome, times, late = measure(timeline, end)
    assert outcome.result == "success"
    assert busiest_minute([t for t in times if t < end]) <= 60
    assert 0 <= late <= 2.0


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
