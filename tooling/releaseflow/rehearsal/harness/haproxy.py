"""The rehearsal's load balancer: Debian's HAProxy, driven in ELBv2 terms through its runtime socket."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from releaseflow.errors import ReleaseflowError
from releaseflow.rehearsal.host.services import alive

HAPROXY = "/usr/sbin/haproxy"
BACKEND = "app"
# Checks run every CHECK_INTERVAL_MS on a server whose state is settled, and every
# TRANSITION_INTERVAL_MS on one that is down or changing state (HAProxy's downinter and fastinter): the
# `fall`/`rise` counts stay those of an ELB target group, but once the first check after a change
# has run, the remaining checks that confirm it follow within tenths of a second. Every check is a request
# to the Rails app (about 3 ms of its CPU): at 1 s an idle 3-host fleet costs puma 1% of a core, at 0.25 s
# it cost 4% and a registered batch came back 0.4 s sooner. ELB's shortest interval is 5 s.
CHECK_INTERVAL_MS = 1000
TRANSITION_INTERVAL_MS = 100
FALL = 2
RISE = 2
# Check results HAProxy reports for a check that did not pass (see "show stat", check_status).
FAILED_CHECKS = ("L4CON", "L4TOUT", "L6RSP", "L6TOUT", "L7RSP", "L7TOUT", "L7STS", "SOCKERR")

CONFIG = """\
# Written by releaseflow's local rehearsal; one backend server per host, in maint until registered.
global
    log stdout format raw local0
    stats socket {socket} mode 600 level admin
    pidfile {pidfile}

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    # A host being restarted or drained refuses connections for a moment: retry the request on
    # another server so that a rolling deploy fails no request, as an ALB with several targets does.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend lb
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
    balance roundrobin
    option httpchk GET /up
    http-check expect status 200
{servers}
"""
SERVER = (
    "    server {name} 127.0.0.1:{port} check inter {inter}ms fastinter {transition}ms "
    "downinter {transition}ms fall {fall} rise {rise} disabled"
)


class LoadBalancerError(ReleaseflowError):
    """HAProxy is not running, or a target is not one of its servers."""


class LoadBalancer:
    """HAProxy for one rehearsal fleet; everything it needs is found again from the state directory."""

    def __init__(self, state_dir: Path | str):
        self.dir = Path(state_dir) / "haproxy"
        self.config = self.dir / "haproxy.cfg"
        self.socket = self.dir / "haproxy.sock"
        self.pidfile = self.dir / "haproxy.pid"
        self.info = self.dir / "lb.json"
        self.targets = self.dir / "targets"
        self.log = Path(state_dir) / "logs" / "haproxy.log"

    def start(self, servers: Mapping[str, int], port: int) -> str:
        """Write the configuration for `servers` (instance id -> port) and run HAProxy; returns lb_url."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.targets.mkdir(exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            SERVER.format(
                name=name,
                port=p,
                inter=CHECK_INTERVAL_MS,
                transition=TRANSITION_INTERVAL_MS,
                fall=FALL,
                rise=RISE,
            )
            for name, p in servers.items()
        ]
        self.config.write_text(
            CONFIG.format(
                socket=self.socket,
                pidfile=self.pidfile,
                port=port,
                backend=BACKEND,
                servers="\n".join(lines),
            )
        )
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(self.config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise LoadBalancerError(f"haproxy rejected {self.config}: {check.stderr.strip()}")
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        self.info.write_text(json.dumps({"url": url, "pid": process.pid, "servers": dict(servers)}))
        _wait_for(self.socket.exists, timeout=10, what=f"haproxy's admin socket {self.socket}")
        return url

    @property
    def url(self) -> str:
        return self._info()["url"]

    @property
    def pid(self) -> int:
        return self._info()["pid"]

    def stop(self) -> None:
        """Stop HAProxy if it runs; safe to call twice or after a crash."""
        if not self.info.exists():
            return
        pid = self.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        _wait_for(lambda: not alive(pid), timeout=10, what=f"haproxy (pid {pid}) to stop")
        self.socket.unlink(missing_ok=True)

    def register(self, instance_id: str) -> None:
        """Put the server in service: HAProxy's health checks decide when it gets traffic.

        As in ELB, registering a target that is registered and not draining changes nothing: the
        failure path of a deploy registers the whole fleet again, and must not take healthy hosts out.

        A target still draining is registered at once only when its deregistration has completed: ELB
        completes it as soon as the target has no in-flight request and no connection, though the state
        shows draining until the delay ends. While the drained server still has a session, the call is
        dropped (the reading least favourable to RegisterBatch: AWS documents only that an IP target must
        wait for the delay): it drains on, then is unused, and must be registered again.
        """
        self._require(instance_id)
        record = self._read_target(instance_id)
        if "registered_at" in record:
            return
        if time.time() < record.get("draining_until", 0) and int(self._stat(instance_id)["scur"] or 0) > 0:
            return
        self._write_target(instance_id, {"registered_at": time.time()})
        self._command(f"set server {BACKEND}/{instance_id} state ready")
        # Leaving maint, HAProxy trusts the server at once; ELB first waits for `rise` healthy checks.
        # Its next check keeps the steady schedule (up to CHECK_INTERVAL_MS away); the others follow
        # every TRANSITION_INTERVAL_MS, so healthy comes (rise - 1) transition intervals after it at best.
        self._command(f"set server {BACKEND}/{instance_id} health down")

    def deregister(self, instance_id: str, delay_seconds: float) -> None:
        """Stop new requests to the server now, and take it out entirely after the deregistration delay."""
        self._require(instance_id)
        deadline = time.time() + delay_seconds
        self._write_target(instance_id, {"draining_until": deadline})
        self._command(f"set server {BACKEND}/{instance_id} state drain")
        # The endpoint process lives on, so a timer ends the drain on time; target_state also ends it
        # when it finds the deadline passed, for a LoadBalancer made afresh in another process.
        timer = threading.Timer(delay_seconds, self._end_drain, args=(instance_id, deadline))
        timer.daemon = True
        timer.start()

    def target_state(self, instance_id: str) -> tuple[str, str, str]:
        """(State, Reason, Description) as ELBv2's DescribeTargetHealth reports them."""
        self._require(instance_id)
        record = self._read_target(instance_id)
        if "draining_until" in record:
            if time.time() < record["draining_until"]:
                return ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
            self._end_drain(instance_id, record["draining_until"])
            record = {}
        if "registered_at" not in record:
            return ("unused", "Target.NotRegistered", "Target is not registered to the target group")
        stat = self._stat(instance_id)
        if stat["status"].startswith("UP"):
            return ("healthy", "", "")
        settling = time.time() - record["registered_at"] < FALL * CHECK_INTERVAL_MS / 1000
        if settling or not stat["check_status"].startswith(FAILED_CHECKS):
            return ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
        return ("unhealthy", "Target.FailedHealthChecks", f"Health checks failed ({stat['check_status']})")

    def _end_drain(self, instance_id: str, deadline: float) -> None:
        # Only the drain that set this deadline may end it: a later register() or deregister() wins.
        if self._read_target(instance_id).get("draining_until") == deadline:
            self._command(f"set server {BACKEND}/{instance_id} state maint")
            (self.targets / instance_id).unlink(missing_ok=True)

    def _stat(self, instance_id: str) -> dict[str, str]:
        rows = csv.DictReader(self._command("show stat").lstrip("# ").splitlines())
        for row in rows:
            if row["pxname"] == BACKEND and row["svname"] == instance_id:
                return row
        raise LoadBalancerError(f"haproxy has no server {instance_id}")

    def _require(self, instance_id: str) -> None:
        if instance_id not in self._info()["servers"]:
            raise LoadBalancerError(f"{instance_id} is not a host of this rehearsal fleet")

    def _info(self) -> dict:
        if not self.info.exists():
            raise LoadBalancerError(f"the rehearsal load balancer is not running (no {self.info})")
        return json.loads(self.info.read_text())

    def _read_target(self, instance_id: str) -> dict:
        path = self.targets / instance_id
        return json.loads(path.read_text()) if path.exists() else {}

    def _write_target(self, instance_id: str, record: dict) -> None:
        path = self.targets / instance_id
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(path)

    def _command(self, command: str) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(self.socket))
                sock.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as error:
            raise LoadBalancerError(f"haproxy's admin socket {self.socket}: {error}") from error
        answer = b"".join(chunks).decode()
        if answer.strip() and not command.startswith("show"):
            raise LoadBalancerError(f"haproxy refused `{command}`: {answer.strip()}")
        return answer


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise LoadBalancerError(f"timed out waiting for {what}")
        time.sleep(0.05)
