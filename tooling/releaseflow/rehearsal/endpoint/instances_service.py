"""Managed-instance state: agent heartbeats, DescribeInstanceInformation and target resolution."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from releaseflow.rehearsal.endpoint.awsjson import ApiError, compact, epoch, filter_values, page
from releaseflow.rehearsal.endpoint.foreign import FOREIGN_TAG
from releaseflow.rehearsal.endpoint.moto_state import Ec2Instance

AGENT_VERSION = "3.3.0.0-releaseflow"
# The SSM agent reports its health every 5 minutes, so AWS's PingStatus lags the agent by up to that;
# the rehearsal keeps the mechanism with a short interval (`local up --ping-interval`).
AWS_PING_INTERVAL = 300.0
PING_INTERVAL = 1.0
# DescribeInstanceInformation's MaxResults range (botocore's model: min 5, max 50).
MAX_RESULTS = (5, 50)
_FILTER_KEYS = ("InstanceIds", "PingStatus", "PlatformTypes", "ResourceType", "tag-key", "tag:")


class InstancesService:
    """Which moto EC2 instances have an agent, and whether it still answers."""

    def __init__(
        self,
        ec2_instances: Callable[[], list[Ec2Instance]],
        offline_after: float,
        clock: Callable[[], float] = time.time,
        ping_interval: float = PING_INTERVAL,
    ):
        self._ec2_instances = ec2_instances
        self._offline_after = offline_after
        self._clock = clock
        self._ping_interval = ping_interval
        self._lock = threading.Lock()
        self._first_ping: dict[str, float] = {}
        self._last_ping: dict[str, float] = {}
        self._waiting: dict[str, int] = {}
        # PingStatus as SSM last refreshed it, and when: it changes only once per ping interval.
        self._reported: dict[str, tuple[str, float]] = {}
        self._sessions: dict[str, str] = {}

    def heartbeat(self, instance_id: str) -> None:
        """Record that the agent of `instance_id` is talking to the endpoint now."""
        now = self._clock()
        with self._lock:
            self._first_ping.setdefault(instance_id, now)
            self._last_ping[instance_id] = now

    @contextmanager
    def connected(self, instance_id: str) -> Iterator[None]:
        """An agent's long poll: it counts as online for as long as the poll is open."""
        self.heartbeat(instance_id)
        with self._lock:
            self._waiting[instance_id] = self._waiting.get(instance_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting[instance_id] -= 1
            self.heartbeat(instance_id)

    def session(self, instance_id: str, session: str | None) -> str | None:
        """Record the agent process polling for `instance_id`; return the one before when it changed."""
        if session is None:
            return None
        with self._lock:
            before = self._sessions.get(instance_id)
            self._sessions[instance_id] = session
        return before if before not in (None, session) else None

    def ping_status(self, instance_id: str) -> str:
        """Online or ConnectionLost as SSM reports it: refreshed at most once per ping interval."""
        now = self._clock()
        with self._lock:
            reported = self._reported.get(instance_id)
        if reported is not None and now - reported[1] < self._ping_interval:
            return reported[0]
        status = "Online" if self.online(instance_id) else "ConnectionLost"
        with self._lock:
            self._reported[instance_id] = (status, now)
        return status

    def online(self, instance_id: str) -> bool:
        """True while the agent polls or its last poll is younger than the offline threshold."""
        with self._lock:
            last = self._last_ping.get(instance_id)
            waiting = self._waiting.get(instance_id, 0) > 0
        return waiting or (last is not None and self._clock() - last < self._offline_after)

    def managed(self) -> list[Ec2Instance]:
        """The EC2 instances whose agent has polled at least once (SSM's managed nodes).

        Stopped and terminated instances are left out, as DescribeInstanceInformation's reference says.
        """
        instances = self._ec2_instances()
        for instance in instances:
            if FOREIGN_TAG in instance.tags and instance.state == "running":
                self.heartbeat(instance.instance_id)
        with self._lock:
            known = set(self._last_ping)
        return [
            instance
            for instance in instances
            if instance.instance_id in known and instance.state not in ("stopped", "terminated")
        ]

    def resolve_targets(self, instance_ids: list[str] | None, targets: list[dict] | None) -> list[str]:
        """SendCommand's InstanceIds or Targets (tag:Key, tag-key, InstanceIds) as managed instance ids."""
        managed = {instance.instance_id: instance for instance in self.managed()}
        if instance_ids:
            if len(set(instance_ids)) != len(instance_ids):
                raise ApiError("DuplicateInstanceId", "Instance ids must be unique.")
            unknown = [instance_id for instance_id in instance_ids if instance_id not in managed]
            if unknown:
                raise ApiError("InvalidInstanceId", f"Instances {unknown} not in a valid state for account.")
            return list(instance_ids)
        if not targets:
            raise ApiError("ValidationException", "Specify InstanceIds or Targets.")
        selected = list(managed.values())
        for target in targets:
            selected = [instance for instance in selected if _matches(instance, target)]
        return [instance.instance_id for instance in selected]

    def describe(self, request: dict) -> dict:
        """DescribeInstanceInformation over the managed instances."""
        filters = filter_values(request.get("Filters"), _FILTER_KEYS, "InvalidFilterKey")
        for key, values in filter_values(
            request.get("InstanceInformationFilterList"), _FILTER_KEYS, "InvalidFilterKey"
        ).items():
            filters.setdefault(key, []).extend(values)
        size = request.get("MaxResults")
        if size is not None and not MAX_RESULTS[0] <= int(size) <= MAX_RESULTS[1]:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
                f"Member must have value between {MAX_RESULTS[0]} and {MAX_RESULTS[1]}",
            )
        # As AWS: a page of MaxResults managed nodes is cut first and filtered after, so a page can
        # hold fewer than MaxResults matches, or none and a NextToken (docs/aws-semantics.md). Node
        # ids are the exception: "If you specify one or more node IDs, the operation returns
        # information for those managed nodes", so they choose the nodes before the page is cut.
        nodes = self.managed()
        if "InstanceIds" in filters:
            self._refuse_invalid_ids(filters["InstanceIds"])
            nodes = [node for node in nodes if node.instance_id in filters["InstanceIds"]]
        shown, token = page(nodes, request)
        rows = [self._information(instance) for instance in shown]
        rows = [row for row in rows if _selected(row, filters)]
        return compact({"InstanceInformationList": [row["info"] for row in rows], "NextToken": token})

    def _refuse_invalid_ids(self, instance_ids: list[str]) -> None:
        """InvalidInstanceId for the whole call when an id is not an instance in a valid state.

        AWS's InvalidInstanceId: valid states are Running, Pending, Stopped and Stopping (a stopped
        node is only left out of the answer); a terminated or shutting-down instance, or an id EC2
        does not know, fails the call. (A running instance whose agent has not registered yet is
        only left out: the error's other causes are not documented per operation.)
        """
        states = {instance.instance_id: instance.state for instance in self._ec2_instances()}
        invalid = [i for i in instance_ids if states.get(i, "terminated") in ("terminated", "shutting-down")]
        if invalid:
            raise ApiError("InvalidInstanceId", f"Instances {invalid} not in a valid state for account.")

    def _information(self, instance: Ec2Instance) -> dict:
        with self._lock:
            first = self._first_ping[instance.instance_id]
            last = self._last_ping[instance.instance_id]
        status = self.ping_status(instance.instance_id)
        info = {
            "InstanceId": instance.instance_id,
            "PingStatus": status,
            "LastPingDateTime": epoch(last),
            "AgentVersion": AGENT_VERSION,
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": "Debian",
            "PlatformVersion": "12",
            "ResourceType": "EC2Instance",
            "IPAddress": "127.0.0.1",
            "ComputerName": instance.instance_id,
            "RegistrationDate": epoch(first),
            "SourceId": instance.instance_id,
            "SourceType": "AWS::EC2::Instance",
        }
        return {"info": info, "tags": instance.tags}


def _matches(instance: Ec2Instance, target: dict) -> bool:
    key, values = target.get("Key", ""), target.get("Values", [])
    if key == "InstanceIds":
        return instance.instance_id in values
    if key.startswith("tag:"):
        return instance.tags.get(key[4:]) in values
    if key == "tag-key":
        return any(value in instance.tags for value in values)
    raise ApiError("InvalidTarget", f"The rehearsal endpoint cannot resolve targets by {key}.")


def _selected(row: dict, filters: dict[str, list[str]]) -> bool:
    info = row["info"]
    checks = {
        "InstanceIds": info["InstanceId"],
        "PingStatus": info["PingStatus"],
        "PlatformTypes": info["PlatformType"],
        "ResourceType": info["ResourceType"],
    }
    for key, values in filters.items():
        if key == "tag-key":
            if not any(value in row["tags"] for value in values):
                return False
        elif key.startswith("tag:"):
            if row["tags"].get(key[4:]) not in values:
                return False
        elif checks[key] not in values:
            return False
    return True
