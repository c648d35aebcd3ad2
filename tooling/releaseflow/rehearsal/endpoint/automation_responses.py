"""Automation's API for the rehearsal: StartAutomationExecution and the calls that read or stop executions,
turned into calls on automation_models.AutomationBackend, and its executions into the API's shapes."""

from __future__ import annotations

from datetime import datetime

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from releaseflow.rehearsal.endpoint.alarm_monitor import AlarmConfiguration
from releaseflow.rehearsal.endpoint.automation_models import AutomationBackend
from releaseflow.rehearsal.endpoint.awsjson import ApiError, filter_values, page, parse_iso
from releaseflow.rehearsal.engine.automation import AutomationRun, InvalidParameters, validate_parameters

_EXECUTION_FILTERS = (
    "DocumentNamePrefix",
    "ExecutionStatus",
    "ExecutionId",
    "ParentExecutionId",
    "CurrentAction",
    "StartTimeBefore",
    "StartTimeAfter",
    "AutomationType",
    "TagKey",
)
_STEP_FILTERS = (
    "StartTimeBefore",
    "StartTimeAfter",
    "StepExecutionStatus",
    "StepExecutionId",
    "StepName",
    "Action",
    "ParentStepExecutionId",
    "ParentStepIteration",
    "ParentStepIteratorValue",
)
# What the rehearsal cannot run the way AWS does; it refuses these rather than ignore them.
_UNSUPPORTED = ("Targets", "TargetMaps", "TargetLocations", "TargetLocationsURL", "TargetParameterName")


class AutomationResponses:
    """The Automation operations, each a request dict in and a response dict out."""

    def __init__(self, backend: AutomationBackend):
        self.backend = backend

    def start_automation_execution(self, request: dict, executed_by: str | None = None) -> dict:
        """Validate the parameters, then run the runbook in its own thread.

        `executed_by` is the caller's identity (ExecutedBy): a schedule's role; else the account's root."""
        refused = [key for key in _UNSUPPORTED if request.get(key)]
        if refused or request.get("Mode", "Auto") != "Auto":
            raise ApiError(
                "ValidationException",
                "The rehearsal runs Automation in Auto mode without targets; "
                f"it does not support {refused or request.get('Mode')}.",
            )
        token = request.get("ClientToken")
        existing = self.backend.started_with(token)
        if existing:
            if existing.document_name != request["DocumentName"]:
                raise ApiError("IdempotentParameterMismatch", "ClientToken was used with another document.")
            return {"AutomationExecutionId": existing.execution_id}
        alarm = AlarmConfiguration.from_request(request.get("AlarmConfiguration"))
        document = self.backend.runbook(request["DocumentName"], request.get("DocumentVersion"))
        try:
            typed = validate_parameters(document.content, request.get("Parameters") or {})
        except InvalidParameters as error:
            raise ApiError("InvalidAutomationExecutionParametersException", str(error)) from error
        tags = list(request.get("Tags") or [])
        execution_id = self.backend.start(document, typed, tags, alarm, token, executed_by)
        return {"AutomationExecutionId": execution_id}

    def get_automation_execution(self, request: dict) -> dict:
        run = self.backend.run(request["AutomationExecutionId"])
        return {"AutomationExecution": run.execution() | self._alarm_fields(run.execution_id)}

    def describe_automation_executions(self, request: dict) -> dict:
        """DescribeAutomationExecutions, newest first, by Filters."""
        filters = filter_values(request.get("Filters"), _EXECUTION_FILTERS, "InvalidFilterKey")
        rows = [
            run.metadata() | self._alarm_fields(execution_id)
            for execution_id, run in self.backend.runs()
            if self._selected(execution_id, run, filters)
        ]
        rows.sort(key=lambda row: row["ExecutionStartTime"], reverse=True)
        shown, token = page(rows, request)
        return {"AutomationExecutionMetadataList": shown} | ({"NextToken": token} if token else {})

    def describe_automation_step_executions(self, request: dict) -> dict:
        """DescribeAutomationStepExecutions by Filters, in start order or ReverseOrder."""
        steps = self.backend.run(request["AutomationExecutionId"]).step_executions()
        filters = filter_values(request.get("Filters"), _STEP_FILTERS, "InvalidFilterKey")
        steps = [step for step in steps if _step_selected(step, filters)]
        if request.get("ReverseOrder"):
            steps.reverse()
        shown, token = page(steps, request)
        return {"StepExecutions": shown} | ({"NextToken": token} if token else {})

    def list_tags_for_resource(self, request: dict) -> dict:
        """ListTagsForResource of ResourceType Automation: the Tags the execution was started with."""
        execution_id = request.get("ResourceId", "")
        tags = self.backend.tags(execution_id)
        if tags is None:
            raise ApiError("InvalidResourceId", f"The resource ID {execution_id} is not valid.")
        return {"TagList": tags}

    def stop_automation_execution(self, request: dict) -> dict:
        """StopAutomationExecution: Cancel, and Complete the same way (the rehearsal has no rate control)."""
        self.backend.stop(request["AutomationExecutionId"])
        return {}

    def _alarm_fields(self, execution_id: str) -> dict:
        """AlarmConfiguration and TriggeredAlarms, as GetAutomationExecution shows them when set."""
        alarm, triggered = self.backend.alarm(execution_id)
        fields: dict = {"AlarmConfiguration": alarm.api()} if alarm else {}
        return fields | ({"TriggeredAlarms": list(triggered)} if triggered else {})

    def _selected(self, execution_id: str, run: AutomationRun, filters: dict[str, list[str]]) -> bool:
        metadata = run.metadata()
        start = metadata["ExecutionStartTime"].timestamp()  # set when the run is made
        tests = {
            "DocumentNamePrefix": lambda v: metadata["DocumentName"].startswith(v),
            "ExecutionStatus": lambda v: metadata["AutomationExecutionStatus"] == v,
            "ExecutionId": lambda v: execution_id == v,
            "ParentExecutionId": lambda v: False,
            "CurrentAction": lambda v: metadata.get("CurrentAction") == v,
            "StartTimeBefore": lambda v: start < (parse_iso(v) or 0),
            "StartTimeAfter": lambda v: start > (parse_iso(v) or 0),
            "AutomationType": lambda v: metadata["AutomationType"] == v,
            "TagKey": lambda v: any(tag["Key"] == v for tag in self.backend.tags(execution_id) or []),
        }
        return all(any(tests[key](value) for value in values) for key, values in filters.items())


def pinned_run_command_step(request: dict) -> str | None:
    """The first aws:runCommand step with a DocumentVersion input in a CreateDocument/UpdateDocument
    runbook, if any: where the open reading run_command_document_version decides whether AWS takes it
    (the action's reference does not list that input)."""
    try:
        content = YAML(typ="safe", pure=True).load(request.get("Content") or "")
    except YAMLError:
        return None  # moto answers malformed content itself
    if not isinstance(content, dict) or str(content.get("schemaVersion")) != "0.3":
        return None
    for step in _every_step(content.get("mainSteps")):
        if step.get("action") == "aws:runCommand" and "DocumentVersion" in (step.get("inputs") or {}):
            return str(step.get("name"))
    return None


def _every_step(steps) -> list[dict]:
    found = []
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict):
            found.append(step)
            if step.get("action") == "aws:loop" and isinstance(step.get("inputs"), dict):
                found.extend(_every_step(step["inputs"].get("Steps")))
    return found


def _step_selected(step: dict, filters: dict[str, list[str]]) -> bool:
    parent = step.get("ParentStepDetails") or {}
    start = _seconds(step.get("ExecutionStartTime"))
    tests = {
        "StepExecutionStatus": lambda v: step.get("StepStatus") == v,
        "StepExecutionId": lambda v: step.get("StepExecutionId") == v,
        "StepName": lambda v: step.get("StepName") == v,
        "Action": lambda v: step.get("Action") == v,
        "ParentStepExecutionId": lambda v: parent.get("StepExecutionId") == v,
        "ParentStepIteration": lambda v: str(parent.get("Iteration")) == v,
        "ParentStepIteratorValue": lambda v: str(parent.get("IteratorValue")) == v,
        "StartTimeBefore": lambda v: start is not None and start < (parse_iso(v) or 0),
        "StartTimeAfter": lambda v: start is not None and start > (parse_iso(v) or 0),
    }
    return all(any(tests[key](value) for value in values) for key, values in filters.items())


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
