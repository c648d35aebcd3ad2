"""Shared helpers for failure scenarios on a rehearsal fleet: fleets, new commits, load and consistency."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from releaseflow.rehearsal import fleet, provision
from releaseflow.rehearsal.app_repo import AUTHOR, git

RELEASEFLOW = Path(sys.executable).parent / "releaseflow"


@dataclass(frozen=True)
class Fleet:
    """A running rehearsal fleet as a test sees it."""

    state_dir: Path
    environment: dict[str, str]
    revisions: tuple[str, ...]
    instance_ids: tuple[str, ...]
    lb_url: str

    def host_root(self, instance_id: str) -> Path:
        return self.state_dir / "hosts" / instance_id


def fleet_fixture(hosts: int = 3, name: str = "rehearsal", **up_options):
    """A module-scoped fixture `name` yielding a `Fleet` of `hosts` hosts at revision 1, taken down after.

    `up_options` go to `fleet.up` (for example `offline_after`).
    """

    @pytest.fixture(scope="module", name=name)
    def _fixture():
        missing = [tool for tool in fleet.REQUIRED if shutil.which(tool, path=fleet._system_path()) is None]
        if missing:
            pytest.fail(f"missing {', '.join(missing)}: run `make system-packages` (as root)")
        state_dir = Path(tempfile.mkdtemp(prefix="rf-scenario-"))
        state_dir.chmod(0o755)
        try:
            fleet.up(state_dir, hosts=hosts, **up_options)
            recorded = json.loads((state_dir / "fleet.json").read_text())
            yield Fleet(
                state_dir=state_dir,
                environment={**os.environ, **fleet.env(state_dir)},
                revisions=tuple(recorded["revisions"]),
                instance_ids=tuple(h["instance_id"] for h in recorded["hosts"]),
                lb_url=recorded["lb"]["url"],
            )
        finally:
            fleet.down(state_dir)
            shutil.rmtree(state_dir, ignore_errors=True)

    return _fixture


def push_commit(
    state_dir: Path, files: dict[str, str | None], message: str, parent: str | None = None
) -> str:
    """Commit `files` (path -> text, None deletes) on top of `parent` (default revision 1) to STATE/remote.git.

    The commit gets a branch of its own (scenario/<sha>), so the hosts' fetch brings it; returns its SHA.
    """
    remote = state_dir / "remote.git"
    if parent is None:
        parent = json.loads((state_dir / "fleet.json").read_text())["revisions"][0]
    with tempfile.TemporaryDirectory(prefix="rf-commit-") as work:
        # A private index builds the tree inside the bare remote: no clone of a repository root does not own.
        env = {**AUTHOR, "GIT_INDEX_FILE": str(Path(work) / "index")}
        git(remote, "read-tree", parent, env=env)
        for path, text in files.items():
            if text is None:
                git(remote, "update-index", "--force-remove", "--", path, env=env)
                continue
            blob_file = Path(work) / "blob"
            blob_file.write_text(text)
            blob = git(remote, "hash-object", "-w", "--", str(blob_file))
            git(remote, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(remote, "write-tree", env=env)
        sha = git(remote, "commit-tree", tree, "-p", parent, "-m", message, env=env)
    git(remote, "update-ref", f"refs/heads/scenario/{sha}", sha)
    # The hosts fetch as the app user, and git refuses objects in a repository owned by someone else.
    user = provision.ensure_app_user()
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(remote)], check=True)
    return sha


def deploy(rehearsal: Fleet, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `releaseflow deploy` trigger as GitHub Actions does: a subprocess with the fleet's environment."""
    return subprocess.run(
        [RELEASEFLOW, "deploy", *args],
        env=rehearsal.environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def execution_id(output: str) -> str:
    """The automation execution id the trigger printed ("started execution ID ...")."""
    return output.split("started execution ", 1)[1].split()[0]


class LoadGenerator:
    """Requests /up through the load balancer until stopped; counts answers by served revision, and failures."""

    def __init__(self, lb_url: str):
        self.url = f"{lb_url}/up"
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadGenerator:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    self.answers[response.headers.get("X-Revision", "")] += 1
            except (OSError, urllib.error.HTTPError) as error:
                self.failures.append(str(error))


def puma_pid(rehearsal: Fleet, instance_id: str) -> int:
    """The pid of the puma the host's systemctl stand-in started last."""
    return int((rehearsal.host_root(instance_id) / "run" / f"{provision.SERVICE}.pid").read_text())


def deploy_record(state_dir: Path, instance_id: str) -> dict[str, str]:
    """The host's `.git/releaseflow` record (previous-revision, execution-id, rolled-back) as file -> text."""
    record = state_dir / "hosts" / instance_id / "app" / ".git" / "releaseflow"
    if not record.is_dir():
        return {}
    return {path.name: path.read_text().strip() for path in sorted(record.iterdir())}


def assert_fleet_consistent(state_dir: Path, revision: str) -> None:
    """Every host checked out at and serving `revision`, running, healthy in the LB, nothing half-done."""
    status = fleet.status(state_dir)
    seen = {h.instance_id: (h.revision, h.serving, h.running, h.lb_state) for h in status.hosts}
    assert seen == {h.instance_id: (revision, revision, True, "healthy") for h in status.hosts}
    for host in status.hosts:
        app = state_dir / "hosts" / host.instance_id / "app"
        with urllib.request.urlopen(f"http://127.0.0.1:{host.port}/up", timeout=5) as response:
            assert response.headers["X-Revision"] == revision, host.instance_id
        assert git(app, "status", "--porcelain", "--untracked-files=no") == "", host.instance_id
        assert not (app / ".git" / "index.lock").exists(), host.instance_id
        record = deploy_record(state_dir, host.instance_id)
        if record:
            # CheckoutRevision writes both files before it moves HEAD; Rollback marks the same execution.
            assert {"previous-revision", "execution-id"} <= record.keys(), (host.instance_id, record)
            assert record.get("rolled-back", record["execution-id"]) == record["execution-id"], record
            if record.get("rolled-back"):
                assert record["previous-revision"] == revision, (host.instance_id, record)
