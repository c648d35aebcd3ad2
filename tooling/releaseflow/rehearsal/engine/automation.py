"""One Automation execution: runs a schemaVersion 0.3 runbook step by step with SSM's semantics.

Interface used by the local endpoint::

    from releaseflow.rehearsal.engine.automation import (
        AutomationRun, AwsCallError, InvalidParameters, validate_parameters)

    typed = validate_parameters(content, {"Name": ["value", ...]})   # raises InvalidParameters
    run = AutomationRun(execution_id, document_name, document_version, content, typed,
                        aws=call,               # aws("ssm", "SendCommand", {...}) -> botocore-shaped dict;
                                                # raises AwsCallError(code, message) on an API error
                        script_env={...},       # environment of aws:executeScript subprocesses
                        clock=time.time, sleep=time.sleep,
                        on_change=persist,      # called after every state change, outside the lock
                        globals={"ACCOUNT_ID": ..., "REGION": ..., "AWS_PARTITION": ...})
    run.run()                # blocks until the execution ends (call it in a thread)
    run.cancel()             # StopAutomationExecution Type=Cancel; thread-safe
    run.execution()          # GetAutomationExecution's AutomationExecution (datetimes, None fields left out)
    run.metadata()           # DescribeAutomationExecutions' AutomationExecutionMetadata
    run.step_executions()    # DescribeAutomationStepExecutions' StepExecutions; loop iterations carry
                             # ParentStepDetails {StepExecutionId, StepName, Action, Iteration,
                             # IteratorValue}
    text = run.to_json(); AutomationRun.from_json(text)  # history survives an endpoint restart; a run
                             # that had not ended is restored as Failed, saying so in FailureMessage.

Actions that the rehearsal does not run fail their step with
"aws:XYZ is not supported by the rehearsal (step 'Name')".
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from releaseflow.placeholders import Unresolved, interpolate
from releaseflow.readings import DEFAULT as DEFAULT_READINGS
from releaseflow.readings import check as check_readings
from releaseflow.rehearsal.engine.actions import ACTIONS, DEFAULT_TIMEOUTS, LATE_INPUTS
from releaseflow.rehearsal.engine.actions.loop import LoopStepFailed
from releaseflow.rehearsal.engine.context import (
    ActionContext,
    ActionResult,
    AwsCaller,
    ChangeSignal,
    NestedOutcome,
)
from releaseflow.rehearsal.engine.errors import (
    AwsCallError,
    InvalidParameters,
    StepCancelled,
    StepFailed,
    StepTimedOut,
)
from releaseflow.rehearsal.engine.jsonpath import JsonPathError, select
from releaseflow.rehearsal.engine.limits import AWS_LIMITS, Limits
from releaseflow.rehearsal.engine.parameters import validate_parameters
from releaseflow.rehearsal.engine.readings_in_force import ReadingsInForce, play
from releaseflow.rehearsal.engine.values import as_json, as_strings, to_output_type
from releaseflow.ssm import EXECUTION_TERMINAL as TERMINAL
from releaseflow.ssm import SCRIPT_LIST_ITEMS

__all__ = ["AutomationRun", "AwsCallError", "InvalidParameters", "validate_parameters"]

NO_OUTPUT = "No output available yet because the step is not successfully executed"
RESTARTED = "The rehearsal endpoint restarted while this execution was running; it was not resumed."


def _unavailable(service: str, api: str, params: dict) -> dict:
    raise AwsCallError("InternalError", "this execution was restored from saved state and cannot call AWS")


class AutomationRun:
    """The state and the interpreter of one Automation execution."""

    def __init__(
        self,
        execution_id: str,
        document_name: str,
        document_version: str,
        content: dict,
        parameters: dict[str, Any],
        aws: AwsCaller = _unavailable,
        script_env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_change: Callable[[], None] = lambda: None,
        changes: ChangeSignal | None = None,
        globals: dict[str, str] | None = None,  # the name SSM gives these variables
        executed_by: str | None = None,
        limits: Limits = AWS_LIMITS,
        readings: Mapping[str, str] | None = None,
    ):
        self.execution_id = execution_id
        self.document_name = document_name
        self.document_version = document_version
        self.content = content
        self.parameters = parameters
        self._aws = aws
        self._script_env = dict(script_env or {})
        self._clock = clock
        self._sleep = sleep
        self._on_change = on_change
        self._changes = changes
        self._globals = {"ACCOUNT_ID": "123456789012", "REGION": "us-east-1", "AWS_PARTITION": "aws"}
        self._globals.update(globals or {})
        self._executed_by = executed_by or (
            f"arn:{self._globals['AWS_PARTITION']}:iam::{self._globals['ACCOUNT_ID']}:root"
        )
        self._limits = limits
        # The endpoint passes its ReadingsInForce, so what every execution meets lands in one ledger.
        self.readings = (
            readings
            if isinstance(readings, ReadingsInForce)
            else ReadingsInForce(check_readings(readings or DEFAULT_READINGS))
        )
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        # When StopAutomationExecution came: AWS stops the cancellation workflow limits.cancel_seconds later.
        self._cancelled_at: float | None = None
        self._status = "Pending"
        self._start = self._now()
        self._end: datetime | None = None
        self._failure_message: str | None = None
        self._steps: list[dict] = []
        self._current: dict | None = None
        # The first failed critical step, wherever it ran: it fails the execution even if the flow went on.
        self._critical_failure: dict | None = None
        # Typed step outputs by step name, what `{{ Step.Output }}` reads.
        self._values: dict[str, dict[str, Any]] = {}

    # --- public API -------------------------------------------------------------------------------

    def run(self) -> None:
        """Run the runbook to its end. An engine bug marks the execution Failed and is re-raised."""
        with self._lock:
            if self._status != "Pending":
                return
            self._status = "InProgress"
        self._changed()
        try:
            self._finish(self._run_sequence(self.content.get("mainSteps") or [], parent=None))
        except _RunbookError as error:
            self._end_execution("Failed", str(error))
        except Exception as error:
            self._end_execution("Failed", f"Internal error in the rehearsal's Automation engine: {error!r}")
            raise

    def cancel(self) -> None:
        """Cancel: the running step ends Cancelled, its onCancel runs, and the execution ends Cancelled."""
        with self._lock:
            if self._status in (*TERMINAL, "Cancelling"):
                return
            self._cancel.set()
            self._cancelled_at = self._clock()
            pending = self._status == "Pending"
            if not pending:
                self._status = "Cancelling"
        if pending:
            self._end_execution("Cancelled", None)
        else:
            self._changed()

    @property
    def status(self) -> str:
        return self._status

    def execution(self) -> dict:
        """The execution as GetAutomationExecution returns it."""
        with self._lock:
            result = {
                "AutomationExecutionId": self.execution_id,
                "DocumentName": self.document_name,
                "DocumentVersion": self.document_version,
                "ExecutionStartTime": self._start,
                "ExecutionEndTime": self._end,
                "AutomationExecutionStatus": self._status,
                "StepExecutions": self.step_executions(),
                "StepExecutionsTruncated": False,
                "Parameters": {name: as_strings(value) for name, value in self.parameters.items()},
                "Outputs": self._outputs(),
                "FailureMessage": self._failure_message,
                "Mode": "Auto",
                "ExecutedBy": self._executed_by,
                "CurrentStepName": self._current["StepName"] if self._current else None,
                "CurrentAction": self._current["Action"] if self._current else None,
            }
        return {key: value for key, value in result.items() if value is not None}

    def metadata(self) -> dict:
        """The execution as DescribeAutomationExecutions lists it."""
        execution = self.execution()
        keys = (
            "AutomationExecutionId",
            "DocumentName",
            "DocumentVersion",
            "AutomationExecutionStatus",
            "ExecutionStartTime",
            "ExecutionEndTime",
            "ExecutedBy",
            "Outputs",
            "Mode",
            "CurrentStepName",
            "CurrentAction",
            "FailureMessage",
        )
        return {"LogFile": "", "AutomationType": "Local"} | {k: execution[k] for k in keys if k in execution}

    def step_executions(self) -> list[dict]:
        """Every step execution so far, in the order they started."""
        with self._lock:
            return [
                {key: value for key, value in record.items() if value is not None}
                for record in copy.deepcopy(self._steps)
            ]

    def to_json(self) -> str:
        """The execution's state as JSON, for AutomationRun.from_json."""
        with self._lock:
            state = {
                "execution_id": self.execution_id,
                "document_name": self.document_name,
                "document_version": self.document_version,
                "content": self.content,
                "parameters": self.parameters,
                "globals": self._globals,
                "executed_by": self._executed_by,
                "status": self._status,
                "start": self._start,
                "end": self._end,
                "failure_message": self._failure_message,
                "steps": self._steps,
                "values": self._values,
            }
            return json.dumps(state, default=_encode)

    @classmethod
    def from_json(cls, text: str, clock: Callable[[], float] = time.time) -> AutomationRun:
        """Restore a saved execution for reading; one that had not ended is marked Failed."""
        state = json.loads(text)
        run = cls(
            state["execution_id"],
            state["document_name"],
            state["document_version"],
            state["content"],
            state["parameters"],
            clock=clock,
            globals=state["globals"],
            executed_by=state["executed_by"],
        )
        run._status = state["status"]
        run._start = _decode(state["start"])
        run._end = _decode(state["end"])
        run._failure_message = state["failure_message"]
        run._steps = [_decode_record(record) for record in state["steps"]]
        run._values = state["values"]
        if run._status not in TERMINAL:
            for record in run._steps:
                if record["StepStatus"] not in TERMINAL:
                    record.update(StepStatus="Failed", FailureMessage=RESTARTED, ExecutionEndTime=run._now())
            run._status = "Failed"
            run._failure_message = RESTARTED
            run._end = run._now()
        return run

    # --- flow -------------------------------------------------------------------------------------

    def _run_sequence(self, steps: list, parent: dict | None) -> _Outcome:
        """Run a list of steps (mainSteps or a loop's Steps) following nextStep, isEnd and onFailure."""
        positions = {step.get("name"): index for index, step in enumerate(steps)}
        outcome = _Outcome()
        index = 0
        while index < len(steps):
            step = steps[index]
            end = self._execute_step(step, parent)
            status = end.record["StepStatus"]
            if status == "Cancelled":
                outcome.cancelled = True
                target = _jump_target(end.on_cancel)
                if target is None or self._cancel_workflow_over():
                    return outcome
                if target not in positions and parent is not None:
                    # A nested onCancel that leads out of the loop: AWS does not say whether the loop
                    # follows it (reading loop_nested_cancel_jump=jump) or, having no onCancel of its
                    # own, aborts (ignored).
                    if play(self.readings, "loop_nested_cancel_jump", self._where(step)) == "jump":
                        outcome.on_cancel = end.on_cancel
                    return outcome
                # The cancel is spent: the cancellation path runs to its end.
                self._cancel.clear()
            elif status == "Success":
                if step.get("isEnd"):
                    return outcome
                target = end.next_step or step.get("nextStep")
            else:
                if end.critical and self._critical_failure is None:
                    self._critical_failure = end.record
                nested_continue = (
                    end.on_failure == "Continue"
                    and parent is not None
                    and play(self.readings, "loop_nested_continue", self._where(step)) == "fail-loop"
                )
                if end.on_failure == "Continue" and not nested_continue:
                    if step.get("isEnd"):
                        return outcome
                    target = step.get("nextStep")
                elif end.on_failure.startswith("step:") and end.on_failure[5:] in positions:
                    target = end.on_failure[5:]
                else:
                    # Abort, or (inside a loop) a step outside it: the enclosing sequence takes it over.
                    outcome.aborted = end.record
                    outcome.on_failure = end.on_failure
                    outcome.critical = end.critical
                    return outcome
            if target is None:
                index += 1
            elif target in positions and parent is not None and self._refuses_nested_jumps(step):
                raise _RunbookError(
                    f"Step {step.get('name')} leads to step {target}, which does not exist "
                    "(reading loop_nested_jump=refused: a nested step cannot jump to another nested step)"
                )
            elif target in positions:
                index = positions[target]
            else:
                raise _RunbookError(f"Step {step.get('name')} leads to step {target}, which does not exist")
        return outcome

    def _finish(self, outcome: _Outcome) -> None:
        if outcome.cancelled:
            message = None
            if self._cancel_workflow_over():
                message = (
                    f"The cancellation workflow was stopped {self._limits.cancel_seconds:g} s after the "
                    "cancel, as AWS stops it after two minutes"
                )
            self._end_execution("Cancelled", message)
            return
        if outcome.aborted is not None and outcome.on_failure.startswith("step:"):
            name = outcome.on_failure[5:]
            raise _RunbookError(
                f"Step {outcome.aborted['StepName']} leads to step {name}, which does not exist"
            )
        # The step that ended the execution explains it best; else the first critical step that failed.
        failed = outcome.aborted or self._critical_failure
        if failed is None:
            self._end_execution("Success", None)
            return
        status = "TimedOut" if outcome.aborted is failed and failed["StepStatus"] == "TimedOut" else "Failed"
        message = (
            f"Step {failed['StepName']} ({failed['Action']}) {failed['StepStatus']}. "
            f"{failed.get('FailureMessage') or ''}"
        ).rstrip()
        self._end_execution(status, message)

    # --- one step ---------------------------------------------------------------------------------

    def _execute_step(self, step: dict, parent: dict | None) -> _StepEnd:
        """Run one step with its retries and timeout."""
        on_failure = step.get("onFailure", "Abort")
        record = {
            "StepName": step.get("name", ""),
            "Action": step.get("action", ""),
            "TimeoutSeconds": int(step["timeoutSeconds"]) if "timeoutSeconds" in step else None,
            "OnFailure": on_failure,
            "MaxAttempts": max(1, int(step.get("maxAttempts", 1))),
            "ExecutionStartTime": self._now(),
            "ExecutionEndTime": None,
            "StepStatus": "InProgress",
            "Inputs": {},
            "Outputs": None,
            "FailureMessage": None,
            "FailureDetails": None,
            "StepExecutionId": str(uuid.uuid4()),
            "OverriddenParameters": {},
            "IsEnd": bool(step.get("isEnd", False)),
            "NextStep": step.get("nextStep"),
            # SSM's default: a step is critical unless it lets the execution continue past a failure.
            "IsCritical": bool(step.get("isCritical", on_failure != "Continue")),
            "ParentStepDetails": parent,
        }
        with self._lock:
            self._steps.append(record)
            self._current = record
        self._changed()
        for attempt in range(1, record["MaxAttempts"] + 1):
            status, result, failure = self._attempt(step, record)
            if (
                status in ("Success", "Cancelled")
                or attempt == record["MaxAttempts"]
                or self._cancel.is_set()
            ):
                break
        on_cancel = step.get("onCancel", "Abort")
        if isinstance(failure, StepCancelled):
            # A cancelled nested step brings its own onCancel to the loop step.
            on_cancel = failure.on_cancel or on_cancel
            failure = None
        end = _StepEnd(
            record,
            next_step=result.next_step if result else None,
            on_failure=on_failure,
            critical=record["IsCritical"],
            on_cancel=on_cancel,
        )
        if isinstance(failure, LoopStepFailed):
            # A failing nested step brings its own onFailure and isCritical to the loop step.
            end = _StepEnd(record, None, failure.on_failure, failure.is_critical, on_cancel)
        with self._lock:
            record["StepStatus"] = status
            record["ExecutionEndTime"] = self._now()
            if failure is not None:
                record["FailureMessage"] = str(failure)
                record["FailureDetails"] = {
                    "FailureStage": "Invocation",
                    "FailureType": "Action" if status == "Failed" else "Verification",
                    "Details": getattr(failure, "details", None) or {},
                }
            self._current = None
        self._changed()
        return end

    def _attempt(self, step: dict, record: dict) -> tuple[str, ActionResult | None, Exception | None]:
        """One try of the step: its status, the action's result, and the failure when it did not succeed."""
        action_name = step.get("action", "")
        action = ACTIONS.get(action_name)
        if self._cancel.is_set() or self._cancel_workflow_over():
            return "Cancelled", None, None
        if action is None:
            return (
                "Failed",
                None,
                StepFailed(f"{action_name} is not supported by the rehearsal (step '{step.get('name')}')"),
            )
        timeout = record["TimeoutSeconds"] or DEFAULT_TIMEOUTS.get(action_name)
        ctx = ActionContext(
            step=step,
            execution_id=self.execution_id,
            aws=self._aws,
            script_env=self._script_env,
            clock=self._clock,
            sleep=self._sleep,
            cancel_event=self._cancel,
            deadline=self._clock() + timeout if timeout else None,
            interpolate=self._interpolate,
            context_variables=self._context_variables(),
            set_outputs=lambda outputs: self._set_values(step.get("name", ""), outputs, record),
            run_nested=lambda steps, iteration, value: self._run_nested(steps, record, iteration, value),
            limits=self._limits,
            readings=self.readings,
            stop_at=self._cancel_deadline(),
            document_name=self.document_name,
            changes=self._changes,
        )
        try:
            inputs = self._resolve_inputs(step)
            with self._lock:
                record["Inputs"] = {key: as_json(value) for key, value in inputs.items()}
            self._changed()
            result = action(inputs, ctx)
            if self._cancel.is_set():
                raise StepCancelled()
            self._store_outputs(step, result, record)
        except StepCancelled as cancel:
            return "Cancelled", None, cancel
        except StepTimedOut as error:
            return "TimedOut", None, StepFailed(str(error) or f"Step timed out after {timeout:g} seconds")
        except StepFailed as failure:
            if failure.outputs and self._keeps_failed_outputs(step, failure):
                self._set_values(step.get("name", ""), failure.outputs, record)
            return "Failed", None, failure
        except AwsCallError as error:
            return "Failed", None, StepFailed(f"{error.code}: {error.message}")
        return "Success", result, None

    def _resolve_inputs(self, step: dict) -> dict:
        late = LATE_INPUTS.get(step.get("action", ""), ())
        inputs = step.get("inputs") or {}
        return {key: value if key in late else self._interpolate(value) for key, value in inputs.items()}

    def _store_outputs(self, step: dict, result: Any, record: dict) -> None:
        """The action's built-in outputs plus the step's declared outputs, selected from its response."""
        typed = dict(result.outputs)
        for output in step.get("outputs") or []:
            name = output.get("Name")
            try:
                selection = select(result.response, output.get("Selector"))
            except JsonPathError as error:
                raise StepFailed(f"Output {name}: {error}") from error
            value = selection.result()
            if value is None or value == []:
                if play(self.readings, "output_selector_no_match", self._where(step)) == "step-fails":
                    raise StepFailed(
                        f"Output {name}: selector {output.get('Selector')} matched nothing "
                        "(reading output_selector_no_match=step-fails)"
                    )
                continue  # reading output_selector_no_match=absent: the output stays unset
            typed[name] = to_output_type(value, output.get("Type", "String"), name)
            if step.get("action") == "aws:executeScript" and isinstance(typed[name], list):
                typed[name] = self._listed(typed[name], name)
        self._set_values(step.get("name", ""), typed, record)
        if result.response_code is not None:
            with self._lock:
                record["ResponseCode"] = result.response_code

    def _keeps_failed_outputs(self, step: dict, failure: StepFailed) -> bool:
        """Whether a failed step keeps the outputs it reported. When an open reading decides, it is met
        only if the runbook reads them (`{{ Step.X }}`); a script reading them through the API is not
        seen here (the runbooks' scripts read a command step's Inputs only: read_deploy.py)."""
        name = failure.outputs_reading
        if name is None:
            return True
        if re.search(r"\{\{\s*" + re.escape(step.get("name", "")) + r"\.", json.dumps(self.content)):
            return play(self.readings, name, self._where(step)) == "all"
        return self.readings[name] == "all"

    def _listed(self, items: list, name: str) -> list:
        """A list output of aws:executeScript: "If you output a list, a maximum of 100 items is returned"."""
        if len(items) <= SCRIPT_LIST_ITEMS:
            return items
        where = f"{self.document_name} output {name}"
        if play(self.readings, "script_output_over_limit", where) == "step-fails":
            raise StepFailed(
                f"Output {name}: a list of {len(items)} items, over the {SCRIPT_LIST_ITEMS} "
                "aws:executeScript returns (reading script_output_over_limit=step-fails)"
            )
        return items[:SCRIPT_LIST_ITEMS]

    def _set_values(self, step_name: str, outputs: dict[str, Any], record: dict) -> None:
        with self._lock:
            self._values.setdefault(step_name, {}).update(outputs)
            record["Outputs"] = {key: as_strings(value) for key, value in self._values[step_name].items()}
        self._changed()

    def _run_nested(self, steps: list, loop_record: dict, iteration: int, value: Any) -> NestedOutcome:
        parent = {
            "StepExecutionId": loop_record["StepExecutionId"],
            "StepName": loop_record["StepName"],
            "Action": loop_record["Action"],
            "Iteration": iteration,
        }
        if value is not None:
            parent["IteratorValue"] = as_strings(value)[0]
        outcome = self._run_sequence(steps, parent)
        if outcome.cancelled:
            raise StepCancelled(outcome.on_cancel)
        if outcome.aborted is None:
            return NestedOutcome()
        return NestedOutcome(
            failed=outcome.aborted, on_failure=outcome.on_failure, is_critical=outcome.critical
        )

    def _refuses_nested_jumps(self, step: dict) -> bool:
        return play(self.readings, "loop_nested_jump", self._where(step)) == "refused"

    def _where(self, step: dict) -> str:
        """Where a reading was met, as the ledger names it."""
        return f"{self.document_name} step {step.get('name')}"

    def _cancel_deadline(self) -> float | None:
        """When the cancellation workflow must end, once a cancel has been spent on an onCancel path."""
        if self._cancelled_at is None or self._cancel.is_set():
            return None
        return self._cancelled_at + self._limits.cancel_seconds

    def _cancel_workflow_over(self) -> bool:
        deadline = self._cancel_deadline()
        return deadline is not None and self._clock() >= deadline

    # --- variables --------------------------------------------------------------------------------

    def _interpolate(self, value: Any) -> Any:
        return interpolate(value, self._lookup)

    def _lookup(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name == "automation:EXECUTION_ID":
            return self.execution_id
        if name.startswith("global:"):
            key = name[len("global:") :]
            now = datetime.fromtimestamp(self._clock(), tz=UTC)
            if key == "DATE":
                return now.strftime("%Y-%m-%d")
            if key == "DATE_TIME":
                return now.strftime("%Y-%m-%d_%H.%M.%S")
            if key in self._globals:
                return self._globals[key]
        step, _, output = name.partition(".")
        with self._lock:
            if output in self._values.get(step, {}):
                return self._values[step][output]
        raise Unresolved(name)

    def _context_variables(self) -> dict[str, str]:
        """What aws:executeScript hands its handler as `context` (our reading: the runbook's variables)."""
        variables = {f"global:{key}": value for key, value in self._globals.items()}
        variables["automation:EXECUTION_ID"] = self.execution_id
        return variables

    def _outputs(self) -> dict[str, list[str]]:
        outputs = {}
        for reference in self.content.get("outputs") or []:
            step, _, output = str(reference).partition(".")
            value = self._values.get(step, {}).get(output)
            outputs[reference] = as_strings(value) if value is not None else [NO_OUTPUT]
        return outputs

    # --- bookkeeping ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def _end_execution(self, status: str, message: str | None) -> None:
        with self._lock:
            self._status = status
            self._failure_message = message
            self._end = self._now()
            self._current = None
        self._changed()

    def _changed(self) -> None:
        self._on_change()


class _RunbookError(StepFailed):
    """The runbook leads somewhere it cannot go: inside a loop it fails the loop step, else the execution."""


@dataclass
class _Outcome:
    """How a sequence of steps ended (filled in while the sequence runs)."""

    cancelled: bool = False
    # A nested step's onCancel that leads out of the loop, for the loop step to follow.
    on_cancel: str | None = None
    aborted: dict | None = None
    on_failure: str = "Abort"
    critical: bool = True


@dataclass(frozen=True)
class _StepEnd:
    """How one step ended: its record, a branch's choice, and what its failure means for the flow."""

    record: dict
    next_step: str | None
    on_failure: str
    critical: bool
    on_cancel: str = "Abort"


def _jump_target(directive: object) -> str | None:
    """The step an onCancel `step:NAME` leads to; None for Abort."""
    if not isinstance(directive, str) or not directive.startswith("step:"):
        return None
    return directive[len("step:") :]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$datetime"}:
        return datetime.fromisoformat(value["$datetime"])
    return value


def _decode_record(record: dict) -> dict:
    return {key: _decode(value) for key, value in record.items()}
