"""HAProxy control in ELBv2 terms, against a real haproxy and two tiny HTTP backends."""

from __future__ import annotations

import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from releaseflow.rehearsal.harness.fleet import free_port
from releaseflow.rehearsal.harness.haproxy import HAPROXY, LoadBalancer
from releaseflow.rehearsal.host.services import alive

pytestmark = pytest.mark.rehearsal


def _backend(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/slow":
                time.sleep(2)
            body = f"{name}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _wait_state(lb: LoadBalancer, instance_id: str, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while lb.target_state(instance_id)[0] != state:
        assert time.monotonic() < deadline, f"{instance_id} stuck in {lb.target_state(instance_id)}"
        time.sleep(0.1)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode().strip()


@pytest.fixture
def fleet(tmp_path):
    if not Path(HAPROXY).exists():
        pytest.fail("haproxy is not installed: run `make system-packages` (as root)")
    backends = {"i-aaa": _backend("i-aaa"), "i-bbb": _backend("i-bbb")}
    lb = LoadBalancer(tmp_path)
    lb.start({name: server.server_address[1] for name, server in backends.items()}, free_port())
    yield lb, backends
    lb.stop()
    for server in backends.values():
        server.shutdown()


def test_servers_start_unused_and_turn_healthy_once_registered(fleet):
    """A server is unused (NotRegistered) until registered, then passes initial checks to healthy."""
    lb, _ = fleet
    assert lb.target_state("i-aaa") == (
        "unused",
        "Target.NotRegistered",
        "Target is not registered to the target group",
    )
    lb.register("i-aaa")
    assert lb.target_state("i-aaa")[0] == "initial"
    _wait_state(lb, "i-aaa", "healthy")
    assert lb.target_state("i-bbb")[0] == "unused"
    assert {_get(lb.url) for _ in range(4)} == {"i-aaa"}


def test_registering_a_healthy_server_again_keeps_it_in_service(fleet):
    """RegisterTargets on a registered, healthy target is a no-op: it stays healthy and keeps answering."""
    lb, _ = fleet
    lb.register("i-aaa")
    _wait_state(lb, "i-aaa", "healthy")
    lb.register("i-aaa")
    assert lb.target_state("i-aaa")[0] == "healthy"
    assert {_get(lb.url) for _ in range(4)} == {"i-aaa"}


def test_deregister_drains_for_the_delay_then_unused_without_failing_a_request(fleet):
    """Deregistration drains for the delay, then unused; requests sent meanwhile all succeed elsewhere."""
    lb, _ = fleet
    for name in ("i-aaa", "i-bbb"):
        lb.register(name)
        _wait_state(lb, name, "healthy")
    answers, failures = [], []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                answers.append(_get(lb.url))
            except OSError as error:
                failures.append(error)

    worker = threading.Thread(target=hammer)
    worker.start()
    lb.deregister("i-aaa", delay_seconds=1.5)
    assert lb.target_state("i-aaa")[0] == "draining"
    time.sleep(0.3)
    served_while_draining = len(answers)
    time.sleep(0.7)
    assert set(answers[served_while_draining:]) == {"i-bbb"}
    _wait_state(lb, "i-aaa", "unused", timeout=3)
    stop.set()
    worker.join()
    assert failures == []
    assert len(answers) > 10


def test_registering_a_draining_target_is_dropped_while_it_still_serves_and_taken_once_it_is_idle(fleet):
    """RegisterTargets of a draining target with a request in flight is dropped: it drains on, then is unused,
    and a registration then takes. Drained with nothing in flight (its deregistration complete, as ELB
    completes it early), the same call registers it at once, though it showed draining."""
    lb, _ = fleet
    lb.register("i-aaa")
    _wait_state(lb, "i-aaa", "healthy")
    slow: list[str] = []
    request = threading.Thread(target=lambda: slow.append(_get(f"{lb.url}/slow")))
    request.start()
    time.sleep(0.5)
    lb.deregister("i-aaa", delay_seconds=1.5)
    lb.register("i-aaa")
    assert lb.target_state("i-aaa")[0] == "draining"
    _wait_state(lb, "i-aaa", "unused", timeout=3)
    request.join()
    assert slow == ["i-aaa"]
    lb.register("i-aaa")
    _wait_state(lb, "i-aaa", "healthy")
    lb.deregister("i-aaa", delay_seconds=30)
    assert lb.target_state("i-aaa")[0] == "draining"
    lb.register("i-aaa")
    assert lb.target_state("i-aaa")[0] == "initial"
    _wait_state(lb, "i-aaa", "healthy")


def test_drain_deadline_is_honoured_by_a_load_balancer_made_afresh(fleet, tmp_path):
    """A new LoadBalancer for the same state dir sees draining, then unused, from the files alone."""
    lb, _ = fleet
    lb.register("i-bbb")
    _wait_state(lb, "i-bbb", "healthy")
    lb.deregister("i-bbb", delay_seconds=0.5)
    other = LoadBalancer(tmp_path)
    assert other.target_state("i-bbb")[0] == "draining"
    time.sleep(0.6)
    assert other.target_state("i-bbb")[0] == "unused"


def test_a_registered_server_that_stops_answering_turns_unhealthy_and_gets_no_traffic(fleet):
    """Checks failing on a registered server make it unhealthy; the other server serves every request."""
    lb, backends = fleet
    for name in ("i-aaa", "i-bbb"):
        lb.register(name)
        _wait_state(lb, name, "healthy")
    backends["i-aaa"].shutdown()
    backends["i-aaa"].server_close()
    assert {_get(lb.url) for _ in range(6)} == {"i-bbb"}
    _wait_state(lb, "i-aaa", "unhealthy")
    _, reason, description = lb.target_state("i-aaa")
    assert reason == "Target.FailedHealthChecks"
    assert "L4CON" in description


def test_stop_ends_haproxy_and_is_idempotent(fleet):
    """stop() ends the haproxy process and a second stop() is harmless."""
    lb, _ = fleet
    pid = lb.pid
    lb.stop()
    lb.stop()
    assert not alive(pid)
