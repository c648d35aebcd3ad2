"""Helpers for the Automation engine's tests: a fake clock, a scripted fake AWS, runbook builders."""

from __future__ import annotations

from collections.abc import Callable

from releaseflow.engine.automation import AutomationRun, AwsCallError


class FakeClock:
    """Time that passes only when the engine sleeps, so waits and timeouts run instantly."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeAws:
    """Answers aws(service, api, params) from handlers keyed by (service, api), recording every call."""

    def __init__(self, handlers: dict[tuple[str, str], Callable[[dict], dict]] | None = None):
        self.handlers = dict(handlers or {})
        self.calls: list[tuple[str, str, dict]] = []

    def __call__(self, service: str, api: str, params: dict) -> dict:
        self.calls.append((service, api, params))
        handler = self.handlers.get((service, api))
        if handler is None:
            raise AwsCallError("InvalidAction", f"{service}.{api} is not faked")
        return handler(params)

    def apis(self) -> list[str]:
        return [api for _, api, _ in self.calls]


def runbook(*steps: dict, parameters: dict | None = None, outputs: list | None = None) -> dict:
    """A schemaVersion 0.3 runbook with these mainSteps."""
    content = {"schemaVersion": "0.3", "parameters": parameters or {}, "mainSteps": list(steps)}
    if outputs is not None:
        content["outputs"] = outputs
    return content


def statuses(automation: AutomationRun) -> list[tuple[str, str]]:
    """(StepName, StepStatus) of every step execution, in order."""
    return [(step["StepName"], step["StepStatus"]) for step in automation.step_executions()]
