"""`releaseflow probe`: ask an AWS account (or the rehearsal) which reading of each open behaviour holds.

For each row of releaseflow.readings it publishes a small runbook under a prefix, runs it, and
reads the outcome from the execution's steps. Everything it created is deleted at the end, also when
it is interrupted, unless `keep`. I/O goes through the `ssm` client it is given.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from releaseflow.errors import ReleaseflowError
from releaseflow.readings import OPEN_READINGS, PROVEN
from releaseflow.ssm import EXECUTION_TERMINAL as TERMINAL

DEFAULT_PREFIX = "releaseflow-probe-"


class ProbeError(ReleaseflowError):
    """A probe could not run to an answer (AWS refused a call, an execution did not end)."""


@dataclass(frozen=True)
class Observation:
    """What one probe found: the reading observed ("" when it could not tell) and why."""

    name: str
    reading: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.reading in PROVEN[self.name]


@dataclass
class ProbeReport:
    """Every observation, in the order of the readings table."""

    observations: list[Observation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(observation.ok for observation in self.observations)

    def readings(self) -> dict[str, str]:
        """What `local up --aws-readings FILE` accepts: the readings observed."""
        return {o.name: o.reading for o in self.observations if o.reading}

    def table(self) -> str:
        rows = [("BEHAVIOUR", "OBSERVED", "RUNBOOKS NEED", "RESULT")]
        for o in self.observations:
            rows.append(
                (o.name, o.reading or "unknown", " or ".join(PROVEN[o.name]), "ok" if o.ok else "MISMATCH")
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        notes = [f"{o.name}: {o.detail}" for o in self.observations if o.detail]
        return "\n".join([*lines, "", *notes]).rstrip()


class Probe:
    """Runs the probes against one account and cleans up after them."""

    def __init__(
        self,
        ssm,
        prefix: str = DEFAULT_PREFIX,
        instance_id: str | None = None,
        keep: bool = False,
        timeout: float = 300,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._ssm = ssm
        self._prefix = f"{prefix}{uuid.uuid4().hex[:8]}-"
        self._instance_id = instance_id
        self._keep = keep
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self.created: list[str] = []

    def run(self) -> ProbeReport:
        """Every probe, in the table's order; the documents it created are deleted whatever happens."""
        probes = {
            "loop_nested_continue": self._loop_nested_continue,
            "loop_nested_jump": self._loop_nested_jump,
            "loop_nested_cancel_jump": self._loop_nested_cancel_jump,
            "wait_multiple_values": self._wait_multiple_values,
            "failed_run_command_outputs": self._failed_run_command_outputs,
            "output_selector_no_match": self._output_selector_no_match,
            "script_output_over_limit": self._script_output_over_limit,
            "run_command_document_version": self._run_command_document_version,
        }
        report = ProbeReport()
        try:
            for name in OPEN_READINGS:
                reading, detail = probes[name]()
                report.observations.append(Observation(name, reading, detail))
        finally:
            if not self._keep:
                self.cleanup()
        return report

    def cleanup(self) -> None:
        for name in reversed(self.created):
            try:
                self._ssm.delete_document(Name=name)
            except ClientError as error:
                if error.response["Error"]["Code"] != "InvalidDocument":
                    raise ProbeError(f"could not delete probe document {name}: {error}") from error
        self.created.clear()

    # --- the probes ----------------------------------------------------------------------------

    def _loop_nested_continue(self) -> tuple[str, str]:
        steps = [
            self._failing_call("try", onFailure="Continue", isCritical=False),
            _noop("after"),
        ]
        ran = self._step_names(self._execute("continue", [_loop("each", steps)]))
        if "after" in ran:
            return "next-nested-step", ""
        return "fail-loop", ""

    def _loop_nested_jump(self) -> tuple[str, str]:
        steps = [_noop("first", nextStep="third"), _noop("second"), _noop("third")]
        try:
            execution = self._execute("jump", [_loop("each", steps)])
        except _Refused as refused:
            return "refused", f"runbook refused at creation: {refused}"
        ran = self._step_names(execution)
        if "third" in ran and "second" not in ran:
            return "jump", ""
        if "third" not in ran:
            return "refused", ""
        return "", f"unexpected steps {sorted(ran)}"

    def _loop_nested_cancel_jump(self) -> tuple[str, str]:
        wait = {
            "name": "wait",
            "action": "aws:sleep",
            "inputs": {"Duration": "PT10M"},
            "onCancel": "step:after",
        }
        steps = [_loop("each", [wait]), _noop("done", isEnd=True), _noop("after", isEnd=True)]
        # CurrentStepName may name the loop or its nested step while the sleep runs.
        execution = self._execute("cancel", steps, cancel_at=("each", "wait"))
        ran = self._step_names(execution)
        if "after" in ran:
            return "jump", ""
        if execution["AutomationExecutionStatus"] == "Cancelled":
            return "ignored", ""
        return "", f"unexpected steps {sorted(ran)} ({execution['AutomationExecutionStatus']})"

    def _wait_multiple_values(self) -> tuple[str, str]:
        # DescribeDocument of a probe Command document with parameters Alpha then Beta: the selector
        # matches two values, the first of them Alpha.
        target = self._create("values", _command_document(["true"], parameters=("Alpha", "Beta")), "Command")

        def check(name: str, desired: str) -> dict:
            return {
                "name": name,
                "action": "aws:assertAwsResourceProperty",
                "onFailure": "Continue",
                "isCritical": False,
                "inputs": {
                    "Service": "ssm",
                    "Api": "DescribeDocument",
                    "Name": target,
                    "PropertySelector": "$.Document.Parameters[*].Name",
                    "DesiredValues": [desired],
                },
            }

        statuses = self._step_statuses(
            self._execute("wait", [check("alpha", "Alpha"), check("beta", "Beta")])
        )
        alpha, beta = statuses.get("alpha") == "Success", statuses.get("beta") == "Success"
        if alpha and beta:
            return "any", ""
        if alpha:
            return "first", ""
        if not beta:
            return "all", ""
        return "", f"unexpected step statuses {statuses}"

    def _failed_run_command_outputs(self) -> tuple[str, str]:
        if not self._instance_id:
            return "", "needs a managed instance: pass --instance-id"
        document = self._create("fail", _command_document(["exit 3"]), "Command")
        step = {
            "name": "run",
            "action": "aws:runCommand",
            "onFailure": "Continue",
            "isCritical": False,
            "inputs": {"DocumentName": document, "InstanceIds": [self._instance_id], "TimeoutSeconds": 120},
        }
        [record] = [s for s in self._execute("outputs", [step])["StepExecutions"] if s["StepName"] == "run"]
        if record["StepStatus"] == "Success":
            return "", f"the failing command succeeded on {self._instance_id}"
        return ("all", "") if (record.get("Outputs") or {}).get("CommandId") else ("none", "")

    def _output_selector_no_match(self) -> tuple[str, str]:
        target = self._create("target", _command_document(["true"]), "Command")
        step = {
            "name": "select",
            "action": "aws:executeAwsApi",
            "onFailure": "Continue",
            "isCritical": False,
            "inputs": {"Service": "ssm", "Api": "DescribeDocument", "Name": target},
            "outputs": [{"Name": "Missing", "Selector": "$.NoSuchField", "Type": "String"}],
        }
        status = self._step_statuses(self._execute("nomatch", [step])).get("select")
        return ("absent", "") if status == "Success" else ("step-fails", "")

    def _script_output_over_limit(self) -> tuple[str, str]:
        # A handler returning 101 items: past "a maximum of 100 items", is the list cut or the step failed?
        step = {
            "name": "script",
            "action": "aws:executeScript",
            "onFailure": "Continue",
            "isCritical": False,
            "inputs": {
                "Runtime": "python3.11",
                "Handler": "handler",
                "Script": "def handler(events, context):\n    return list(range(101))\n",
            },
            "outputs": [{"Name": "Items", "Selector": "$.Payload", "Type": "StringList"}],
        }
        [record] = [s for s in self._execute("items", [step])["StepExecutions"] if s["StepName"] == "script"]
        if record["StepStatus"] != "Success":
            return "step-fails", ""
        items = (record.get("Outputs") or {}).get("Items") or []
        if len(items) <= 100:
            return "cut", ""
        return "", f"all {len(items)} items were returned"

    def _run_command_document_version(self) -> tuple[str, str]:
        document = self._create("pinned", _command_document(["true"]), "Command")
        step = {
            "name": "run",
            "action": "aws:runCommand",
            "inputs": {
                "DocumentName": document,
                "DocumentVersion": "1",
                "InstanceIds": ["i-00000000000000000"],
            },
        }
        try:
            self._create("version", _runbook([step]), "Automation")
        except _Refused as refused:
            return "refused", f"runbook refused at creation: {refused}"
        return "accepted", "a runbook with it was created (its runtime behaviour was not probed)"

    # --- helpers -------------------------------------------------------------------------------

    def _failing_call(self, name: str, **step) -> dict:
        return {
            "name": name,
            "action": "aws:executeAwsApi",
            "inputs": {"Service": "ssm", "Api": "DescribeDocument", "Name": f"{self._prefix}does-not-exist"},
            **step,
        }

    def _create(self, suffix: str, content: dict, kind: str) -> str:
        name = f"{self._prefix}{suffix}"
        try:
            self._ssm.create_document(
                Name=name, Content=json.dumps(content), DocumentType=kind, DocumentFormat="JSON"
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("InvalidDocumentContent", "InvalidDocument", "InvalidDocumentSchemaVersion"):
                raise _Refused(f"{code}: {error.response['Error'].get('Message', '')}") from error
            raise ProbeError(f"CreateDocument {name} failed: {error}") from error
        self.created.append(name)
        return name

    def _execute(self, suffix: str, steps: list[dict], cancel_at: tuple[str, ...] = ()) -> dict:
        """Run a probe runbook to its end; cancel it once the current step is one of `cancel_at`."""
        name = self._create(suffix, _runbook(steps), "Automation")
        try:
            execution_id = self._ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
        except ClientError as error:
            raise ProbeError(f"StartAutomationExecution {name} failed: {error}") from error
        deadline = self._clock() + self._timeout
        # Short probes end in well under a second on the rehearsal; on AWS they take seconds: start
        # polling quickly and back off to 2 s, so neither waits long nor calls often.
        pause = 0.05
        while True:
            execution = self._ssm.get_automation_execution(AutomationExecutionId=execution_id)[
                "AutomationExecution"
            ]
            if execution["AutomationExecutionStatus"] in TERMINAL:
                ran = self._ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)
                return {**execution, "StepExecutions": ran["StepExecutions"]}
            if execution.get("CurrentStepName") in cancel_at:
                self._ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
                cancel_at = ()
            if self._clock() > deadline:
                raise ProbeError(
                    f"probe execution {execution_id} ({name}) did not end in {self._timeout:g} s"
                )
            self._sleep(pause)
            pause = min(pause * 2, 2.0)

    @staticmethod
    def _step_names(execution: dict) -> set[str]:
        return {step["StepName"] for step in execution["StepExecutions"]}

    @staticmethod
    def _step_statuses(execution: dict) -> dict[str, str]:
        return {step["StepName"]: step["StepStatus"] for step in execution["StepExecutions"]}


class _Refused(Exception):
    """The service refused to create a probe runbook: that is itself an answer."""


def _runbook(steps: list[dict]) -> dict:
    return {
        "schemaVersion": "0.3",
        "description": "releaseflow probe: asks which reading of an open behaviour this account follows.",
        "mainSteps": steps,
    }


def _loop(name: str, steps: list[dict]) -> dict:
    return {"name": name, "action": "aws:loop", "inputs": {"Iterators": ["a", "b"], "Steps": steps}}


def _noop(name: str, **step) -> dict:
    return {"name": name, "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, **step}


def _command_document(lines: list[str], parameters: tuple[str, ...] = ()) -> dict:
    return {
        "schemaVersion": "2.2",
        "description": "releaseflow probe",
        "parameters": {name: {"type": "String", "default": name} for name in parameters},
        "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": lines}}],
    }
