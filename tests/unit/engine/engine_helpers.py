"""Helpers for the Automation engine's tests: a fake clock, a scripted fake AWS, runbook builders."""

from __future__ import annotations

from collections.abc import Callable

import aws_fakes
from releaseflow.rehearsal.engine.automation import AutomationRun, AwsCallError


class FakeClock(aws_fakes.FakeClock):
    """Time that passes only when the engine sleeps, from an epoch time (the engine's timestamps read it)."""

    def __init__(self, start: float = 1_800_000_000.0):
        super().__init__(start)


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


class FakeFleet(FakeAws):
    """EC2 instances and SSM Run Command, faked: each command takes two polls to finish.

    `fail` maps (document name, instance id) to the status that command ends with on that instance.
    """

    def __init__(self, instances: dict[str, dict[str, str]], fail: dict[tuple[str, str], str] | None = None):
        super().__init__()
        self.instances = instances  # instance id -> tags
        self.fail = dict(fail or {})
        self.commands: dict[str, dict] = {}
        self.handlers.update(
            {
                ("ec2", "DescribeInstances"): self.describe_instances,
                ("ssm", "DescribeInstanceInformation"): self.describe_instance_information,
                ("ssm", "SendCommand"): self.send_command,
                ("ssm", "ListCommands"): self.list_commands,
                ("ssm", "ListCommandInvocations"): self.list_command_invocations,
                ("ssm", "CancelCommand"): self.cancel_command,
            }
        )

    def sent(self) -> list[tuple[str, list[str]]]:
        """(DocumentName, InstanceIds) of every SendCommand, in order."""
        return [
            (params["DocumentName"], params["InstanceIds"])
            for _, api, params in self.calls
            if api == "SendCommand"
        ]

    def describe_instances(self, params: dict) -> dict:
        instances = [
            {
                "InstanceId": instance_id,
                "State": {"Name": "running"},
                "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
            }
            for instance_id, tags in self.instances.items()
        ]
        return {"Reservations": [{"Instances": [instance]} for instance in instances]}

    def describe_instance_information(self, params: dict) -> dict:
        return {
            "InstanceInformationList": [
                {"InstanceId": instance_id, "PingStatus": "Online"} for instance_id in self.instances
            ]
        }

    def send_command(self, params: dict) -> dict:
        command_id = f"cmd-{len(self.commands) + 1}"
        self.commands[command_id] = {"params": params, "polls": 0, "cancelled": False}
        return {"Command": {"CommandId": command_id, "Status": "Pending"}}

    def _instance_status(self, command_id: str, instance_id: str) -> str:
        command = self.commands[command_id]
        if command["cancelled"]:
            return "Cancelled"
        if command["polls"] < 2:
            return "InProgress"
        return self.fail.get((command["params"]["DocumentName"], instance_id), "Success")

    def list_commands(self, params: dict) -> dict:
        command = self.commands[params["CommandId"]]
        command["polls"] += 1
        statuses = [self._instance_status(params["CommandId"], i) for i in command["params"]["InstanceIds"]]
        status = next(
            (s for s in ("InProgress", "Cancelled", "Failed", "TimedOut") if s in statuses), "Success"
        )
        return {"Commands": [{"CommandId": params["CommandId"], "Status": status}]}

    def list_command_invocations(self, params: dict) -> dict:
        command = self.commands[params["CommandId"]]
        invocations = []
        for instance_id in command["params"]["InstanceIds"]:
            status = self._instance_status(params["CommandId"], instance_id)
            code = 0 if status == "Success" else 1
            invocations.append(
                {
                    "InstanceId": instance_id,
                    "Status": status,
                    "CommandPlugins": [
                        {
                            "Name": "run",
                            "Status": status,
                            "ResponseCode": code,
                            "Output": f"{command['params']['DocumentName']} on {instance_id}",
                        }
                    ],
                }
            )
        return {"CommandInvocations": invocations}

    def cancel_command(self, params: dict) -> dict:
        self.commands[params["CommandId"]]["cancelled"] = True
        return {}


def cancelling_run(
    content: dict, after_seconds: float, readings: dict[str, str] | None = None
) -> AutomationRun:
    """A run (under `readings`) whose fake sleep cancels it once `after_seconds` have passed."""
    clock = FakeClock()
    start = clock.now
    holder: dict[str, AutomationRun] = {}

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - start >= after_seconds:
            holder["run"].cancel()

    holder["run"] = AutomationRun(
        "exec-1",
        "Runbook",
        "1",
        content,
        {},
        aws=FakeAws(),
        script_env={},
        clock=clock,
        sleep=sleep,
        readings=readings,
    )
    return holder["run"]


class FakeChanges:
    """The endpoint's change count on the fake clock: its state changes once, at `at` (fake seconds)."""

    def __init__(self, clock, at: float):
        self.clock, self.at = clock, at

    def seen(self) -> int:
        return int(self.clock() >= self.at)

    def wait_past(self, seen: int, timeout: float) -> bool:
        if self.seen() != seen:
            return True
        if self.clock() + timeout >= self.at:
            self.clock.sleep(self.at - self.clock())
            return True
        self.clock.sleep(timeout)
        return False
