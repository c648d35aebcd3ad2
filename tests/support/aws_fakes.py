"""Fake AWS clients for the runbook scripts' handlers, and the fake clock they and the engine's tests take."""

from __future__ import annotations

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/50dc6c495c0c9188"


class FakeClock:
    """Time that passes only when the code under test sleeps, every sleep recorded: `time` for a runbook
    script's handler (monotonic, sleep), or a clock function (calling it) for the engine's tests."""

    def __init__(self, start: float = 0.0):
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    __call__ = monotonic
    # Wall-clock time (a runbook script's `time.time()`), the same fake seconds.
    time = monotonic

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Paginator:
    """botocore's paginator over a fake method: follows NextToken."""

    def __init__(self, method):
        self.method = method

    def paginate(self, **request):
        while True:
            page = self.method(**request)
            yield page
            if not page.get("NextToken"):
                return
            request = {**request, "NextToken": page["NextToken"]}


class FakeClient:
    """A client whose get_paginator pages through its own methods; calls are recorded."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def get_paginator(self, name):
        return Paginator(getattr(self, name))

    def note(self, name, request):
        self.calls.append((name, request))


def online(*hosts: str) -> list[dict]:
    """DescribeInstanceInformation's list with these hosts Online."""
    return [{"InstanceId": host, "PingStatus": "Online"} for host in hosts]


class FakeAgents(FakeClient):
    """DescribeInstanceInformation by InstanceIds, one host a page (so every page must be read)."""

    def __init__(self, online_hosts):
        super().__init__()
        self.online = set(online_hosts)

    def describe_instance_information(self, Filters, NextToken=None):
        self.note("describe_instance_information", {"Filters": Filters, "NextToken": NextToken})
        [only] = Filters
        assert only["Key"] == "InstanceIds" and len(only["Values"]) <= 50
        known = [h for h in only["Values"] if h in self.online]
        index = int(NextToken or 0)
        page = online(*known[index : index + 1])
        more = {"NextToken": str(index + 1)} if index + 1 < len(known) else {}
        return {"InstanceInformationList": page, **more}


class FakeElb(FakeClient):
    """A target group: deregistered targets drain after one look; RegisterTargets refuses stopped ones.

    With `drops_draining`, RegisterTargets of a target still draining is accepted and does nothing (the
    reading of docs/aws-semantics.md least favourable to RegisterBatch): the target drains on, then is unused.
    """

    def __init__(self, registered, stopped=(), delay=300, drops_draining=False):
        super().__init__()
        self.state = {h: "healthy" for h in registered}
        self.stopped = set(stopped)
        self.delay = delay
        self.drops_draining = drops_draining

    def describe_target_group_attributes(self, TargetGroupArn):
        self.note("describe_target_group_attributes", {"TargetGroupArn": TargetGroupArn})
        keys = {"deregistration_delay.timeout_seconds": str(self.delay), "stickiness.enabled": "false"}
        return {"Attributes": [{"Key": key, "Value": value} for key, value in keys.items()]}

    def deregister_targets(self, TargetGroupArn, Targets):
        self.note("deregister_targets", {"Targets": Targets})
        for target in Targets:
            self.state[target["Id"]] = "draining"

    def register_targets(self, TargetGroupArn, Targets):
        self.note("register_targets", {"Targets": Targets})
        if any(t["Id"] in self.stopped for t in Targets):
            raise RuntimeError("InvalidTarget: The following targets are not in a running state")
        for target in Targets:
            if not (self.drops_draining and self.state.get(target["Id"]) == "draining"):
                self.state[target["Id"]] = "initial"

    def describe_target_health(self, TargetGroupArn, Targets):
        self.note("describe_target_health", {"Targets": Targets})
        found = [{"Target": t, "TargetHealth": self._health(t["Id"])} for t in Targets]
        # The next look finds drains done and registrations healthy.
        for host, state in self.state.items():
            self.state[host] = {"draining": "unused", "initial": "healthy"}.get(state, state)
        return {"TargetHealthDescriptions": found}

    def _health(self, host):
        state = self.state.get(host, "unused")
        return {"State": state, "Reason": "Target.NotRegistered"} if state == "unused" else {"State": state}


class FakeExecutions(FakeClient):
    """DescribeAutomationExecutions / GetAutomationExecution over a table of executions.

    `executions`: id -> (runbook name, start time or None while pending, parameters); `ended` ids are
    not listed as running but can still be read. The listing honours both filters, as SSM does.
    """

    def __init__(self, executions, ended=()):
        super().__init__()
        self.executions = executions
        self.ended = set(ended)

    def describe_automation_executions(self, Filters, NextToken=None):
        self.note("describe_automation_executions", {"Filters": Filters})
        given = {f["Key"]: f["Values"] for f in Filters}
        [prefix] = given["DocumentNamePrefix"]
        assert {"Pending", "InProgress", "Waiting", "Cancelling"} <= set(given["ExecutionStatus"])
        rows = [
            {
                "AutomationExecutionId": i,
                "DocumentName": d,
                **({"ExecutionStartTime": s} if s is not None else {}),
            }
            for i, (d, s, _) in self.executions.items()
            if d.startswith(prefix) and i not in self.ended
        ]
        return {"AutomationExecutionMetadataList": rows}

    def get_automation_execution(self, AutomationExecutionId):
        self.note("get_automation_execution", {"AutomationExecutionId": AutomationExecutionId})
        document, start, parameters = self.executions[AutomationExecutionId]
        execution = {"AutomationExecutionId": AutomationExecutionId, "DocumentName": document}
        return {"AutomationExecution": {**execution, "ExecutionStartTime": start, "Parameters": parameters}}
