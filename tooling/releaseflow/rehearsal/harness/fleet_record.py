"""STATE/fleet.json: what `releaseflow local up` built, as typed records with one load and one save."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from releaseflow.errors import ReleaseflowError

FILE = "fleet.json"
# Seconds without an agent before the endpoint reports its host ConnectionLost (`local up --offline-after`).
OFFLINE_AFTER = 10.0


class RehearsalError(ReleaseflowError):
    """The local rehearsal cannot be brought up, inspected or stopped."""


@dataclass(frozen=True)
class HostRecord:
    """One rehearsal host: its instance id, puma's port, its folder (STATE/hosts/ID) and its agent's pid."""

    instance_id: str
    port: int
    root: Path
    agent_pid: int
    # web (puma, behind the load balancer) or worker (the job worker, tagged releaseflow:role=worker).
    role: str = "web"

    @property
    def app(self) -> Path:
        """The host's checkout, which the agent mounts on provision.APP_DIR."""
        return self.root / "app"


@dataclass(frozen=True)
class LoadBalancerRecord:
    """HAProxy's URL and pid, and the endpoint's target group that drives it."""

    url: str
    pid: int
    target_group_arn: str


@dataclass(frozen=True)
class FleetRecord:
    """The whole fleet as `up` recorded it; status, restart-endpoint, the demo, bench and tests read it."""

    hosts: tuple[HostRecord, ...]
    lb: LoadBalancerRecord
    endpoint_url: str
    offline_after: float = OFFLINE_AFTER
    aws_readings: dict[str, str] = field(default_factory=dict)
    foreign_instances: int = 0
    # The app's commits in the git remote, oldest first, and the one the hosts started at.
    revisions: tuple[str, ...] = ()
    start: str = ""
    db: str = "sqlite"
    database_url: str = ""

    def host(self, instance_id: str) -> HostRecord:
        for host in self.hosts:
            if host.instance_id == instance_id:
                return host
        raise RehearsalError(f"no host {instance_id} in the rehearsal fleet ({', '.join(self.instance_ids)})")

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return tuple(host.instance_id for host in self.hosts)

    @property
    def workers(self) -> tuple[str, ...]:
        """The worker hosts' instance ids."""
        return tuple(host.instance_id for host in self.hosts if host.role == "worker")

    def to_dict(self) -> dict:
        """The JSON form: the format fleet.json has always had (a host's root as a string)."""
        return {
            "hosts": [
                {
                    "instance_id": h.instance_id,
                    "port": h.port,
                    "root": str(h.root),
                    "agent_pid": h.agent_pid,
                    "role": h.role,
                }
                for h in self.hosts
            ],
            "lb": {"url": self.lb.url, "pid": self.lb.pid, "target_group_arn": self.lb.target_group_arn},
            "endpoint_url": self.endpoint_url,
            "offline_after": self.offline_after,
            "aws_readings": dict(self.aws_readings),
            "foreign_instances": self.foreign_instances,
            "revisions": list(self.revisions),
            "start": self.start,
            "db": self.db,
            "database_url": self.database_url,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = FILE) -> FleetRecord:
        try:
            lb = data["lb"]
            return cls(
                hosts=tuple(
                    HostRecord(
                        h["instance_id"],
                        int(h["port"]),
                        Path(h["root"]),
                        int(h["agent_pid"]),
                        h.get("role", "web"),
                    )
                    for h in data["hosts"]
                ),
                lb=LoadBalancerRecord(lb["url"], int(lb["pid"]), lb["target_group_arn"]),
                endpoint_url=data["endpoint_url"],
                # A fleet.json written before --offline-after existed had the endpoint's default.
                offline_after=float(data.get("offline_after", OFFLINE_AFTER)),
                aws_readings=dict(data.get("aws_readings") or {}),
                foreign_instances=int(data.get("foreign_instances", 0)),
                revisions=tuple(data.get("revisions", ())),
                start=data.get("start", ""),
                db=data.get("db", "sqlite"),
                database_url=data.get("database_url", ""),
            )
        except (KeyError, TypeError, ValueError) as error:
            message = f"{where} is not a rehearsal fleet record ({error!r}): run `local down`, `local up`"
            raise RehearsalError(message) from error

    def save(self, state_dir: Path) -> None:
        (state_dir / FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> FleetRecord:
        path = state_dir / FILE
        if not path.exists():
            raise RehearsalError(f"no rehearsal runs here ({path} is missing): run `releaseflow local up`")
        return cls.from_dict(json.loads(path.read_text()), str(path))


def recorded(state_dir: Path) -> bool:
    """Whether `up` has recorded a fleet in `state_dir` (and `down` has not removed it)."""
    return (state_dir / FILE).exists()


def forget(state_dir: Path) -> None:
    (state_dir / FILE).unlink(missing_ok=True)
