"""Fixtures for the Automation engine's tests: a fake clock and a runner with a fake AWS."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine_helpers import FakeAws, FakeClock
from releaseflow.rehearsal.engine.automation import AutomationRun, validate_parameters


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def execute(clock):
    """Run a runbook to its end and return the AutomationRun."""

    def run(content: dict, parameters: dict | None = None, aws: Callable | None = None, **options):
        typed = validate_parameters(content, parameters or {})
        settings = {
            "aws": aws or FakeAws(),
            "script_env": {},
            "clock": clock,
            "sleep": clock.sleep,
            "globals": {"ACCOUNT_ID": "111122223333", "REGION": "eu-west-1", "AWS_PARTITION": "aws"},
        }
        automation = AutomationRun("exec-1", "Runbook", "1", content, typed, **(settings | options))
        automation.run()
        return automation

    return run
