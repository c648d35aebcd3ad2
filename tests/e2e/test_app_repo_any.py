"""Any stock Rails app given with `local up --app-repo` deploys like the bundled one: a migration, then a rolling restart."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

import rails_app
from releaseflow.cli import main
from releaseflow.rehearsal.harness import fleet
from scenarios import RELEASEFLOW, fleet_state_dir

pytestmark = pytest.mark.rehearsal
MIGRATION_VERSION = "20260301000000"
WIDGETS = "    create_table :widgets do |t|\n      t.string :name\n      t.timestamps\n    end\n"


@pytest.fixture(scope="module")
def stock_app(tmp_path_factory) -> tuple[Path, str, str]:
    """`rails new --minimal --skip-bundle` (Debian's rails, offline) plus /up and its Gemfile.lock; then a
    commit with a migration."""
    app = tmp_path_factory.mktemp("byo") / "shop"
    first = rails_app.new_app(app)
    second = rails_app.commit(
        app, "Add widgets", rails_app.migration(MIGRATION_VERSION, "CreateWidgets", WIDGETS)
    )
    return app, first, second


@pytest.fixture(scope="module")
def byo_fleet(stock_app):
    """Two hosts running the stock app's first commit; yields the state dir, taken down after."""
    app, first, _ = stock_app
    with fleet_state_dir("rf-byo-") as state_dir:
        command = ["local", "up", "--hosts", "2", "--app-repo", str(app), "--revision", first]
        assert main([*command, "--state-dir", str(state_dir)]) == 0
        yield state_dir


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
