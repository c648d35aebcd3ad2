"""The rehearsal's app: the bundled Rails app's git remote, and the app itself booting offline."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from releaseflow.rehearsal.harness.app_repo import AppRepoError, build_remote, git, resolve
from releaseflow.rehearsal.harness.fleet import free_port
from releaseflow.rehearsal.host.services import alive, wait_gone


def _files(repo: Path, revision: str) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", revision).splitlines())


def test_bundled_remote_has_two_real_revisions_the_second_adding_a_migration(tmp_path):
    """Revision 1 is the app without migrations; revision 2 adds the notes migration; the fleet starts at 1."""
    remote = build_remote(tmp_path)
    first, second = remote.revisions
    assert remote.start == first
    assert git(remote.path, "rev-parse", "main") == second
    assert git(remote.path, "rev-parse", f"{second}^") == first
    assert "config/routes.rb" in _files(remote.path, first)
    assert not any(name.startswith("db/migrate/") for name in _files(remote.path, first))
    added = set(git(remote.path, "diff", "--name-only", first, second).splitlines())
    assert "db/migrate/20260102000000_create_notes.rb" in added


def test_bundled_revisions_are_the_same_commits_on_every_build(tmp_path):
    """Fixed authors and dates make the bundled revisions reproducible SHAs."""
    assert build_remote(tmp_path / "a").revisions == build_remote(tmp_path / "b").revisions


def test_remote_skips_generated_files(tmp_path):
    """The committed app carries no logs, tmp files, databases or installed gems."""
    remote = build_remote(tmp_path)
    files = _files(remote.path, remote.revisions[1])
    assert {"Gemfile", "Gemfile.lock", "config/puma.rb", "app/controllers/up_controller.rb"} <= files
    assert not [name for name in files if name.endswith((".sqlite3", ".log")) or "/bundle/" in name]


def test_a_users_repo_is_served_from_its_head_or_the_given_revision(tmp_path):
    """--app-repo clones the user's repository; the fleet starts at its HEAD unless a revision is given."""
    bundled = build_remote(tmp_path / "bundled")
    user = tmp_path / "user"
    git(tmp_path, "clone", "--quiet", str(bundled.path), str(user))
    remote = build_remote(tmp_path / "state", app_repo=user)
    assert remote.revisions == (bundled.revisions[1],)
    assert remote.start == bundled.revisions[1]
    pinned = build_remote(tmp_path / "state", app_repo=user, revision="HEAD~1")
    assert pinned.start == bundled.revisions[0]


def test_unknown_revision_and_non_repository_are_domain_errors(tmp_path):
    """A revision that is no commit, or an app repo that is no git repository, raise AppRepoError."""
    remote = build_remote(tmp_path)
    with pytest.raises(AppRepoError, match="not a commit"):
        resolve(remote.path, "no-such-branch")
    (tmp_path / "plain").mkdir()
    with pytest.raises(AppRepoError, match="not a git repository"):
        build_remote(tmp_path / "state", app_repo=tmp_path / "plain")


@pytest.mark.rehearsal
def test_the_app_installs_offline_migrates_and_serves_its_commit_on_up():
    """bundle install --local, db:prepare and puma work offline; /up answers 200 with the commit it booted from."""
    for tool in ("ruby", "bundle", "puma", "git"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run `make system-packages` (as root)")
    state = Path(tempfile.mkdtemp(prefix="rf-app-"))
    try:
        remote = build_remote(state)
        app = state / "app"
        git(state, "clone", "--quiet", str(remote.path), str(app))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(app),
            "RAILS_ENV": "production",
            "DATABASE_URL": f"sqlite3:{state / 'production.sqlite3'}",
            "SECRET_KEY_BASE": "x" * 64,
            "PORT": str(free_port()),
            "BIND_ADDRESS": "127.0.0.1",
        }
        install = subprocess.run(
            ["bundle", "install", "--local"], cwd=app, env=env, capture_output=True, text=True
        )
        assert install.returncode == 0, install.stdout + install.stderr
        prepare = subprocess.run(
            ["bundle", "exec", "rails", "db:prepare"], cwd=app, env=env, capture_output=True, text=True
        )
        assert prepare.returncode == 0, prepare.stderr
        assert git(app, "status", "--porcelain") == ""
        puma = subprocess.Popen(
            ["bundle", "exec", "puma", "-C", "config/puma.rb"],
            cwd=app,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            body = _wait_for_http(f"http://127.0.0.1:{env['PORT']}/up", timeout=30)
            assert body == f"ok {remote.revisions[1]}\n"
            assert "0 notes" in _wait_for_http(f"http://127.0.0.1:{env['PORT']}/", timeout=5)
        finally:
            os.killpg(puma.pid, signal.SIGTERM)
            puma.wait(10)
        assert not alive(puma.pid) and wait_gone(puma.pid, 1)
    finally:
        shutil.rmtree(state)


def _wait_for_http(url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
