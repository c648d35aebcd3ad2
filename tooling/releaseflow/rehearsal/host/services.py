"""The `systemctl` stand-in on a rehearsal host: runs the units in that host's etc/systemd/system."""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# systemd's defaults when a unit does not say otherwise.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_STOP_TIMEOUT = 90.0
# systemctl's exit codes (LSB): unit not active, unit not found.
EXIT_INACTIVE = 3
EXIT_NOT_FOUND = 5
EXIT_STATUS_UNKNOWN = 4

STANDIN = """\
#!/bin/sh
# releaseflow rehearsal: systemctl for host {instance_id}, reading {host_root}/etc/systemd/system.
exec {python} -m releaseflow.rehearsal.host.services --host-root {host_root} "$@"
"""


@dataclass(frozen=True)
class Unit:
    """The parts of a systemd service unit the stand-in honours."""

    name: str
    exec_start: tuple[str, ...]
    exec_reload: tuple[str, ...] = ()
    user: str = ""
    working_directory: str = ""
    environment: tuple[tuple[str, str], ...] = ()
    environment_files: tuple[str, ...] = ()
    stop_timeout: float = DEFAULT_STOP_TIMEOUT


class UnitNotFound(Exception):
    """No such unit file on this host."""


def parse_unit(name: str, text: str) -> Unit:
    """Read the [Service] section of a unit file."""
    fields: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line:
            key, value = line.split("=", 1)
            fields.setdefault(key.strip(), []).append(value.strip())

    def last(key: str, default: str = "") -> str:
        return fields.get(key, [default])[-1]

    assignments = (
        item.partition("=") for value in fields.get("Environment", []) for item in shlex.split(value)
    )
    # systemd ignores an assignment without "=".
    environment = tuple((name, text) for name, equals, text in assignments if equals)
    return Unit(
        name=name,
        exec_start=tuple(shlex.split(last("ExecStart"))),
        exec_reload=tuple(shlex.split(last("ExecReload"))),
        user=last("User"),
        working_directory=last("WorkingDirectory"),
        environment=environment,
        environment_files=tuple(fields.get("EnvironmentFile", [])),
        stop_timeout=float(last("TimeoutStopSec", str(DEFAULT_STOP_TIMEOUT)).rstrip("s")),
    )


def parse_environment_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd reads them: comments and blank lines skipped, one quote level removed."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for the process to end; True if it did."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def terminate_group(pid: int, timeout: float) -> None:
    """TERM the process group led by `pid`, then KILL it if it outlives `timeout`, as systemd's stop does."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if not wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_gone(pid, 5)


class Host:
    """One rehearsal host's units and the processes the stand-in started for them."""

    def __init__(self, host_root: Path | str):
        self.root = Path(host_root)
        self.instance_id = self.root.name
        self.units = self.root / "etc" / "systemd" / "system"
        self.run_dir = self.root / "run"
        self.logs = self.root.parent.parent / "logs"

    def unit(self, name: str) -> Unit:
        path = self.units / _unit_file(name)
        if not path.is_file():
            raise UnitNotFound(f"Unit {_unit_file(name)} not found.")
        return parse_unit(path.stem, path.read_text())

    def pid(self, unit: Unit) -> int | None:
        path = self.run_dir / f"{unit.name}.pid"
        return int(path.read_text()) if path.exists() else None

    def state(self, unit: Unit) -> str:
        """active, inactive, or failed (the process it started has gone without a stop)."""
        pid = self.pid(unit)
        if pid is None:
            return "inactive"
        return "active" if alive(pid) else "failed"

    def start(self, unit: Unit) -> None:
        """Start the unit unless it is active; like Type=simple, return once the process is spawned."""
        if self.state(unit) == "active":
            return
        # Not parents: a host whose folder is gone (its fleet taken down) is not brought back to life.
        self.run_dir.mkdir(exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        cwd = unit.working_directory or "/"
        commit = _head(cwd)
        with (self.logs / f"{self.instance_id}-{unit.name}.log").open("ab") as log:
            process = subprocess.Popen(
                unit.exec_start,
                cwd=cwd,
                env=self._environment(unit),
                user=unit.user or None,
                group=pwd.getpwnam(unit.user).pw_gid if unit.user else None,
                extra_groups=[] if unit.user else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.run_dir / f"{unit.name}.pid").write_text(f"{process.pid}\n")
        (self.run_dir / f"{unit.name}.commit").write_text(f"{commit}\n")

    def stop(self, unit: Unit) -> None:
        pid = self.pid(unit)
        if pid is not None:
            terminate_group(pid, unit.stop_timeout)
            (self.run_dir / f"{unit.name}.pid").unlink(missing_ok=True)

    def reload(self, unit: Unit) -> int:
        pid = self.pid(unit)
        if self.state(unit) != "active" or pid is None:
            print(f"{unit.name}.service is not active, cannot reload.", file=sys.stderr)
            return 1
        if not unit.exec_reload:
            print(
                f"Failed to reload {unit.name}.service: Job type reload is not applicable "
                f"for unit {unit.name}.service.",
                file=sys.stderr,
            )
            return 1
        command = [part.replace("$MAINPID", str(pid)) for part in unit.exec_reload]
        return subprocess.run(command, env=self._environment(unit), check=False).returncode

    def _environment(self, unit: Unit) -> dict[str, str]:
        # systemd starts services with a clean environment, not the caller's.
        env = {"PATH": DEFAULT_PATH, "LANG": os.environ.get("LANG", "C.UTF-8")}
        if unit.user:
            entry = pwd.getpwnam(unit.user)
            env |= {"USER": unit.user, "LOGNAME": unit.user, "HOME": entry.pw_dir, "SHELL": entry.pw_shell}
        env |= dict(unit.environment)
        for name in unit.environment_files:
            optional = name.startswith("-")
            path = Path(name.lstrip("-"))
            if path.is_file():
                env |= parse_environment_file(path.read_text())
            elif not optional:
                raise FileNotFoundError(f"environment file {path} of {unit.name}.service not found")
        return env


def _unit_file(name: str) -> str:
    return name if name.endswith(".service") else f"{name}.service"


def _head(directory: str) -> str:
    # Read as root from a checkout the app user owns: trust it for this one read-only command.
    result = subprocess.run(
        ["git", "-c", f"safe.directory={directory}", "-C", directory, "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def install(host_root: Path, python: str = sys.executable) -> Path:
    """Write the host's bin/systemctl stand-in; returns its path."""
    path = host_root / "bin" / "systemctl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STANDIN.format(instance_id=host_root.name, host_root=host_root, python=python))
    path.chmod(0o755)
    return path


VERBS = ("start", "stop", "restart", "reload", "status", "is-active", "kill", "show")
# The verbs systemd runs as jobs of its own, which outlive the systemctl that asked for them.
JOB_VERBS = ("start", "stop", "restart")
JOB_PREFIX = "job-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="systemctl", description="releaseflow rehearsal systemctl stand-in")
    parser.add_argument("--host-root", required=True, type=Path)
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("verb")
    parser.add_argument("units", nargs="*")
    # `kill`: the signal (TSTP or SIGTSTP), and to whom (main: the unit's main process; all: its group).
    parser.add_argument("-s", "--signal", default="TERM")
    # systemd 252's name; --kill-who, the older one the documents use, is a prefix argparse takes too.
    parser.add_argument("--kill-whom", choices=("main", "all"), default="all")
    # `show`: the properties asked (MainPID, ActiveState), and whether to print values alone.
    parser.add_argument("-p", "--property", action="append", default=[])
    parser.add_argument("--value", action="store_true")
    # Options may follow the verb, as systemctl takes them (`kill --signal=TSTP sidekiq`).
    args = parser.parse_intermixed_args(argv)
    if args.verb not in VERBS:
        print(f"Unknown command verb {args.verb}.", file=sys.stderr)
        return 1
    if not args.units:
        print(f"Too few arguments: {args.verb} needs a unit name.", file=sys.stderr)
        return 1
    host = Host(args.host_root)
    if args.verb in JOB_VERBS and not args.job:
        return max(_as_job(host, args.verb, name) for name in args.units)
    if args.verb == "kill":
        return max(_kill(host, name, args.signal, args.kill_whom) for name in args.units)
    if args.verb == "show":
        return max(_show(host, name, args.property, args.value) for name in args.units)
    return max(_act(host, args.verb, name) for name in args.units)


def _kill(host: Host, name: str, signal_name: str, whom: str) -> int:
    """systemctl kill: the signal to the unit's main process, or to all its processes (its group)."""
    try:
        unit = host.unit(name)
        number = signal.Signals[f"SIG{signal_name.upper().removeprefix('SIG')}"]
    except (UnitNotFound, KeyError) as error:
        print(f"Failed to kill unit {_unit_file(name)}: {error}", file=sys.stderr)
        return 1
    pid = host.pid(unit)
    if pid is None or host.state(unit) != "active":
        # systemd signals nothing when the unit has no process, and says nothing.
        return 0
    with contextlib.suppress(ProcessLookupError):
        if whom == "main":
            os.kill(pid, number)
        else:
            os.killpg(pid, number)
    return 0


def _show(host: Host, name: str, properties: list[str], value_only: bool) -> int:
    """systemctl show -p MainPID,ActiveState [--value]: an unknown unit shows MainPID 0, inactive."""
    try:
        unit = host.unit(name)
        state = host.state(unit)
        pid = host.pid(unit) if state == "active" else None
    except UnitNotFound:
        state, pid = "inactive", None
    known = {"MainPID": str(pid or 0), "ActiveState": state}
    wanted = [p for item in properties for p in item.split(",")] or list(known)
    for prop in wanted:
        if prop in known:
            print(known[prop] if value_only else f"{prop}={known[prop]}")
    return 0


def _as_job(host: Host, verb: str, name: str) -> int:
    """Start, stop or restart `name` in a process of its own session and wait for it, as systemctl hands
    the job to systemd and waits: a caller killed meanwhile (a plugin past its timeout, a cancel) leaves
    the job to finish, and the unit is not left stopped half-way through a restart."""
    jobs = host.run_dir / "jobs"
    host.run_dir.mkdir(exist_ok=True)
    jobs.mkdir(exist_ok=True)
    errors = jobs / f"{os.getpid()}-{name}.err"
    with errors.open("wb") as sink:
        job = subprocess.Popen(
            [sys.executable, "-m", __spec__.name, "--host-root", str(host.root), "--job", verb, name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    # Recorded beside the units' pid files, so taking the host down ends a job still under way too.
    recorded = job_pid_file(host.run_dir, job.pid)
    recorded.write_text(f"{job.pid}\n")
    code = job.wait()
    recorded.unlink(missing_ok=True)
    sys.stderr.write(errors.read_text(errors="replace"))
    errors.unlink(missing_ok=True)
    return code


def job_pid_file(run_dir: Path, pid: int) -> Path:
    """Where a running job's pid is kept (`local down` stops these before the units)."""
    return run_dir / f"{JOB_PREFIX}{pid}.pid"


def _act(host: Host, verb: str, name: str) -> int:
    try:
        unit = host.unit(name)
    except UnitNotFound as error:
        if verb == "is-active":
            print("inactive")
            return EXIT_INACTIVE
        if verb == "status":
            print(f"Unit {_unit_file(name)} could not be found.", file=sys.stderr)
            return EXIT_STATUS_UNKNOWN
        print(f"Failed to {verb} {_unit_file(name)}: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if verb == "is-active":
        state = host.state(unit)
        print(state)
        return 0 if state == "active" else EXIT_INACTIVE
    if verb == "status":
        state = host.state(unit)
        pid = host.pid(unit)
        print(f"* {unit.name}.service\n     Active: {state}" + (f"\n   Main PID: {pid}" if pid else ""))
        return 0 if state == "active" else EXIT_INACTIVE
    if verb == "reload":
        return host.reload(unit)
    if verb in ("stop", "restart"):
        host.stop(unit)
    if verb in ("start", "restart"):
        try:
            host.start(unit)
        except OSError as error:
            print(f"Job for {unit.name}.service failed: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
