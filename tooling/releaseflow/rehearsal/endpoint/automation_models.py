"""Automation's state for the rehearsal: executions of the engine in threads, persisted under
STATE/executions/, with their tags, client tokens, alarms and status-change events. What the API takes
and shows of them is automation_responses.py's."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from releaseflow.rehearsal.endpoint.alarm_monitor import AlarmConfiguration, AlarmMonitor, read_state
from releaseflow.rehearsal.endpoint.automation_events import status_change_entry
from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.changes import Changes
from releaseflow.rehearsal.endpoint.loopback_aws import LoopbackAws
from releaseflow.rehearsal.endpoint.moto_state import StoredDocument
from releaseflow.rehearsal.engine.automation import AutomationRun
from releaseflow.ssm import EXECUTION_TERMINAL

log = logging.getLogger("releaseflow.endpoint.automation")


class AutomationBackend:
    """Executions: started, read, stopped, kept across endpoint restarts."""

    def __init__(
        self,
        documents: Callable[[str, str | None], StoredDocument],
        executions_dir: Path,
        aws: LoopbackAws,
        account: str,
        readings: Mapping[str, str] | None = None,
        emit: Callable[[dict], None] = lambda entry: None,
        changes: Changes | None = None,
    ):
        """`emit` takes a PutEvents entry: the status-change event of an execution (automation_events).
        `changes`: the endpoint's change count, which every change of an execution moves and the
        executions' polling steps wait on."""
        self._documents = documents
        self._emit = emit
        self._changes = changes
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

    def runbook(self, name: str, version: str | None) -> StoredDocument:
        """The Automation runbook an execution runs, missing ones refused in Automation's own words."""
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

    def started_with(self, client_token: str | None) -> AutomationRun | None:
        """The execution a ClientToken already started, if any."""
        with self._lock:
            execution_id = self._tokens.get(client_token) if client_token else None
            return self._runs[execution_id] if execution_id else None

    def start(
        self,
        document: StoredDocument,
        parameters: dict,
        tags: list[dict],
        alarm: AlarmConfiguration | None,
        client_token: str | None,
        executed_by: str | None,
    ) -> str:
        """Run the runbook in its own thread, watching its alarm if it has one; its execution id."""
        execution_id = str(uuid.uuid4())
        run = AutomationRun(
            execution_id,
            document.name,
            document.version,
            document.content,
            parameters,
            aws=self._aws,
            script_env=self._aws.environment(),
            on_change=lambda: self._changed(execution_id),
            changes=self._changes,
            globals={"ACCOUNT_ID": self._account, "REGION": self._aws.region, "AWS_PARTITION": "aws"},
            readings=self._readings,
            executed_by=executed_by,
        )
        with self._lock:
            self._runs[execution_id] = run
            self._tags[execution_id] = tags
            if alarm:
                self._alarms[execution_id] = alarm
            if client_token:
                self._tokens[client_token] = execution_id
        self._save(execution_id)
        threading.Thread(
            target=self._run, args=(run,), name=f"automation-{execution_id}", daemon=True
        ).start()
        if alarm:
            self._watch(run, alarm)
        log.info("started %s (%s v%s)", execution_id, document.name, document.version)
        return execution_id

    def run(self, execution_id: str) -> AutomationRun:
        with self._lock:
            run = self._runs.get(execution_id)
        if run is None:
            raise ApiError(
                "AutomationExecutionNotFoundException", f"Execution {execution_id} does not exist."
            )
        return run

    def runs(self) -> list[tuple[str, AutomationRun]]:
        with self._lock:
            return list(self._runs.items())

    def tags(self, execution_id: str) -> list[dict] | None:
        """The Tags the execution was started with; None for an execution that does not exist."""
        with self._lock:
            if execution_id not in self._runs:
                return None
            return list(self._tags.get(execution_id, []))

    def alarm(self, execution_id: str) -> tuple[AlarmConfiguration | None, list[dict] | None]:
        """The execution's AlarmConfiguration and the alarms that stopped it, when set."""
        with self._lock:
            return self._alarms.get(execution_id), self._triggered.get(execution_id)

    def stop(self, execution_id: str) -> None:
        """Cancel the execution (its running step is cancelled and onCancel runs); an ended one stays."""
        run = self.run(execution_id)
        if run.status in EXECUTION_TERMINAL:
            raise ApiError(
                "InvalidAutomationStatusUpdateException",
                f"Execution {run.execution_id} already ended {run.status}.",
            )
        run.cancel()

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

    def _run(self, run: AutomationRun) -> None:
        try:
            run.run()
        except Exception:
            # The engine already marked the execution Failed; keep the traceback for whoever debugs it.
            log.exception("automation %s crashed", run.execution_id)
        log.info("automation %s ended %s", run.execution_id, run.status)

    def _changed(self, execution_id: str) -> None:
        """Keep the execution's state, and announce a new status on the event bus as Automation does."""
        if self._changes is not None:
            self._changes.announce()
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
