"""The shortest a deploy could take: its sequential phases' longest host command plus deliberate waits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from releaseflow.execution import Invocation, Step

SLEEP = "aws:sleep"


def critical_path_seconds(
    steps: Iterable[Step], invocations: Iterable[Invocation], waits: Mapping[str, float]
) -> float:
    """Sum over the steps that ran, one after another, of the unavoidable part of each.

    A command step costs its longest host invocation (hosts of one step run in parallel); an aws:sleep
    its own duration; a step named in `waits` (a drain) the deliberate seconds given there. The rest of
    the execution's time is releaseflow's overhead.
    """
    longest: dict[str, float] = {}
    for invocation in invocations:
        if invocation.start and invocation.end:
            seconds = (invocation.end - invocation.start).total_seconds()
            longest[invocation.command_id] = max(longest.get(invocation.command_id, 0.0), seconds)
    total = 0.0
    for step in steps:
        if step.command_id:
            total += longest.get(step.command_id, 0.0)
        elif step.action == SLEEP and step.start and step.end:
            total += (step.end - step.start).total_seconds()
        elif step.name in waits:
            total += waits[step.name]
    return total


def command_steps(steps: Iterable[Step]) -> int:
    """How many steps ran a command (the work a light-host run is made of)."""
    return sum(1 for step in steps if step.command_id)
