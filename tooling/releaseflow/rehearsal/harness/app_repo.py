"""The rehearsal app's git remote: the bundled Rails app in two real commits, or a user's own repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from releaseflow.errors import ReleaseflowError
from releaseflow.rehearsal.harness import provision
from releaseflow.rehearsal.harness.fleet_record import FleetRecord

SAMPLE_APP = Path(__file__).parent / "sample_app"
BRANCH = "main"
# Fixed author and dates make the bundled revisions the same commits on every machine.
AUTHOR = {
    "GIT_AUTHOR_NAME": "releaseflow rehearsal",
    "GIT_AUTHOR_EMAIL": "rehearsal@releaseflow.invalid",
    "GIT_COMMITTER_NAME": "releaseflow rehearsal",
    "GIT_COMMITTER_EMAIL": "rehearsal@releaseflow.invalid",
}
FIRST_DATE = "2026-01-01T00:00:00Z"
SECOND_DATE = "2026-01-02T00:00:00Z"

# Revision 2: a migration (a `notes` table), a visible change on the home page and a new stylesheet
# (another fingerprint: /styled links application-<digest>.css of its own revision).
SECOND_REVISION = {
    "app/assets/stylesheets/application.css": """\
/* The sample app's stylesheet: revision 2. */
body { color: #b91c1c; }
""",
    "db/migrate/20260102000000_create_notes.rb": """\
class CreateNotes < ActiveRecord::Migration[6.1]
  def change
    create_table :notes do |t|
      t.string :body, null: false
      t.timestamps
    end
  end
end
""",
    "db/schema.rb": """\
ActiveRecord::Schema.define(version: 2026_01_02_000000) do
  create_table "notes", force: :cascade do |t|
    t.string "body", null: false
    t.datetime "created_at", precision: 6, null: false
    t.datetime "updated_at", precision: 6, null: false
  end
end
""",
    "app/models/note.rb": """\
class Note < ApplicationRecord
end
""",
    "app/controllers/home_controller.rb": """\
class HomeController < ApplicationController
  def index
    render plain: "releaseflow sample app, revision #{Rails.configuration.x.revision}, #{Note.count} notes\\n"
  end
end
""",
}


class AppRepoError(ReleaseflowError):
    """The app repository cannot be used as the rehearsal's git remote."""


@dataclass(frozen=True)
class Remote:
    """The bare remote the hosts clone, and the commits the rehearsal knows by number."""

    path: Path
    revisions: tuple[str, ...]
    start: str


def build_remote(state_dir: Path, app_repo: Path | None = None, revision: str | None = None) -> Remote:
    """Create STATE/remote.git from the bundled app (revisions 1 and 2) or from `app_repo`.

    The fleet starts at `revision` when given, else at revision 1 of the bundled app or the HEAD of
    the user's repository.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    remote = state_dir / "remote.git"
    if remote.exists():
        shutil.rmtree(remote)
    if app_repo is None:
        revisions: tuple[str, ...] = _bundled(remote)
    else:
        if not (app_repo / ".git").exists() and not (app_repo / "HEAD").exists():
            raise AppRepoError(f"{app_repo} is not a git repository")
        git(state_dir, "clone", "--quiet", "--bare", str(app_repo.resolve()), str(remote))
        revisions = (git(remote, "rev-parse", "HEAD"),)
    start = revisions[0] if revision is None else resolve(remote, revision)
    return Remote(path=remote, revisions=revisions, start=start)


def resolve(repo: Path, revision: str) -> str:
    """The commit SHA a revision name (SHA, branch, tag) stands for in `repo`."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except subprocess.CalledProcessError as error:
        raise AppRepoError(f"revision {revision!r} is not a commit of {repo}") from error


def git(directory: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `directory` and return its trimmed output."""
    # The rehearsal (root) inspects checkouts the app user owns. This does not reach the upload-pack
    # of a local clone, so clones of the app user's remote run as the app user (provision.py).
    result = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else os.environ | env,
    )
    return result.stdout.strip()


def _bundled(remote: Path) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="releaseflow-app-") as work:
        tree = Path(work) / "app"
        shutil.copytree(SAMPLE_APP, tree, ignore=shutil.ignore_patterns("__pycache__"))
        git(tree, "init", "--quiet", "--initial-branch", BRANCH)
        first = _commit(tree, "Sample Rails app with /up", FIRST_DATE)
        for name, text in SECOND_REVISION.items():
            path = tree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        second = _commit(tree, "Add notes (migration), show their count, restyle the page", SECOND_DATE)
        git(tree, "clone", "--quiet", "--bare", str(tree), str(remote))
    return first, second


def _commit(tree: Path, message: str, date: str) -> str:
    dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git(tree, "add", "--all")
    git(tree, "commit", "--quiet", "--no-gpg-sign", "--message", message, env=AUTHOR | dates)
    return git(tree, "rev-parse", "HEAD")


def push_commit(
    state_dir: Path,
    files: dict[str, str | None],
    message: str,
    parent: str | None = None,
    executable: tuple[str, ...] = (),
) -> str:
    """Commit `files` (path -> text, None deletes; the paths in `executable` with mode 100755) on top of
    `parent` (default revision 1) to STATE/remote.git.

    The commit gets a branch of its own (scenario/<sha>), so the hosts' fetch brings it; returns its SHA.
    """
    remote = state_dir / "remote.git"
    if parent is None:
        parent = FleetRecord.load(state_dir).revisions[0]
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
            mode = "100755" if path in executable else "100644"
            git(remote, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
        tree = git(remote, "write-tree", env=env)
        sha = git(remote, "commit-tree", tree, "-p", parent, "-m", message, env=env)
    git(remote, "update-ref", f"refs/heads/scenario/{sha}", sha)
    # The hosts fetch as the app user, and git refuses objects in a repository owned by someone else.
    user = provision.ensure_app_user()
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(remote)], check=True)
    return sha


UNHEALTHY_WHERE_FLAGGED = """\
class UpController < ActionController::Base
  def show
    revision = Rails.configuration.x.revision
    response.set_header("X-Revision", revision)
    status = ENV["SCENARIO_UNHEALTHY"] == "1" ? :service_unavailable : :ok
    render plain: "#{status} #{revision}\\n", status: status
  end
end
"""


@contextmanager
def unhealthy_on(state_dir: Path, host: str, parent: str | None = None) -> Iterator[str]:
    """Yield a new revision (on `parent`, default revision 1) whose /up fails on `host` alone: its .env
    says SCENARIO_UNHEALTHY=1 for the block, and is as it was after."""
    revision = push_commit(
        state_dir,
        {"app/controllers/up_controller.rb": UNHEALTHY_WHERE_FLAGGED},
        "/up fails where SCENARIO_UNHEALTHY=1",
        parent=parent,
    )
    env_file = FleetRecord.load(state_dir).host(host).root / "app" / ".env"
    original = env_file.read_text()
    env_file.write_text(original + "SCENARIO_UNHEALTHY=1\n")
    try:
        yield revision
    finally:
        env_file.write_text(original)
