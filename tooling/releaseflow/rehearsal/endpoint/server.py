"""The rehearsal's AWS endpoint: moto's server app behind a thin WSGI layer that adds what moto lacks."""

from __future__ import annotations

import argparse
import functools
import http
import io
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode
from xml.sax.saxutils import escape

# Before moto: its EC2 models read the region lists at import.
from releaseflow.rehearsal.endpoint import region_lists  # noqa: F401

# isort: split
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from releaseflow.errors import ReleaseflowError
from releaseflow.readings import check as check_readings
from releaseflow.rehearsal.endpoint.automation_models import AutomationBackend
from releaseflow.rehearsal.endpoint.automation_responses import AutomationResponses, pinned_run_command_step
from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.changes import Changes
from releaseflow.rehearsal.endpoint.commands_models import CommandsBackend
from releaseflow.rehearsal.endpoint.commands_responses import CommandsResponses
from releaseflow.rehearsal.endpoint.elbv2_service import ACTIONS as ELBV2_ACTIONS
from releaseflow.rehearsal.endpoint.elbv2_service import Elbv2Service, form_targets, nothing_deregistered
from releaseflow.rehearsal.endpoint.faults_service import FaultsService
from releaseflow.rehearsal.endpoint.instances_service import PING_INTERVAL, InstancesService
from releaseflow.rehearsal.endpoint.loopback_aws import ENGINE_AGENT, LoopbackAws
from releaseflow.rehearsal.endpoint.model_check import check_request, query_request
from releaseflow.rehearsal.endpoint.moto_journal import MotoJournal
from releaseflow.rehearsal.endpoint.moto_state import MotoState
from releaseflow.rehearsal.endpoint.scheduler_service import SchedulerService, TargetError, assumed_role
from releaseflow.rehearsal.engine.actions.script import WORKER as SCRIPT_WORKER
from releaseflow.rehearsal.engine.automation import AwsCallError
from releaseflow.rehearsal.engine.readings_in_force import ReadingsInForce, ReadingsMet, play

log = logging.getLogger("releaseflow.endpoint")

ELBV2_VERSION = "2015-12-01"
EC2_VERSION = "2016-11-15"
# EC2 calls that power a host down or up: the endpoint stops or starts its agent and services.
POWER_ACTIONS = ("StopInstances", "StartInstances")
# How often timeouts and rate control are re-examined when no request arrives to trigger it.
TICK_SECONDS = 0.25
# The session name in the ExecutedBy of what a schedule starts: Scheduler does not document its own.
SCHEDULER_SESSION = "releaseflow-rehearsal-scheduler"
# How often an agent's long poll checks that the agent is still connected.
POLL_SLICE_SECONDS = 1.0
# The routing table's keys: (REHEARSAL, path), (SSM, operation), (Query protocol Version, Action).
REHEARSAL = "rehearsal"
SSM = "AmazonSSM"
SSM_PREFIX = f"{SSM}."
WSGIResponse = Iterable[bytes]
# A step or a route: the answer, or None to leave the request to the next step (and at last to moto).
Handler = Callable[["Request", Callable], WSGIResponse | None]


class Endpoint:
    """The WSGI application: SSM operations moto lacks, ELBv2 side effects, the agent API, then moto."""

    def __init__(
        self,
        state_dir: Path,
        region: str,
        offline_after: float,
        ping_interval: float = PING_INTERVAL,
        readings: dict[str, str] | None = None,
    ):
        self.state_dir = state_dir
        # Journaled so that a restarted endpoint has the same documents, instances and target groups.
        self.moto_app = MotoJournal(
            DomainDispatcherApplication(create_backend_app), state_dir / "moto-journal.jsonl", region
        )
        replayed = self.moto_app.replay()
        if replayed:
            log.info("restored moto's state from %d journaled requests", replayed)
        self.moto = MotoState(region)
        self.faults = FaultsService()
        self.instances = InstancesService(self.moto.instances, offline_after, ping_interval=ping_interval)
        # What the engine's polling steps wait on: every change of a command or an execution.
        self.changes = Changes()
        self.commands = CommandsBackend(self.moto.document, self.instances, changes=self.changes)
        self.commands_api = CommandsResponses(self.commands)
        self.elbv2 = Elbv2Service(self._load_balancer, self.moto.target_group, self._instance_states)
        self.aws = LoopbackAws(region)
        # One ledger for the endpoint: what its executions and its document checks meet (GET
        # /_rehearsal/readings), so a test can tell whether its run depended on a reading.
        self.readings = ReadingsInForce(
            check_readings(readings or {}), ReadingsMet(state_dir / "readings-met.json")
        )
        self.automation = AutomationBackend(
            self.moto.document,
            state_dir / "executions",
            self.aws,
            self.moto.account,
            self.readings,
            emit=self.moto.put_event,
            changes=self.changes,
        )
        self.automation_api = AutomationResponses(self.automation)
        self.scheduler = SchedulerService(
            self.moto.schedules,
            self._invoke_target,
            lambda group, name: self.aws("scheduler", "DeleteSchedule", {"Name": name, "GroupName": group}),
            fired_file=state_dir / "schedules-fired.json",
        )
        self.ssm_operations: dict[str, Callable[[dict], dict]] = {
            "SendCommand": self.commands_api.send_command,
            "ListCommands": self.commands_api.list_commands,
            "ListCommandInvocations": self.commands_api.list_command_invocations,
            "GetCommandInvocation": self.commands_api.get_command_invocation,
            "CancelCommand": self.commands_api.cancel_command,
            "DescribeInstanceInformation": self.instances.describe,
            "StartAutomationExecution": self.automation_api.start_automation_execution,
            "GetAutomationExecution": self.automation_api.get_automation_execution,
            "DescribeAutomationExecutions": self.automation_api.describe_automation_executions,
            "DescribeAutomationStepExecutions": self.automation_api.describe_automation_step_executions,
            "StopAutomationExecution": self.automation_api.stop_automation_execution,
        }
        # Who answers what before moto answers the rest: the rehearsal's own paths; SSM operations by
        # their X-Amz-Target (JSON protocol); Query protocol actions by (Version, Action).
        self.routes: dict[tuple[str, str], Handler] = {
            (REHEARSAL, "/_rehearsal/health"): self._health,
            (REHEARSAL, "/_rehearsal/agent/poll"): functools.partial(self._agent, self._poll),
            (REHEARSAL, "/_rehearsal/agent/report"): functools.partial(self._agent, self._report),
            (REHEARSAL, "/_rehearsal/faults"): self._faults,
            (REHEARSAL, "/_rehearsal/readings"): self._readings_report,
            **{
                (SSM, operation): functools.partial(self._ssm, handler)
                for operation, handler in self.ssm_operations.items()
            },
            (SSM, "ListTagsForResource"): self._automation_tags,
            **{(ELBV2_VERSION, action): self._elbv2 for action in ELBV2_ACTIONS},
            **{(EC2_VERSION, action): self._power for action in POWER_ACTIONS},
        }
        # Every request's steps in order of precedence: the first to answer ends it. Between the
        # rehearsal's paths and the SSM routes, the steps that apply to every SSM call, moto's included.
        self.steps: tuple[Handler, ...] = (
            self._rehearsal_route,
            self._inject_fault,
            self._refuse_pinned_version,
            self._ssm_route,
            self._query_route,
        )
        self._stopped = threading.Event()

    def start(self, url: str) -> None:
        """Start the background work (timeouts, rate control); runbooks call AWS back at `url`."""
        self.aws.connect(url)
        # The aws:executeScript worker imports boto3 now, not in the first deploy's first script; its
        # command line names the state directory, like every process of this rehearsal.
        SCRIPT_WORKER.start(label=str(self.state_dir))
        threading.Thread(target=self._tick, name="endpoint-tick", daemon=True).start()
        # Apart from the tick of commands: a schedule's call must not delay their timeouts.
        threading.Thread(target=self._schedule_tick, name="endpoint-scheduler", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def __call__(self, environ: dict, start_response: Callable) -> WSGIResponse:
        request = Request(environ)
        for step in self.steps:
            answer = step(request, start_response)
            if answer is not None:
                return answer
        return self.moto_app(environ, start_response)

    # --- the steps -------------------------------------------------------------------------------

    def _rehearsal_route(self, request: Request, start_response: Callable) -> WSGIResponse | None:
        return self._route((REHEARSAL, request.path), request, start_response)

    def _inject_fault(self, request: Request, start_response: Callable) -> WSGIResponse | None:
        """An injected fault (FaultsService) answers a client's SSM call, whoever serves it: the runbooks'
        own calls (the engine's User-Agent) are AWS calling itself, and pass."""
        operation = request.ssm_operation
        if (
            operation is None
            or not self.faults.active
            or ENGINE_AGENT in request.environ.get("HTTP_USER_AGENT", "")
        ):
            return None
        try:
            self.faults.check(operation, request.json())
        except ApiError as error:
            log.info("%s -> injected %s", operation, error.code)
            return _aws_error(start_response, error)
        return None

    def _refuse_pinned_version(self, request: Request, start_response: Callable) -> WSGIResponse | None:
        """A runbook whose aws:runCommand step pins a DocumentVersion: the open reading
        run_command_document_version decides whether AWS takes it (moto would store it either way)."""
        operation = request.ssm_operation
        if operation not in ("CreateDocument", "UpdateDocument"):
            return None
        document = request.json()
        pinned = pinned_run_command_step(document)
        where = f"{operation} {document.get('Name')} step {pinned}"
        if not pinned or play(self.readings, "run_command_document_version", where) != "refused":
            return None
        refusal = ApiError(
            "InvalidDocumentContent",
            f"Step {pinned}: aws:runCommand does not take the input DocumentVersion "
            "(rehearsal reading run_command_document_version=refused)",
        )
        log.info("%s -> %s: %s", operation, refusal.code, refusal.message)
        return _aws_error(start_response, refusal)

    def _ssm_route(self, request: Request, start_response: Callable) -> WSGIResponse | None:
        if request.ssm_operation is None:
            return None
        return self._route((SSM, request.ssm_operation), request, start_response)

    def _query_route(self, request: Request, start_response: Callable) -> WSGIResponse | None:
        form = request.form
        if form is None:
            return None
        return self._route((form.get("Version", ""), form.get("Action", "")), request, start_response)

    def _route(self, key: tuple[str, str], request: Request, start_response: Callable) -> WSGIResponse | None:
        handler = self.routes.get(key)
        return handler(request, start_response) if handler else None

    # --- the handlers ----------------------------------------------------------------------------

    def _health(self, request: Request, start_response: Callable) -> WSGIResponse:
        return _json(start_response, "200 OK", {"status": "ok"}, "application/json")

    def _readings_report(self, request: Request, start_response: Callable) -> WSGIResponse:
        """The readings in force and the ledger of those met, for a test to tell what its run depended on."""
        report = {"in_force": dict(self.readings), "met": self.readings.met.report()}
        return _json(start_response, "200 OK", report, "application/json")

    def _automation_tags(self, request: Request, start_response: Callable) -> WSGIResponse | None:
        """ListTagsForResource: moto keeps the tags of documents and parameters; an execution's are the
        engine's."""
        if request.json().get("ResourceType") != "Automation":
            return None
        return self._ssm(self.automation_api.list_tags_for_resource, request, start_response)

    def _ssm(
        self, handler: Callable[[dict], dict], request: Request, start_response: Callable
    ) -> WSGIResponse:
        operation = request.ssm_operation
        assert operation is not None  # routed as (SSM, operation)
        content_type = "application/x-amz-json-1.1"
        try:
            body = request.json()
            check_request("ssm", operation, body)
            result = handler(body)
        except ApiError as error:
            log.info("%s -> %s: %s", operation, error.code, error.message)
            return _aws_error(start_response, error)
        except Exception:
            log.exception("%s failed", operation)
            body = {
                "__type": "InternalServerError",
                "message": f"{operation} failed in the rehearsal endpoint",
            }
            return _json(start_response, "500 Internal Server Error", body, content_type)
        return _json(start_response, "200 OK", result, content_type)

    def _agent(
        self,
        operation: Callable[[dict, socket.socket | None], dict],
        request: Request,
        start_response: Callable,
    ) -> WSGIResponse:
        path = request.path
        try:
            result = operation(json.loads(request.body), request.environ.get("werkzeug.socket"))
        except ApiError as error:
            return _json(start_response, "400 Bad Request", error.body(), "application/json")
        except Exception:
            log.exception("%s failed", path)
            return _json(
                start_response,
                "500 Internal Server Error",
                {"message": "see endpoint.log"},
                "application/json",
            )
        return _json(start_response, "200 OK", result, "application/json")

    def _poll(self, body: dict, connection: socket.socket | None) -> dict:
        """An agent's long poll, in slices: an agent that died mid-poll stops counting as online.

        A poll keeps its instance Online for as long as it is open, and the agent asks for 20 s. Between
        slices the poll ends early when the agent has hung up, so its last heartbeat is then at most a
        slice old and it is ConnectionLost about --offline-after seconds after it died.
        """
        deadline = time.monotonic() + body.get("wait", 0)
        while True:
            remaining = deadline - time.monotonic()
            answer = self.commands_api.poll(
                body["instance_id"], max(min(remaining, POLL_SLICE_SECONDS), 0), body.get("session")
            )
            if (
                answer["commands"]
                or answer["cancel"]
                or remaining <= POLL_SLICE_SECONDS
                or _hung_up(connection)
            ):
                return answer

    def _report(self, body: dict, connection: socket.socket | None) -> dict:
        return self.commands_api.report(body)

    def _faults(self, request: Request, start_response: Callable) -> WSGIResponse:
        """POST sets the injected faults (see FaultsService), GET reports them with their counts."""
        try:
            if request.environ.get("REQUEST_METHOD") == "POST":
                result = self.faults.configure(request.json())
            else:
                result = self.faults.report()
        except (ApiError, ValueError, TypeError) as error:
            return _json(start_response, "400 Bad Request", {"message": str(error)}, "application/json")
        return _json(start_response, "200 OK", result, "application/json")

    def _elbv2(self, request: Request, start_response: Callable) -> WSGIResponse:
        form, environ = request.form or {}, request.environ
        try:
            if form["Action"] == "DescribeTargetHealth":
                # Answered here, so checked here: ELB's front end refuses what the model forbids.
                check_request(
                    "elbv2", "DescribeTargetHealth", query_request("elbv2", "DescribeTargetHealth", form)
                )
                answer = self.elbv2.describe_target_health(form)
                if answer is None:
                    return self.moto_app(environ, start_response)
                return _xml(start_response, "200 OK", answer)
            if form["Action"] == "RegisterTargets":
                refused = self._not_running(form_targets(form))
                if refused:
                    # ELB refuses the whole call, registering none of the targets.
                    listed = ", ".join(f"'{instance_id}'" for instance_id in refused)
                    message = (
                        f"The following targets are not in a running state and cannot be registered: {listed}"
                    )
                    return _xml(start_response, "400 Bad Request", _elbv2_error("InvalidTarget", message))
            if form["Action"] == "DeregisterTargets":
                form = self.elbv2.registered_only(form)
                if not form_targets(form):
                    return _xml(start_response, "200 OK", nothing_deregistered())
                body = urlencode(form).encode()
                environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
            captured: dict = {}

            def capture(status: str, headers: list, exc_info=None):
                captured.update(status=status, headers=headers)

            body = b"".join(self.moto_app(environ, capture))
            if captured["status"].startswith("200"):
                self.elbv2.after_moto(form)
        except ApiError as error:
            log.info("%s -> %s: %s", form["Action"], error.code, error.message)
            return _xml(start_response, "400 Bad Request", _elbv2_error("ValidationError", error.message))
        except ReleaseflowError as error:
            # The load balancer cannot act on this target (not a host of the fleet, HAProxy down).
            log.warning("%s: %s", form["Action"], error)
            return _xml(start_response, "400 Bad Request", _elbv2_error("InvalidTarget", str(error)))
        start_response(captured["status"], captured["headers"])
        return [body]

    def _power(self, request: Request, start_response: Callable) -> WSGIResponse:
        """Stop/StartInstances: moto changes the state, then the host's agent and services follow."""
        form, environ = request.form or {}, request.environ
        captured: dict = {}

        def capture(status: str, headers: list, exc_info=None):
            captured.update(status=status, headers=headers)

        body = b"".join(self.moto_app(environ, capture))
        if captured["status"].startswith("200"):
            ids = [value for key, value in sorted(form.items()) if key.startswith("InstanceId.")]
            threading.Thread(
                target=self._apply_power, args=(form["Action"], ids), name="power", daemon=True
            ).start()
        start_response(captured["status"], captured["headers"])
        return [body]

    def _apply_power(self, action: str, instance_ids: list[str]) -> None:
        # Imported late: only a fleet's endpoint has hosts to power.
        from releaseflow.rehearsal.host import power

        for instance_id in instance_ids:
            root = power.host_root(self.state_dir, instance_id)
            if root is None:
                continue
            try:
                if action == "StopInstances":
                    power.power_off(root)
                else:
                    power.power_on(root, self.aws.url or "", self.state_dir / "logs")
            except Exception:
                log.exception("%s of %s failed", action, instance_id)

    def _instance_states(self) -> dict[str, str]:
        return {instance.instance_id: instance.state for instance in self.moto.instances()}

    def _not_running(self, targets: list[dict[str, str]]) -> list[str]:
        states = self._instance_states()
        return [
            target["Id"] for target in targets if target["Id"] in states and states[target["Id"]] != "running"
        ]

    def _load_balancer(self):
        # Imported late: the load balancer is only needed once a runbook touches a target group.
        from releaseflow.rehearsal.harness.haproxy import LoadBalancer

        return LoadBalancer(self.state_dir)

    def _invoke_target(self, service: str, operation: str, request: dict, role_arn: str) -> dict:
        """A schedule's universal target, called as Scheduler calls it: with its role, as a client."""
        if service == "ssm" and operation in self.ssm_operations:
            try:
                # Scheduler is a client of SSM like any other: injected faults apply to its calls.
                self.faults.check(operation, request)
                check_request("ssm", operation, request)
                if operation == "StartAutomationExecution":
                    return self.automation_api.start_automation_execution(
                        request, executed_by=assumed_role(role_arn, SCHEDULER_SESSION)
                    )
                return self.ssm_operations[operation](request)
            except ApiError as error:
                raise TargetError(error.code, error.message, server_side=error.status >= 500) from error
        try:
            return self.aws(service, operation, request)
        except AwsCallError as error:
            raise TargetError(error.code, error.message) from error

    def _schedule_tick(self) -> None:
        while not self._stopped.wait(TICK_SECONDS):
            try:
                self.scheduler.tick()
            except Exception:
                log.exception("scheduler tick failed")

    def _tick(self) -> None:
        while not self._stopped.wait(TICK_SECONDS):
            try:
                self.commands.tick()
            except Exception:
                log.exception("tick failed")


def _hung_up(connection: socket.socket | None) -> bool:
    """True when the client closed its side: the socket reads as end of file (it sends nothing else)."""
    if connection is None:
        return False
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Request:
    """A request as the steps and routes see it; its body is read once, then put back for moto."""

    def __init__(self, environ: dict):
        self.environ = environ
        self.path: str = environ.get("PATH_INFO", "")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        # The operation of an SSM call (JSON protocol), None for any other request.
        self.ssm_operation = target.removeprefix(SSM_PREFIX) if target.startswith(SSM_PREFIX) else None

    @functools.cached_property
    def body(self) -> bytes:
        length = int(self.environ.get("CONTENT_LENGTH") or 0)
        body = self.environ["wsgi.input"].read(length) if length else b""
        # Whoever reads the input after the steps (a handler, moto) reads the same body.
        self.environ["wsgi.input"] = io.BytesIO(body)
        return body

    def json(self) -> dict:
        """The body as JSON, an empty one as {}: parsed afresh each time, as handlers may change it."""
        return json.loads(self.body or b"{}")

    @functools.cached_property
    def form(self) -> dict[str, str] | None:
        """A Query protocol request's parameters (a form-encoded body); None for any other request."""
        if not self.environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return None
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


def _aws_error(start_response: Callable, error: ApiError) -> WSGIResponse:
    status = f"{error.status} {http.HTTPStatus(error.status).phrase}"
    return _json(start_response, status, error.body(), "application/x-amz-json-1.1")


def _json(start_response: Callable, status: str, body: dict, content_type: str) -> WSGIResponse:
    data = json.dumps(body, default=_wire).encode()
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [data]


def _wire(value):
    """Timestamps travel as epoch seconds in the JSON protocol."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _xml(start_response: Callable, status: str, body: str) -> WSGIResponse:
    data = body.encode()
    start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]


def _elbv2_error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/{ELBV2_VERSION}/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m releaseflow.rehearsal.endpoint.server", description=__doc__
    )
    parser.add_argument("--state-dir", type=Path, required=True, help="the rehearsal's state directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--region", default="us-east-1", help="the region moto's backends are read in")
    parser.add_argument(
        "--offline-after",
        type=float,
        default=10.0,
        help="seconds without an agent poll before ConnectionLost",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=PING_INTERVAL,
        help="seconds between PingStatus refreshes (AWS: the agent's 5-minute health ping)",
    )
    parser.add_argument(
        "--aws-readings",
        default="{}",
        help="JSON {NAME: READING} of the open readings to play (releaseflow.readings)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # One line per long poll would drown the log; our own handlers log what matters.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    state_dir = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    app = Endpoint(
        state_dir,
        args.region,
        args.offline_after,
        ping_interval=args.ping_interval,
        readings=check_readings(json.loads(args.aws_readings), "--aws-readings"),
    )
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    app.start(url)

    def shutdown(signum, frame):
        # serve_forever runs in this thread: shutdown() must come from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    info = state_dir / "endpoint.json"
    temporary = info.with_suffix(".tmp")
    temporary.write_text(json.dumps({"url": url, "pid": os.getpid(), "region": args.region}))
    temporary.replace(info)
    log.info("serving on %s (state %s)", url, state_dir)
    try:
        server.serve_forever()
    finally:
        app.stop()
        SCRIPT_WORKER.stop()  # it kills the scripts still running, and whatever they started
        server.server_close()
        info.unlink(missing_ok=True)
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
