"""Automation for the rehearsal: executions of the engine in threads, persisted under STATE/executions/."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from releaseflow.rehearsal.endpoint.alarm_monitor import AlarmConfiguration, AlarmMonitor, read_state
from releaseflow.rehearsal.endpoint.automation_events import status_change_entry
from releaseflow.rehearsal.endpoint.awsjson import ApiError, filter_values, page, parse_iso
from releaseflow.rehearsal.endpoint.moto_state import StoredDocument
from releaseflow.rehearsal.engine.automation import (
    AutomationRun,
    AwsCallError,
    InvalidParameters,
    validate_parameters,
)
from releaseflow.ssm import EXECUTION_TERMINAL

log = logging.getLogger("releaseflow.endpoint.automation")

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
# In the User-Agent of the runbooks' own calls: injected faults are for clients, not for AWS itself.
ENGINE_AGENT = "releaseflow-rehearsal-engine"
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


# The services the release runbooks call, whose clients the engine builds ahead of the first deploy.
WARM_SERVICES = ("ec2", "ssm", "elbv2")


class LoopbackAws:
    """The engine's `aws(service, Api, params)`: boto3 clients pointed back at this endpoint."""

    def __init__(self, region: str):
        self.region = region
        self.url: str | None = None
        self._session = boto3.session.Session(
            aws_access_key_id=_DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=_DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def connect(self, url: str) -> None:
        """Point the clients at the endpoint's URL, known once the server listens."""
        self.url = url
        # Building a client loads its service model (most of a second each): do it now, in the
        # background, rather than in the first deploy's first steps.
        threading.Thread(target=lambda: [self._client(name) for name in WARM_SERVICES], daemon=True).start()

    def environment(self) -> dict[str, str]:
        """The environment of aws:executeScript: boto3 in the script reaches this endpoint too."""
        return {
            **os.environ,
            **_DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url or "",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # The scripts' calls are the runbook's own too: marked like the engine's (app/... in the UA).
            "AWS_SDK_UA_APP_ID": ENGINE_AGENT,
        }

    def __call__(self, service: str, api: str, params: dict) -> dict:
        client = self._client(service)
        try:
            response = getattr(client, xform_name(api))(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise AwsCallError(details.get("Code", "Unknown"), details.get("Message", str(error))) from error
        except (BotoCoreError, AttributeError) as error:
            raise AwsCallError("ValidationException", f"{service}.{api}: {error}") from error
        response.pop("ResponseMetadata", None)
        return response

    def _client(self, service: str):
        # boto3 sessions are not thread-safe while they build clients; runs call from many threads.
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service,
                    endpoint_url=self.url,
                    config=Config(retries={"mode": "standard"}, user_agent_extra=ENGINE_AGENT),
                )
            return self._clients[service]


class AutomationService:
    """StartAutomationExecution and the calls that read or stop executions."""

    def __init__(
        self,
        documents: Callable[[str, str | None], StoredDocument],
        executions_dir: Path,
        aws: LoopbackAws,
        account: str,
        readings: Mapping[str, str] | None = None,
        emit: Callable[[dict], None] = lambda entry: None,
    ):
        """`emit` takes a PutEvents entry: the status-change event of an execution (automation_events)."""
        self._documents = documents
        self._emit = emit
        # The status each execution's last event announced: an event goes out when it changes.
        self._announced: dict[str, str] = {}
        self._readings = readings
        self._dir = executions_dir
        self._aws = aws
        self._account = account
        self._lock = threading.Lock()
        self._runs: dict[str, AutomationRun] = {}
        self._tags: dict[str, list[dict]] = {}
        self._tokens: dict[str, str] = {}
        self._alarms: dict[str, AlarmConfiguration] = {}
        self._triggered: dict[str, list[dict]] = {}
        self._dir.mkdir(parents=True, exist_ok=True)
        self._load()

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
        with self._lock:
            if token in self._tokens:
                existing = self._runs[self._tokens[token]]
                if existing.document_name != request["DocumentName"]:
                    raise ApiError(
                        "IdempotentParameterMismatch", "ClientToken was used with another document."
                    )
                return {"AutomationExecutionId": existing.execution_id}
        alarm = AlarmConfiguration.from_request(request.get("AlarmConfiguration"))
        document = self._document(request["DocumentName"], request.get("DocumentVersion"))
        try:
            typed = validate_parameters(document.content, request.get("Parameters") or {})
        except InvalidParameters as error:
            raise ApiError("InvalidAutomationExecutionParametersException", str(error)) from error
        execution_id = str(uuid.uuid4())
        run = AutomationRun(
            execution_id,
            document.name,
            document.version,
            document.content,
            typed,
            aws=self._aws,
            script_env=self._aws.environment(),
            on_change=lambda: self._changed(execution_id),
            globals={"ACCOUNT_ID": self._account, "REGION": self._aws.region, "AWS_PARTITION": "aws"},
            readings=self._readings,
            executed_by=executed_by,
        )
        with self._lock:
            self._runs[execution_id] = run
            self._tags[execution_id] = list(request.get("Tags") or [])
            if alarm:
                self._alarms[execution_id] = alarm
            if token:
                self._tokens[token] = execution_id
        self._save(execution_id)
        threading.Thread(
            target=self._run, args=(run,), name=f"automation-{execution_id}", daemon=True
        ).start()
        if alarm:
            self._watch(run, alarm)
        log.info("started %s (%s v%s)", execution_id, document.name, document.version)
        return {"AutomationExecutionId": execution_id}

    def get_automation_execution(self, request: dict) -> dict:
        run = self._run_of(request["AutomationExecutionId"])
        return {"AutomationExecution": run.execution() | self._alarm_fields(run.execution_id)}

    def describe_automation_executions(self, request: dict) -> dict:
        """DescribeAutomationExecutions, newest first, by Filters."""
        filters = filter_values(request.get("Filters"), _EXECUTION_FILTERS, "InvalidFilterKey")
        with self._lock:
            runs = list(self._runs.items())
        rows = [
            run.metadata() | self._alarm_fields(execution_id)
            for execution_id, run in runs
            if self._selected(execution_id, run, filters)
        ]
        rows.sort(key=lambda row: row["ExecutionStartTime"], reverse=True)
        shown, token = page(rows, request)
        return {"AutomationExecutionMetadataList": shown} | ({"NextToken": token} if token else {})

    def describe_automation_step_executions(self, request: dict) -> dict:
        """DescribeAutomationStepExecutions by Filters, in start order or ReverseOrder."""
        steps = self._run_of(request["AutomationExecutionId"]).step_executions()
        filters = filter_values(request.get("Filters"), _STEP_FILTERS, "InvalidFilterKey")
        steps = [step for step in steps if _step_selected(step, filters)]
        if request.get("ReverseOrder"):
            steps.reverse()
        shown, token = page(steps, request)
        return {"StepExecutions": shown} | ({"NextToken": token} if token else {})

    def list_tags_for_resource(self, request: dict) -> dict:
        """ListTagsForResource of ResourceType Automation: the Tags the execution was started with."""
        execution_id = request.get("ResourceId", "")
        with self._lock:
            if execution_id not in self._runs:
                raise ApiError("InvalidResourceId", f"The resource ID {execution_id} is not valid.")
            return {"TagList": list(self._tags.get(execution_id, []))}

    def stop_automation_execution(self, request: dict) -> dict:
        """StopAutomationExecution: Cancel, and Complete the same way (the rehearsal has no rate control)."""
        run = self._run_of(request["AutomationExecutionId"])
        if run.status in EXECUTION_TERMINAL:
            raise ApiError(
                "InvalidAutomationStatusUpdateException",
                f"Execution {run.execution_id} already ended {run.status}.",
            )
        run.cancel()
        return {}

    # --- internals -------------------------------------------------------------------------------

    def _watch(self, run: AutomationRun, alarm: AlarmConfiguration) -> None:
        """Check the alarm while the execution runs; in ALARM (or unreadable, unless ignored) stop it."""

        def stop(triggered: dict) -> None:
            with self._lock:
                self._triggered[run.execution_id] = [triggered]
            log.info("alarm %s is %s: stopping %s", triggered["Name"], triggered["State"], run.execution_id)
            # What StopAutomationExecution does: the running step is cancelled and onCancel runs.
            run.cancel()
            if run.status in EXECUTION_TERMINAL and run.status != "Cancelled":
                # It ended on its own just before the stop: the alarm stopped nothing.
                with self._lock:
                    self._triggered.pop(run.execution_id, None)
                self._save(run.execution_id)

        monitor = AlarmMonitor(
            alarm, read=lambda name: read_state(self._aws, name), status=lambda: run.status, stop=stop
        )
        threading.Thread(target=monitor.run, name=f"alarm-{run.execution_id}", daemon=True).start()

    def _alarm_fields(self, execution_id: str) -> dict:
        """AlarmConfiguration and TriggeredAlarms, as GetAutomationExecution shows them when set."""
        with self._lock:
            alarm = self._alarms.get(execution_id)
            triggered = self._triggered.get(execution_id)
        fields: dict = {"AlarmConfiguration": alarm.api()} if alarm else {}
        return fields | ({"TriggeredAlarms": list(triggered)} if triggered else {})

    def _document(self, name: str, version: str | None) -> StoredDocument:
        try:
            document = self._documents(name, version)
        except ApiError as error:
            code = (
                "AutomationDefinitionVersionNotFoundException"
                if error.code == "InvalidDocumentVersion"
                else "AutomationDefinitionNotFoundException"
            )
            raise ApiError(code, error.message) from error
        if document.document_type != "Automation":
            raise ApiError("AutomationDefinitionNotFoundException", f"{name} is not an Automation runbook.")
        return document

    def _run_of(self, execution_id: str) -> AutomationRun:
        with self._lock:
            run = self._runs.get(execution_id)
        if run is None:
            raise ApiError(
                "AutomationExecutionNotFoundException", f"Execution {execution_id} does not exist."
            )
        return run

    def _run(self, run: AutomationRun) -> None:
        try:
            run.run()
        except Exception:
            # The engine already marked the execution Failed; keep the traceback for whoever debugs it.
            log.exception("automation %s crashed", run.execution_id)
        log.info("automation %s ended %s", run.execution_id, run.status)

    def _changed(self, execution_id: str) -> None:
        """Keep the execution's state, and announce a new status on the event bus as Automation does."""
        self._save(execution_id)
        execution = self._runs[execution_id].execution()
        status = execution["AutomationExecutionStatus"]
        with self._lock:
            if self._announced.get(execution_id) == status:
                return
            self._announced[execution_id] = status
        self._emit(status_change_entry(execution, self._account, self._aws.region))

    def _save(self, execution_id: str) -> None:
        with self._lock:
            run = self._runs[execution_id]
            state = {
                "run": json.loads(run.to_json()),
                "tags": self._tags[execution_id],
                "client_token": next((t for t, i in self._tokens.items() if i == execution_id), None),
                "alarm": self._alarms[execution_id].api() if execution_id in self._alarms else None,
                "triggered_alarms": self._triggered.get(execution_id, []),
            }
            path = self._dir / f"{execution_id}.json"
            temporary = path.with_suffix(f".{threading.get_ident()}.tmp")
            temporary.write_text(json.dumps(state))
            temporary.replace(path)

    def _load(self) -> None:
        """Executions of earlier endpoint runs; one that had not ended is restored as Failed."""
        for path in sorted(self._dir.glob("*.json")):
            state = json.loads(path.read_text())
            run = AutomationRun.from_json(json.dumps(state["run"]))
            self._runs[run.execution_id] = run
            self._tags[run.execution_id] = state.get("tags", [])
            alarm = AlarmConfiguration.from_request(state.get("alarm"))
            if alarm:
                self._alarms[run.execution_id] = alarm
            if state.get("triggered_alarms"):
                self._triggered[run.execution_id] = state["triggered_alarms"]
            if state.get("client_token"):
                self._tokens[state["client_token"]] = run.execution_id
            if run.status != state["run"]["status"]:
                self._save(run.execution_id)

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
            "TagKey": lambda v: any(tag["Key"] == v for tag in self._tags.get(execution_id, [])),
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
