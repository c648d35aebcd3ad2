"""The `systemctl` stand-in a rehearsal host's commands call: systemd's semantics for simple units."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from releaseflow.rehearsal.host.services import alive, install, parse_environment_file, parse_unit

UNIT = """\
[Unit]
Description=test service

[Service]
Type=simple
User=nobody
WorkingDirectory={app}
EnvironmentFile={app}/.env
Environment=FROM_UNIT=yes
ExecStart=/bin/sh -c 'echo "$GREETING $FROM_UNIT $(id -un) $(pwd) $HOME"; exec sleep 60'
TimeoutStopSec=5
"""
STUBBORN = """\
[Service]
ExecStart=/bin/sh -c 'trap "" TERM; sleep 60'
TimeoutStopSec=1
"""


def test_parse_unit_reads_the_service_section():
    """ExecStart is split like a shell word list; User, WorkingDirectory, env files and timeout are kept."""
    unit = parse_unit("puma", UNIT.format(app="/srv/app"))
    assert unit.exec_start[:2] == ("/bin/sh", "-c")
    assert unit.user == "nobody"
    assert unit.working_directory == "/srv/app"
    assert unit.environment_files == ("/srv/app/.env",)
    assert unit.environment == (("FROM_UNIT", "yes"),)
    assert unit.stop_timeout == 5.0


def test_environment_file_skips_comments_and_strips_one_quote_level():
    """An EnvironmentFile's comments and blank lines are skipped, quoted values unquoted."""
    text = '# comment\n\nRAILS_ENV=production\nSECRET="a b"\nEMPTY=\n'
    assert parse_environment_file(text) == {"RAILS_ENV": "production", "SECRET": "a b", "EMPTY": ""}


@pytest.fixture
def host():
    """A host root any user can traverse, with an app checkout (a git repo) and a unit for it."""
    if shutil.which("git") is None:
        pytest.fail("git is not installed: run `make system-packages` (as root)")
    state = Path(tempfile.mkdtemp(prefix="rf-services-"))
    state.chmod(0o755)
    root = state / "hosts" / "i-0123"
    app = root / "app"
    app.mkdir(parents=True)
    (app / ".env").write_text("GREETING=hello\n")
    _git(app, "init", "-q")
    _git(app, "commit", "-q", "--allow-empty", "-m", "one")
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "web.service").write_text(UNIT.format(app=app))
    (units / "stubborn.service").write_text(STUBBORN)
    systemctl = install(root)
    yield root, app, systemctl
    for name in ("web", "stubborn"):
        subprocess.run([systemctl, "stop", name], check=False)
    shutil.rmtree(state)


def _git(app: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(app), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def _systemctl(systemctl: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(systemctl), *args], capture_output=True, text=True, check=False)


def _pid(root: Path, unit: str) -> int:
    return int((root / "run" / f"{unit}.pid").read_text())


@pytest.mark.rehearsal
def test_start_runs_exec_start_as_the_user_in_its_directory_and_records_the_commit(host):
    """start runs ExecStart as User in WorkingDirectory with the env file, logs, and records pid and commit."""
    root, app, systemctl = host
    assert _systemctl(systemctl, "start", "web").returncode == 0
    pid = _pid(root, "web")
    assert alive(pid)
    assert (root / "run" / "web.commit").read_text().strip() == _git(app, "rev-parse", "HEAD")
    log = root.parent.parent / "logs" / "i-0123-web.log"
    deadline = time.monotonic() + 5
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().split() == ["hello", "yes", "nobody", str(app), "/nonexistent"]
    active = _systemctl(systemctl, "is-active", "web")
    assert (active.returncode, active.stdout) == (0, "active\n")


@pytest.mark.rehearsal
def test_start_of_an_active_unit_keeps_the_running_process(host):
    """Starting an active unit is a no-op, as with systemd."""
    root, _, systemctl = host
    _systemctl(systemctl, "start", "web")
    pid = _pid(root, "web")
    _systemctl(systemctl, "start", "web")
    assert _pid(root, "web") == pid


@pytest.mark.rehearsal
def test_restart_replaces_the_process_and_records_the_new_commit(host):
    """restart stops the old process group and starts from the commit now checked out."""
    root, app, systemctl = host
    _systemctl(systemctl, "start", "web")
    old = _pid(root, "web")
    _git(app, "commit", "-q", "--allow-empty", "-m", "two")
    assert _systemctl(systemctl, "restart", "web").returncode == 0
    assert not alive(old)
    assert alive(_pid(root, "web"))
    assert (root / "run" / "web.commit").read_text().strip() == _git(app, "rev-parse", "HEAD")


@pytest.mark.rehearsal
def test_stop_ends_the_process_and_is_active_says_inactive(host):
    """stop ends the process and removes the pid file; is-active then prints inactive and exits 3."""
    root, _, systemctl = host
    _systemctl(systemctl, "start", "web")
    pid = _pid(root, "web")
    assert _systemctl(systemctl, "stop", "web").returncode == 0
    assert not alive(pid)
    assert not (root / "run" / "web.pid").exists()
    active = _systemctl(systemctl, "is-active", "web")
    assert (active.returncode, active.stdout) == (3, "inactive\n")
    assert _systemctl(systemctl, "stop", "web").returncode == 0


@pytest.mark.rehearsal
def test_stop_kills_a_process_group_that_ignores_term_after_the_timeout(host):
    """A service ignoring SIGTERM is killed after TimeoutStopSec, its whole process group with it."""
    root, _, systemctl = host
    _systemctl(systemctl, "start", "stubborn")
    pid = _pid(root, "stubborn")
    time.sleep(0.2)
    started = time.monotonic()
    assert _systemctl(systemctl, "stop", "stubborn").returncode == 0
    assert 0.9 < time.monotonic() - started < 5
    assert not alive(pid)
    members = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True, check=False)
    assert [member for member in members.stdout.split() if alive(int(member))] == []


@pytest.mark.rehearsal
def test_a_restart_whose_caller_is_killed_still_finishes(host):
    """systemctl hands the restart to a job of its own, as systemd does: killing the caller's process
    group mid-restart (a plugin past its timeout) leaves the unit started again, not stopped."""
    root, _, systemctl = host
    _systemctl(systemctl, "start", "stubborn")
    old = _pid(root, "stubborn")
    time.sleep(0.2)
    caller = subprocess.Popen([str(systemctl), "restart", "stubborn"], start_new_session=True)
    time.sleep(0.5)  # inside the 1 s the stubborn unit takes to stop
    os.killpg(caller.pid, signal.SIGKILL)
    caller.wait()
    deadline = time.monotonic() + 10
    while (not (root / "run" / "stubborn.pid").exists() or _pid(root, "stubborn") == old) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert not alive(old)
    assert alive(_pid(root, "stubborn"))


@pytest.mark.rehearsal
def test_a_dead_service_is_failed_not_active(host):
    """A service whose process died without stop is reported failed (exit 3), and start revives it."""
    root, _, systemctl = host
    _systemctl(systemctl, "start", "web")
    os.killpg(_pid(root, "web"), signal.SIGKILL)
    time.sleep(0.2)
    active = _systemctl(systemctl, "is-active", "web")
    assert (active.returncode, active.stdout) == (3, "failed\n")
    _systemctl(systemctl, "start", "web")
    assert alive(_pid(root, "web"))


@pytest.mark.rehearsal
def test_unknown_unit_fails_with_systemds_message_and_exit_5(host):
    """Acting on a unit the host does not have exits 5 with systemd's 'Unit ... not found.'."""
    _, _, systemctl = host
    result = _systemctl(systemctl, "restart", "nginx")
    assert result.returncode == 5
    assert result.stderr == "Failed to restart nginx.service: Unit nginx.service not found.\n"
    reload = _systemctl(systemctl, "reload", "nginx.service")
    assert (reload.returncode, reload.stderr) == (
        5,
        "Failed to reload nginx.service: Unit nginx.service not found.\n",
    )


@pytest.mark.rehearsal
def test_reload_without_exec_reload_is_refused_like_systemd(host):
    """reload of a unit without ExecReload fails with systemd's 'not applicable' message."""
    _, _, systemctl = host
    _systemctl(systemctl, "start", "web")
    result = _systemctl(systemctl, "reload", "web")
    assert result.returncode == 1
    assert "Job type reload is not applicable for unit web.service" in result.stderr


@pytest.mark.rehearsal
def test_kill_signals_the_main_process_and_show_gives_its_pid(host):
    """Issue 19: `kill --kill-who=main --signal=TSTP` (what the documents send; systemd 252 also names it --kill-whom) sends the signal to the unit's main process only (a
    worker's quiet), the unit stays active; `show --property=MainPID --value` names that process, 0 once
    stopped; an unknown signal is refused."""
    root, _, systemctl = host
    (root / "etc" / "systemd" / "system" / "worker.service").write_text(
        "[Service]\nExecStart=/bin/sh -c 'trap \"echo quiet\" TSTP; while :; do sleep 0.1; done'\n"
    )
    try:
        _systemctl(systemctl, "start", "worker")
        pid = _pid(root, "worker")
        shown = _systemctl(systemctl, "show", "--property=MainPID", "--value", "worker")
        assert shown.stdout == f"{pid}\n"
        time.sleep(0.3)  # the shell has set its trap
        assert _systemctl(systemctl, "kill", "--kill-who=main", "--signal=TSTP", "worker").returncode == 0
        log = root.parent.parent / "logs" / "i-0123-worker.log"
        deadline = time.monotonic() + 5
        while "quiet" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "quiet" in log.read_text()
        assert _systemctl(systemctl, "is-active", "worker").stdout == "active\n" and alive(pid)
        assert _systemctl(systemctl, "kill", "--signal=NOPE", "worker").returncode == 1
    finally:
        _systemctl(systemctl, "stop", "worker")
    shown = _systemctl(systemctl, "show", "-p", "MainPID,ActiveState", "worker")
    assert shown.stdout == "MainPID=0\nActiveState=inactive\n"
