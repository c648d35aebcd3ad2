"""build/bench.json and the short table `make bench` prints, from the measured figures."""

from __future__ import annotations

import operator
from collections.abc import Mapping

from bench.stats import Summary

Figure = Summary | float | int
# Each target: the comparison a figure's median must pass, and the bound.
TARGETS = {
    "runbook.steps_per_batch": ("<=", 5),
    "rehearsal.overhead_ratio": ("<=", 1.10),
    "engine.step_overhead_growth": ("<=", 5.0),
    "publish.unchanged_writes": ("==", 0),
    "trigger.detect_latency_s": ("<=", 2.0),
    "trigger.busiest_minute_calls": ("<=", 60),
    "peer.ansible_ratio": ("<", 1.0),
    # A drain no longer waits out the deregistration delay (30 s here), and drops no request.
    "rehearsal.out_of_service_30s_s": ("<", 30),
    "rehearsal.out_of_service_30s_load_s": ("<", 30),
    "rehearsal.failed_requests_30s_load": ("==", 0),
    # A host's rollback (the previous tree back, restart, health check) takes no longer than its switch.
    "rehearsal.rollback_to_switch_ratio": ("<=", 1.0),
}
_COMPARE = {"<=": operator.le, "<": operator.lt, "==": operator.eq}


def value(figure: Figure) -> float:
    """The figure's headline number: the median of its runs."""
    return figure.median if isinstance(figure, Summary) else figure


def verdicts(figures: Mapping[str, Figure]) -> dict[str, bool]:
    """Whether each measured figure that has a target meets it."""
    return {
        key: _COMPARE[op](value(figures[key]), bound)
        for key, (op, bound) in TARGETS.items()
        if key in figures
    }


def to_json(figures: Mapping[str, Figure], meta: Mapping[str, object]) -> dict:
    """Dotted keys become nested objects (`rehearsal.deploy_s` -> {"rehearsal": {"deploy_s": ...}})."""
    document: dict = {"meta": dict(meta), "targets": {}}
    for key, figure in figures.items():
        node = document
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = figure.to_dict() if isinstance(figure, Summary) else figure
    for key, met in verdicts(figures).items():
        op, bound = TARGETS[key]
        document["targets"][key] = {"target": f"{op} {bound}", "met": met}
    return document


def table(figures: Mapping[str, Figure]) -> str:
    """One line per figure: median, (min..max) of the runs, and its target when it has one."""
    met = verdicts(figures)
    width = max(len(key) for key in figures)
    lines = []
    for key, figure in figures.items():
        spread = f"({figure.min:g}..{figure.max:g})" if isinstance(figure, Summary) else ""
        target = ""
        if key in met:
            op, bound = TARGETS[key]
            target = f"target {op} {bound:g}: {'ok' if met[key] else 'MISSED'}"
        lines.append(f"{key:<{width}}  {value(figure):>10g}  {spread:<22} {target}".rstrip())
    return "\n".join(lines) + "\n"
