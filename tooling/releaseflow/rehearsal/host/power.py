"""EC2 StopInstances/StartInstances on a rehearsal host: its agent and its services go down and come back."""

from __future__ import annotations

import logging
from pathlib import Path

from releaseflow.rehearsal.harness import provision
from releaseflow.rehearsal.harness.fleet import stop_recorded

log = logging.getLogger("releaseflow.endpoint.power")
AGENT_MARKER = "releaseflow.rehearsal.host.agent"


def host_root(state_dir: Path, instance_id: str) -> Path | None:
    """The host directory of a fleet instance; None for instances no host stands behind."""
    root = state_dir / "hosts" / instance_id
    return root if (root / "app").is_dir() else None


def power_off(root: Path) -> None:
    """What a shutdown does to the host: the agent stops, then every service the stand-in started."""
    stop_recorded(root / "agent.pid", AGENT_MARKER)
    for pid_file in sorted((root / "run").glob("*.pid")):
        stop_recorded(pid_file, "")
    log.info("%s: powered off", root.name)


def power_on(root: Path, endpoint_url: str, logs: Path) -> None:
    """What a boot does: puma starts (its unit is enabled), then the agent, which polls the endpoint again."""
    provision.start_service(root)
    pid = provision.start_agent(root, endpoint_url, logs / f"agent-{root.name}.log")
    (root / "agent.pid").write_text(f"{pid}\n")
    log.info("%s: powered on (agent %d)", root.name, pid)
