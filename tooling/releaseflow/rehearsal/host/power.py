"""EC2 StopInstances/StartInstances on a rehearsal host: its agent and its services go down and come back."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

from releaseflow.rehearsal.harness import provision
from releaseflow.rehearsal.harness.fleet import stop_recorded
from releaseflow.rehearsal.host import services

log = logging.getLogger("releaseflow.endpoint.power")
AGENT_MARKER = "releaseflow.rehearsal.host.agent"


def host_root(state_dir: Path, instance_id: str) -> Path | None:
    """The host directory of a fleet instance; None for instances no host stands behind."""
    root = state_dir / "hosts" / instance_id
    return root if (root / "app").is_dir() else None


def power_off(root: Path) -> None:
    """What a shutdown does to the host: the agent and the command it runs die unreported, then every
    service the stand-in started stops.

    AWS keeps the invocation of a command a stopped host was running In Progress until the agent is
    back or the command's total timeout passes (docs/aws-semantics.md): the agent must not report it
    (a SIGTERM would make it report Cancelled), so it is killed, and so is the command's shell, which
    runs in a session of its own and would otherwise go on changing the host.
    """
    _kill_agent_and_commands(root / "agent.pid")
    for pid_file in sorted((root / "run").glob("*.pid")):
        stop_recorded(pid_file, "")
    log.info("%s: powered off", root.name)


def _kill_agent_and_commands(pid_file: Path) -> None:
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    if services.alive(pid) and AGENT_MARKER in _cmdline(pid):
        # The agent's children are its document workers, each leading a process group of its own, and
        # theirs are the commands' shells, each leading another.
        workers = [child for child in _children(pid) if child != pid]
        shells = [shell for worker in workers for shell in _children(worker)]
        for group in (pid, *workers, *shells):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        services.wait_gone(pid, 5)
    pid_file.unlink(missing_ok=True)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc/*/stat)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def power_on(root: Path, endpoint_url: str, logs: Path) -> None:
    """What a boot does: puma starts (its unit is enabled), then the agent, which polls the endpoint again."""
    provision.start_service(root)
    pid = provision.start_agent(root, endpoint_url, logs / f"agent-{root.name}.log")
    (root / "agent.pid").write_text(f"{pid}\n")
    log.info("%s: powered on (agent %d)", root.name, pid)
