"""Where a test run's CPU goes, by test module: process accounting joined to a timeline of the tests.

The suite is CPU-bound on 2 cores (docs/benchmarks.md, The test budget), so what a module costs is the
CPU of every process it starts: fleets, endpoints, agents, Ruby, the CLI. pytest's durations cannot show
that (a module waiting on a real clock costs wall time, not CPU). As root, with the `acct` package:

    touch /tmp/pacct && accton /tmp/pacct
    PYTHONPATH=. RELEASEFLOW_TIMELINE=/tmp/timeline.tsv .venv/bin/pytest -p devtools.cpu_by_test -n 4 ...
    accton off
    python -m devtools.cpu_by_test /tmp/pacct /tmp/timeline.tsv

As a pytest plugin it writes one line per test: worker pid, node id, start, end (epoch seconds). The
report gives each process to the xdist worker it descends from and to the test that worker ran when the
process started. Processes that left their parents (puma, daemonised by the `systemctl` stand-in) are
reported apart, by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pytest

TIMELINE = "RELEASEFLOW_TIMELINE"
# A process starting this close to a test's window belongs to it (accounting keeps whole seconds).
SLACK_SECONDS = 1.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Where the test runs (an xdist worker, not the controller that only hears of it): its window."""
    started = time.time()
    yield
    path = os.environ.get(TIMELINE)
    if path:
        with open(path, "a", encoding="utf-8") as timeline:
            timeline.write(f"{os.getpid()}\t{item.nodeid}\t{started:.3f}\t{time.time():.3f}\n")


@dataclass(frozen=True)
class Process:
    """One ended process as process accounting records it."""

    name: str
    cpu: float
    pid: int
    ppid: int
    started: float


@dataclass(frozen=True)
class Window:
    """One test as a worker ran it."""

    worker: int
    nodeid: str
    start: float
    end: float


@dataclass
class Report:
    by_module: dict[str, float]
    by_module_and_name: dict[str, dict[str, float]]
    workers: float
    detached: dict[str, float]


def largest(seconds: dict[str, float], count: int) -> list[tuple[str, float]]:
    """The `count` largest entries, largest first."""
    return sorted(seconds.items(), key=lambda item: -item[1])[:count]


def attribute(processes: Iterable[Process], windows: Iterable[Window]) -> Report:
    """Each process's CPU to the module of the test its worker ran when it started."""
    processes = list(processes)
    by_pid = {process.pid: process for process in processes}
    runs: dict[int, list[Window]] = defaultdict(list)
    for window in windows:
        runs[window.worker].append(window)

    def worker_of(process: Process) -> int | None:
        pid, hops = process.ppid, 0
        while pid not in runs and pid in by_pid and hops < 64:
            pid, hops = by_pid[pid].ppid, hops + 1
        return pid if pid in runs else None

    report = Report(defaultdict(float), defaultdict(lambda: defaultdict(float)), 0.0, defaultdict(float))
    for process in processes:
        if process.pid in runs:
            report.workers += process.cpu
            continue
        worker = worker_of(process)
        if worker is None:
            report.detached[process.name] += process.cpu
            continue
        module = next(
            (
                window.nodeid.split("::")[0]
                for window in runs[worker]
                if window.start - SLACK_SECONDS <= process.started <= window.end + SLACK_SECONDS
            ),
            "(between tests)",
        )
        report.by_module[module] += process.cpu
        report.by_module_and_name[module][process.name] += process.cpu
    return report


def read_accounting(path: str) -> list[Process]:
    """`dump-acct` of an accounting file (acct's v3 records: ticks of 1/100 s, start to the second)."""
    dumped = subprocess.run(["dump-acct", path], capture_output=True, text=True, check=True).stdout
    processes = []
    for line in dumped.splitlines():
        fields = [field.strip() for field in line.split("|")]
        started = datetime.strptime(fields[14], "%a %b %d %H:%M:%S %Y").timestamp()
        cpu = (float(fields[2]) + float(fields[3])) / 100
        processes.append(Process(fields[0], cpu, int(fields[9]), int(fields[10]), started))
    return processes


def read_timeline(path: str) -> list[Window]:
    windows = []
    with open(path, encoding="utf-8") as timeline:
        for line in timeline:
            worker, nodeid, start, end = line.rstrip("\n").split("\t")
            windows.append(Window(int(worker), nodeid, float(start), float(end)))
    return windows


def render(report: Report, top: int = 30) -> str:
    total = sum(report.by_module.values()) + report.workers + sum(report.detached.values())
    lines = [
        f"CPU seconds: {total:.0f} in all; the pytest workers themselves {report.workers:.0f}; "
        f"detached processes {sum(report.detached.values()):.0f} "
        f"({', '.join(f'{name} {cpu:.0f}' for name, cpu in largest(report.detached, 4))})",
        "",
        "| CPU s | module | by process name |",
        "|---|---|---|",
    ]
    for module, cpu in largest(report.by_module, top):
        spent = largest(report.by_module_and_name[module], 4)
        names = ", ".join(f"{name} {seconds:.0f}" for name, seconds in spent)
        lines.append(f"| {cpu:.0f} | {module} | {names} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m devtools.cpu_by_test ACCOUNTING_FILE TIMELINE_FILE", file=sys.stderr)
        return 2
    print(render(attribute(read_accounting(argv[0]), read_timeline(argv[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
