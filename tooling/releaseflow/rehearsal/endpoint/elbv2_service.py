"""ELBv2 target registration for the rehearsal: moto keeps the records, the local load balancer acts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from moto.elbv2.models import FakeTargetGroup

ACTIONS = ("RegisterTargets", "DeregisterTargets", "DescribeTargetHealth")
_NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"


class LoadBalancer(Protocol):
    """What the endpoint needs of `releaseflow.rehearsal.harness.haproxy.LoadBalancer`."""

    def register(self, instance_id: str) -> None: ...

    def deregister(self, instance_id: str, delay_seconds: int) -> None: ...

    def target_state(self, instance_id: str) -> tuple[str, str | None, str | None]: ...


class Elbv2Service:
    """Mirrors moto's target registrations onto the local load balancer and reports its health."""

    def __init__(
        self,
        load_balancer: Callable[[], LoadBalancer],
        target_group: Callable[[str], FakeTargetGroup],
        instance_states: Callable[[], dict[str, str]] = dict,
    ):
        self._load_balancer = load_balancer
        self._target_group = target_group
        self._instance_states = instance_states

    def after_moto(self, form: dict[str, str]) -> None:
        """Apply a Register/DeregisterTargets call that moto has just accepted."""
        group = self._target_group(form["TargetGroupArn"])
        balancer = self._load_balancer()
        for target in form_targets(form):
            if form["Action"] == "RegisterTargets":
                balancer.register(target["Id"])
            else:
                delay = int(group.attributes["deregistration_delay.timeout_seconds"])
                balancer.deregister(target["Id"], delay)

    def registered_only(self, form: dict[str, str]) -> dict[str, str]:
        """A DeregisterTargets form without the targets that are not registered.

        ELB answers success and does nothing for those (moto raises InvalidTarget instead), so a
        runbook that drains an already drained host, after a crash for instance, carries on.
        """
        group = self._target_group(form["TargetGroupArn"])
        if group is None:
            return form  # moto answers TargetGroupNotFound
        kept = {key: value for key, value in form.items() if not key.startswith("Targets.member.")}
        registered = [target for target in form_targets(form) if target["Id"] in group.targets]
        for index, target in enumerate(registered, start=1):
            kept.update({f"Targets.member.{index}.{key}": value for key, value in target.items()})
        return kept

    def describe_target_health(self, form: dict[str, str]) -> str | None:
        """DescribeTargetHealth as XML, or None when the target group is unknown (moto answers that)."""
        group = self._target_group(form["TargetGroupArn"])
        if group is None:
            return None
        targets = form_targets(form) or [
            {"Id": target["Id"], "Port": str(target["Port"])}
            for target in [*group.targets.values(), *group.deregistered_targets.values()]
        ]
        balancer = self._load_balancer()
        instance_states = self._instance_states()
        members = []
        for target in targets:
            state, reason, description = balancer.target_state(target["Id"])
            instance_state = instance_states.get(target["Id"], "running")
            if target["Id"] in group.targets and instance_state not in ("running", "pending"):
                # As ELB: a registered instance that is not running is unused, not unhealthy.
                state, reason = "unused", "Target.InvalidState"
                description = f"Target is in the {instance_state} state"
            elif target["Id"] not in group.targets and state != "draining":
                state, reason = "unused", "Target.NotRegistered"
                description = "Target is not registered to the target group"
            if not form.get("Targets.member.1.Id") and reason == "Target.NotRegistered":
                continue
            port = target.get("Port") or str(group.port)
            members.append(
                _member(target["Id"], port, str(group.health_check_port or port), state, reason, description)
            )
        return (
            f'<DescribeTargetHealthResponse xmlns="{_NAMESPACE}"><DescribeTargetHealthResult>'
            f"<TargetHealthDescriptions>{''.join(members)}</TargetHealthDescriptions>"
            "</DescribeTargetHealthResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</DescribeTargetHealthResponse>"
        )


def nothing_deregistered() -> str:
    """DeregisterTargets' answer when none of its targets was registered."""
    return (
        f'<DeregisterTargetsResponse xmlns="{_NAMESPACE}"><DeregisterTargetsResult/>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</DeregisterTargetsResponse>"
    )


def form_targets(form: dict[str, str]) -> list[dict[str, str]]:
    """`Targets.member.N.Id/Port` of a query-protocol form, in order."""
    targets = []
    index = 1
    while f"Targets.member.{index}.Id" in form:
        target = {"Id": form[f"Targets.member.{index}.Id"]}
        if port := form.get(f"Targets.member.{index}.Port"):
            target["Port"] = port
        targets.append(target)
        index += 1
    return targets


def _member(instance_id: str, port: str, health_port: str, state: str, reason, description) -> str:
    health = f"<State>{escape(state)}</State>"
    if reason:
        health += f"<Reason>{escape(reason)}</Reason>"
    if description:
        health += f"<Description>{escape(description)}</Description>"
    if health_port == "traffic-port":
        health_port = port
    return (
        f"<member><Target><Id>{escape(instance_id)}</Id><Port>{escape(port)}</Port></Target>"
        f"<HealthCheckPort>{escape(health_port)}</HealthCheckPort>"
        f"<TargetHealth>{health}</TargetHealth></member>"
    )
