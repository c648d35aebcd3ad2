"""devtools/cpu_by_test.py: process accounting joined to the tests' timeline, by module."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from devtools import cpu_by_test
from devtools.cpu_by_test import Process, Window, attribute, read_timeline, render

WORKER_A, WORKER_B = 100, 200
WINDOWS = [
    Window(WORKER_A, "tests/e2e/test_one.py::test_first", 10.0, 20.0),
    Window(WORKER_A, "tests/e2e/test_one.py::test_second", 20.0, 30.0),
    Window(WORKER_B, "tests/unit/test_two.py::test_only", 10.0, 40.0),
]


def test_a_process_goes_to_the_module_its_worker_ran_when_it_started():
    """Descendants at any depth count for the worker's test of that moment; the workers' own CPU apart."""
    processes = [
        Process("python", 50.0, WORKER_A, 1, 0.0),
        Process("python", 4.0, 101, WORKER_A, 12.0),  # an endpoint
        Process("ruby", 2.5, 102, 101, 25.0),  # a grandchild, in the second test
        Process("shellcheck", 1.0, 201, WORKER_B, 35.0),
    ]
    report = attribute(processes, WINDOWS)
    assert report.by_module == {"tests/e2e/test_one.py": 6.5, "tests/unit/test_two.py": 1.0}
    assert report.by_module_and_name["tests/e2e/test_one.py"] == {"python": 4.0, "ruby": 2.5}
    assert report.workers == 50.0


def test_detached_processes_and_starts_between_tests_are_reported_apart():
    processes = [
        Process("puma", 3.0, 300, 1, 15.0),  # daemonised: its parent is not a worker's descendant
        Process("git", 0.5, 103, WORKER_A, 35.0),  # after the worker's last test
    ]
    report = attribute(processes, WINDOWS)
    assert report.detached == {"puma": 3.0}
    assert report.by_module == {"(between tests)": 0.5}
    assert "detached processes 3 (puma 3)" in render(report)


def test_the_plugin_writes_one_window_per_test_it_runs(tmp_path, monkeypatch):
    """Around each test it runs (pytest_runtest_protocol: in the worker, never in xdist's controller), the
    plugin appends the test's window, which read_timeline reads back."""
    timeline = tmp_path / "timeline.tsv"
    monkeypatch.setenv(cpu_by_test.TIMELINE, str(timeline))
    for nodeid in ("tests/unit/test_x.py::test_y", "tests/unit/test_x.py::test_z"):
        wrapper = cpu_by_test.pytest_runtest_protocol(SimpleNamespace(nodeid=nodeid), None)
        next(wrapper)
        with pytest.raises(StopIteration):
            next(wrapper)
    windows = read_timeline(str(timeline))
    assert [window.nodeid for window in windows] == [
        "tests/unit/test_x.py::test_y",
        "tests/unit/test_x.py::test_z",
    ]
    assert all(window.worker == os.getpid() and window.start <= window.end for window in windows)
