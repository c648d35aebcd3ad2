"""Durable moto: requests that changed moto's state, journaled and replayed when the endpoint restarts."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import parse_qs

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends
from moto.moto_api._internal import mock_random
from moto.ssm.models import ssm_backends
from werkzeug.test import create_environ

from releaseflow.errors import ReleaseflowError

# Operations by these prefixes only read; everything else a client sends to moto may change it.
READ_PREFIXES = ("Describe", "Get", "List")
# The seed moto's default resources (default VPC, subnets) are created with, so their ids survive too.
PRIME_SEED = "releaseflow-rehearsal"
_KEPT = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE")


class JournalError(ReleaseflowError):
    """A journaled request did not replay: moto's state cannot be restored as it was."""


class MotoJournal:
    """Wraps moto's WSGI app: writes are serialised, seeded by their journal position and journaled.

    Seeding each write by its position makes moto's random ids (instances, ARNs) come back identical
    on replay, whatever reads ran in between.
    """

    def __init__(self, moto_app: Callable, path: Path, region: str, account: str = DEFAULT_ACCOUNT_ID):
        self._app = moto_app
        self._path = path
        self._region = region
        self._account = account
        self._lock = threading.Lock()
        self._count = 0

    def replay(self) -> int:
        """Create moto's default resources, then apply the journal in order; returns the entries applied."""
        with self._lock:
            mock_random.seed(PRIME_SEED)
            for backends in (ec2_backends, elbv2_backends, ssm_backends):
                backends[self._account][self._region]
            lines = self._path.read_text().splitlines() if self._path.exists() else []
            for line in lines:
                entry = json.loads(line)
                status, _, _ = self._call(_environ(entry), _body(entry), write=True)
                if not status.startswith("2"):
                    raise JournalError(f"{self._path}: entry {self._count} answered {status} on replay")
                self._count += 1
            return self._count

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        write = _writes(environ, body)
        with self._lock:
            status, headers, answer = self._call(environ, body, write)
            if write and status.startswith("2"):
                self._append(environ, body)
        start_response(status, headers)
        return [answer]

    def _call(self, environ: dict, body: bytes, write: bool) -> tuple[str, list, bytes]:
        if write:
            mock_random.seed(self._count)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured: dict = {}

        def capture(status: str, headers: list, exc_info=None):
            captured.update(status=status, headers=headers)

        answer = b"".join(self._app(environ, capture))
        return captured["status"], captured["headers"], answer

    def _append(self, environ: dict, body: bytes) -> None:
        entry = {
            "environ": {key: environ[key] for key in _KEPT if key in environ}
            | {key: value for key, value in environ.items() if key.startswith("HTTP_")},
            "body": base64.b64encode(body).decode(),
        }
        with self._path.open("a") as journal:
            journal.write(json.dumps(entry) + "\n")
        self._count += 1


def _writes(environ: dict, body: bytes) -> bool:
    """Whether the request may change moto's state: by JSON target, query Action, else HTTP method."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation = target.rpartition(".")[2]
    elif environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        operation = parse_qs(body.decode()).get("Action", [""])[0]
    else:
        return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD")
    return not operation.startswith(READ_PREFIXES)


def _environ(entry: dict) -> dict:
    environ = create_environ()
    environ.update(entry["environ"])
    return environ


def _body(entry: dict) -> bytes:
    return base64.b64decode(entry["body"])
