"""Any stock Rails app given with `local up --app-repo` deploys like the bundled one: a migration, then a rolling restart."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from releaseflow.cli import main
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.app_repo import AUTHOR, git
from scenarios import RELEASEFLOW, fleet_state_dir

pytestmark = pytest.mark.rehearsal
# Gems of a stock `rails new --minimal` Gemfile beyond what the bundled app uses; the Makefile installs them.
STOCK_GEM_PACKAGES = ("ruby-sass-rails", "ruby-byebug", "ruby-listen")
# The one line a Rails 6.1 app needs for the health check (Rails 7.1+ apps answer /up out of the box).
UP_ROUTE = 'get "/up", to: proc { [200, {"Content-Type" => "text/plain"}, ["ok"]] }'
MIGRATION_VERSION = "20260301000000"
MIGRATION = """\
class CreateWidgets < ActiveRecord::Migration[6.1]
  def change
    create_table :widgets do |t|
      t.string :name
      t.timestamps
    end
  end
end
"""


@pytest.fixture(scope="module")
def stock_app(tmp_path_factory) -> tuple[Path, str, str]:
    """`rails new --minimal --skip-bundle` (Debian's rails, offline) plus /up and its Gemfile.lock; then a
    commit with a migration."""
    missing = [
        package
        for package in ("ruby-rails", *STOCK_GEM_PACKAGES)
        if subprocess.run(["dpkg", "-s", package], capture_output=True, check=False).returncode != 0
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make system-packages` (as root)")
    app = tmp_path_factory.mktemp("byo") / "shop"
    subprocess.run(
        ["rails", "new", str(app), "--minimal", "--skip-bundle"], capture_output=True, check=True, timeout=120
    )
    routes = app / "config" / "routes.rb"
    routes.write_text(routes.read_text().replace("draw do\n", f"draw do\n  {UP_ROUTE}\n", 1))
    # A production app commits its Gemfile.lock (`rails new` without --skip-bundle writes it); deploys
    # install it frozen. Resolved offline against the installed gems.
    subprocess.run(["bundle", "lock", "--local"], cwd=app, capture_output=True, check=True, timeout=120)
    first = _commit(app, "New Rails app with /up")
    migration = app / "db" / "migrate" / f"{MIGRATION_VERSION}_create_widgets.rb"
    migration.parent.mkdir(parents=True)
    migration.write_text(MIGRATION)
    second = _commit(app, "Add widgets")
    return app, first, second


@pytest.fixture(scope="module")
def byo_fleet(stock_app):
    """Two hosts running the stock app's first commit; yields the state dir, taken down after."""
    app, first, _ = stock_app
    with fleet_state_dir("rf-byo-") as state_dir:
        command = ["local", "up", "--hosts", "2", "--app-repo", str(app), "--revision", first]
        assert main([*command, "--state-dir", str(state_dir)]) == 0
        yield state_dir


def _commit(app: Path, message: str) -> str:
    git(app, "add", "--all")
    git(app, "commit", "--quiet", "--no-gpg-sign", "--message", message, env=AUTHOR)
    return git(app, "rev-parse", "HEAD")


def test_a_stock_rails_app_deploys_its_next_commit_with_its_migration(stock_app, byo_fleet):
    """Deploying the stock app's second commit: exit 0, both hosts at it, serving it, healthy, migration applied."""
    _, _, second = stock_app
    result = subprocess.run(
        [RELEASEFLOW, "deploy", "--revision", second],
        env={**os.environ, **fleet.env(byo_fleet)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    status = fleet.status(byo_fleet)
    assert [(h.revision, h.serving, h.running, h.lb_state) for h in status.hosts] == [
        (second, second, True, "healthy")
    ] * 2
    with sqlite3.connect(byo_fleet / "db" / "production.sqlite3") as db:
        versions = {row[0] for row in db.execute("select version from schema_migrations")}
    assert MIGRATION_VERSION in versions
