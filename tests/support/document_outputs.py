"""The real output of releaseflow-CheckoutRevision and releaseflow-Rollback, for tests of what reads it.

Each scenario runs the documents in documents/ through the rehearsal agent's own runner
(agent.run_command) on a throwaway git checkout, as root with the app owned by an unprivileged user,
so the report's tests read exactly what a host prints, not a copy of it.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from releaseflow.documents import load_document
from releaseflow.rehearsal.host.agent import Host, run_command

ROOT = Path(__file__).resolve().parents[2]
APP_USER = "nobody"
EXECUTION = "exec-1"
SYSTEMCTL_STUB = "#!/bin/sh\nexit 0\n"


@dataclass(frozen=True)
class Run:
    """One document's run on the host: the agent's status and the plugin Outputs joined, as
    execution.parse_invocation joins them."""

    status: str
    output: str


@dataclass(frozen=True)
class Outputs:
    old: str  # the commit the host served first
    new: str  # the commit the deploy switches to
    switched: Run  # CheckoutRevision that switched old -> new
    already_at: Run  # CheckoutRevision on a host already at new
    unknown_revision: Run  # CheckoutRevision of a commit the host does not have (fails, not switched)
    check_only: Run  # Rollback CheckOnly=true on the switched host: "rollback needed"
    reverted: Run  # Rollback that put the switched host back on old
    not_switched: Run  # Rollback on a host this execution never switched
    rollback_failed: Run  # Rollback whose install command fails: the host stays on new


class _Host:
    def __init__(self, root: Path):
        self.root = root
        work, self.app = root / "work", root / "app"
        _git("init", "--quiet", "-b", "main", str(work))
        self.commits = []
        for number in range(2):
            (work / "version").write_text(f"{number}\n")
            _git("-C", str(work), "add", "version")
            _git("-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", str(number))
            self.commits.append(_git("-C", str(work), "rev-parse", "HEAD").strip())
        _git("clone", "--quiet", str(work), str(self.app))
        _git("-C", str(self.app), "checkout", "--quiet", "--detach", self.commits[0])
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "systemctl").write_text(SYSTEMCTL_STUB)
        (bin_dir / "systemctl").chmod(0o755)
        subprocess.run(["chown", "-R", APP_USER, str(self.app)], check=True)
        self.agent_host = Host(
            instance_id="i-0123456789abcdef0", root=root / "agent", path_prefix=str(bin_dir)
        )
        self.count = 0

    def run(self, name: str, **values: str | list[str]) -> Run:
        content = load_document(ROOT / "documents" / f"{name}.yaml").content
        parameters = {"AppDir": str(self.app), "AppUser": APP_USER, "InstallCommand": "true"} | values
        self.count += 1
        command = {
            "command_id": f"c-{self.count}",
            "content": content,
            "parameters": {k: v if isinstance(v, list) else [v] for k, v in parameters.items()},
        }
        report = run_command(command, self.agent_host, threading.Event())
        return Run(report["status"], "\n".join(plugin["output"] for plugin in report["plugins"]))


@functools.cache
def outputs() -> Outputs:
    """Every scenario, run once per test process (a few seconds)."""
    root = Path(tempfile.mkdtemp(prefix="releaseflow-outputs-"))
    root.chmod(0o755)
    try:
        host = _Host(root)
        old, new = host.commits
        checkout = functools.partial(host.run, "releaseflow-CheckoutRevision", ExecutionId=EXECUTION)
        rollback = functools.partial(host.run, "releaseflow-Rollback", ExecutionId=EXECUTION)
        unknown_revision = checkout(Revision="0" * 40)
        switched = checkout(Revision=new)
        already_at = checkout(Revision=new)
        check_only = rollback(CheckOnly="true")
        not_switched = host.run("releaseflow-Rollback", ExecutionId="exec-other")
        rollback_failed = rollback(InstallCommand="false")
        reverted = rollback()
        return Outputs(
            old,
            new,
            switched,
            already_at,
            unknown_revision,
            check_only,
            reverted,
            not_switched,
            rollback_failed,
        )
    finally:
        shutil.rmtree(root)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout
