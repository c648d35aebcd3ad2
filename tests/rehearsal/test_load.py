"""Steady load through the load balancer while the fleet deploys: no request fails, also when it rolls back."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scenarios import assert_fleet_consistent, client, deploy, execution_id, fleet_fixture, push_commit

pytestmark = pytest.mark.rehearsal
REPORT = Path(__file__).resolve().parents[2] / "build" / "load-report.json"
RATE = 25  # requests a second, above the 20 the scenario asks for
MAX_SECONDS = 300  # a bound on each load run, whatever the deploy does
BAKE_SECONDS = 3  # BakeSeconds of the successful deploy: short, yet plain in the step timestamps
# Revision 3's /up fails on a host that has tmp/unhealthy: only the host that gets the marker fails.
UNHEALTHY_WHEN_MARKED = """\
class UpController < ActionController::Base
  def show
    revision = Rails.configuration.x.revision
    response.set_header("X-Revision", revision)
    if Rails.root.join("tmp", "unhealthy").exist?
      render plain: "unhealthy #{revision}\\n", status: :service_unavailable
    else
      render plain: "ok #{revision}\\n"
    end
  end
end
"""

rehearsal = fleet_fixture(hosts=3, name="rehearsal")
results: list[dict] = []


class SteadyLoad:
    """GET /up through the LB at a fixed rate (loopback only) until stopped or MAX_SECONDS have passed."""

    def __init__(self, lb_url: str, rate: int = RATE, max_seconds: float = MAX_SECONDS):
        assert lb_url.startswith("http://127.0.0.1:"), lb_url
        self.url = f"{lb_url}/up"
        self.rate = rate
        self.max_requests = int(rate * max_seconds)
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self.seconds = 0.0
        self.bounded = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def sent(self) -> int:
        return sum(self.answers.values()) + len(self.failures)

    def _run(self) -> None:
        start = time.monotonic()
        # Enough workers that a slow answer (a host restarting) does not lower the rate.
        with ThreadPoolExecutor(max_workers=16) as pool:
            for number in range(self.max_requests):
                pause = start + number / self.rate - time.monotonic()
                if self._stop.wait(max(pause, 0)):
                    break
                pool.submit(self._one)
            else:
                self.bounded = True
        self.seconds = time.monotonic() - start

    def _one(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                revision = response.headers.get("X-Revision", "")
            with self._lock:
                self.answers[revision] += 1
        except urllib.error.HTTPError as error:
            # The revision header tells an app's own error from the load balancer's.
            with self._lock:
                self.failures.append(f"{error} (X-Revision: {error.headers.get('X-Revision', '-')})")
        except OSError as error:
            with self._lock:
                self.failures.append(str(error))


def _record(name: str, exit_code: int, load: SteadyLoad, revisions: dict[str, str]) -> dict:
    """Print and keep one deploy's request counts by served revision."""
    result = {
        "deploy": name,
        "exit_code": exit_code,
        "requests": load.sent,
        "failed": len(load.failures),
        "failures": load.failures[:10],
        "seconds": round(load.seconds, 1),
        "requests_per_second": round(load.sent / load.seconds, 1),
        "by_revision": {revisions.get(sha, sha): count for sha, count in sorted(load.answers.items())},
    }
    print(json.dumps(result))
    results.append(result)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({"rate": RATE, "deploys": results}, indent=2) + "\n")
    return result


def test_rolling_deploy_under_load_fails_no_request(rehearsal):
    """A successful rolling deploy of revision 2 at 25 requests/s through HAProxy, watched by a CloudWatch alarm
    that stays OK, baking 3 s (issue 14): zero failed requests, answers from both revisions, all hosts on 2."""
    first, second = rehearsal.revisions[:2]
    cloudwatch = client(rehearsal, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="shop-5xx",
        Namespace="shop",
        MetricName="5xx",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="shop-5xx", StateValue="OK", StateReason="quiet")
    with SteadyLoad(rehearsal.lb_url) as load:
        result = deploy(
            rehearsal, "--revision", second, "--alarm", "shop-5xx", "--param", f"BakeSeconds={BAKE_SECONDS}"
        )
    report = _record("rolling deploy of revision 2", result.returncode, load, {first: "1", second: "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert not load.bounded
    assert report["failed"] == 0, report
    assert report["requests_per_second"] >= 20
    assert report["by_revision"]["1"] > 0 and report["by_revision"]["2"] > 0
    assert_fleet_consistent(rehearsal.state_dir, second)
    assert _bakes(rehearsal, execution_id(result.stdout)) == [True, False, True]


def _bakes(rehearsal, execution: str) -> list[bool]:
    """Per batch, from the steps: did the deploy hold BAKE_SECONDS with the batch in service before going on?

    The migration host's bake ends its RegisterBatch (the step says how long it baked and lasts at least
    that long); the last batch's is BakeFleet, the aws:sleep after the loop: no step of its own in a batch.
    """
    steps = client(rehearsal, "ssm").describe_automation_step_executions(AutomationExecutionId=execution)
    registers = [step for step in steps["StepExecutions"] if step["StepName"] == "RegisterBatch"]
    [bake] = [step for step in steps["StepExecutions"] if step["StepName"] == "BakeFleet"]
    baked = []
    for register in registers:
        said = int(register["Outputs"]["BakedSeconds"][0])
        lasted = (register["ExecutionEndTime"] - register["ExecutionStartTime"]).total_seconds()
        assert said in (0, BAKE_SECONDS) and lasted >= said, (said, lasted)
        baked.append(said == BAKE_SECONDS)
    assert baked[-1] is False, "the last batch bakes in BakeFleet, not in its RegisterBatch"
    assert bake["StepStatus"] == "Success", bake
    slept = (bake["ExecutionEndTime"] - bake["ExecutionStartTime"]).total_seconds()
    baked[-1] = slept >= BAKE_SECONDS - 1
    return baked


def test_deploy_that_rolls_back_under_load_fails_no_request(rehearsal):
    """A deploy whose health check fails on the last batch rolls back under 25 requests/s: exit 1,
    zero failed requests, and every host back on revision 2."""
    second = rehearsal.revisions[1]
    third = push_commit(
        rehearsal.state_dir,
        {"app/controllers/up_controller.rb": UNHEALTHY_WHEN_MARKED},
        "revision 3: /up fails where tmp/unhealthy exists",
        parent=second,
    )
    # Batches follow the sorted instance ids, the migration host first: the last id is the last batch.
    marker = rehearsal.host_root(sorted(rehearsal.instance_ids)[-1]) / "app" / "tmp" / "unhealthy"
    marker.write_text("")
    try:
        with SteadyLoad(rehearsal.lb_url) as load:
            result = deploy(rehearsal, "--revision", third)
    finally:
        marker.unlink()
    report = _record("deploy of revision 3, rolled back", result.returncode, load, {second: "2", third: "3"})
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "HealthCheckBatch" in result.stdout
    assert not load.bounded
    assert report["requests_per_second"] >= 20
    assert report["by_revision"]["2"] > 0 and report["by_revision"]["3"] > 0
    assert_fleet_consistent(rehearsal.state_dir, second)
    assert report["failed"] == 0, report
