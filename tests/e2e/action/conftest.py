"""The fixtures the action's end-to-end modules share: the app's repository, the runner's checkout, the
action's folder, the runner's fresh Python and a fleet of the app. Module-scoped: each module (and so each
xdist worker, with --dist loadfile) has its own, and the two modules run side by side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rails_app
from action_workflow import FAILS, WIDGETS
from checkout import checkout_copy
from releaseflow.rehearsal.harness import fleet
from releaseflow.rehearsal.harness.app_repo import git
from releaseflow.rehearsal.harness.fleet_record import FleetRecord
from scenarios import Fleet as ScenarioFleet
from scenarios import fleet_state_dir


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The app's repository: its default branch at a stock Rails app, a branch adding a table, one whose migration fails."""
    app = tmp_path_factory.mktemp("adopter") / "shop"
    base = rails_app.new_app(app)
    default_branch = git(app, "symbolic-ref", "--short", "HEAD")
    head = rails_app.commit(
        app, "Add widgets", rails_app.migration("20260301000000", "CreateWidgets", WIDGETS)
    )
    git(app, "branch", "add-widgets", head)
    git(app, "checkout", "--quiet", "-b", "broken-migration", base)
    broken = rails_app.commit(
        app, "A migration that fails", rails_app.migration("20260302000000", "Breaks", FAILS)
    )
    git(app, "checkout", "--quiet", default_branch)
    return app, {"base": base, "head": head, "broken": broken}


@pytest.fixture(scope="module")
def workspace(origin, tmp_path_factory) -> Path:
    """GITHUB_WORKSPACE: a clone of the app, as actions/checkout leaves it (remote branches, no local one)."""
    app, revisions = origin
    checkout = tmp_path_factory.mktemp("workspace") / "shop"
    subprocess.run(["git", "clone", "--quiet", str(app), str(checkout)], check=True)
    git(checkout, "checkout", "--quiet", "--detach", revisions["base"])
    for branch in git(checkout, "for-each-ref", "--format=%(refname:short)", "refs/heads").split():
        git(checkout, "branch", "--quiet", "--delete", "--force", branch)
    return checkout


@pytest.fixture(scope="module")
def action(tmp_path_factory) -> Path:
    """The action's folder as `uses:` checks it out: this repository's files, in a folder of their own (a
    build there has its own build/, whatever else builds this checkout meanwhile)."""
    return checkout_copy(tmp_path_factory.mktemp("action") / "releaseflow")


@pytest.fixture(scope="module")
def python(tmp_path_factory) -> Path:
    """actions/setup-python's Python: a fresh virtualenv without system site-packages, reused by every case."""
    venv = tmp_path_factory.mktemp("setup-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # Nothing of this checkout's environment shows through: whatever releaseflow needs, the action installs.
    bare = subprocess.run([venv / "bin" / "python", "-c", "import boto3"], capture_output=True, check=False)
    assert bare.returncode != 0
    return venv


@pytest.fixture(scope="module")
def app_fleet(origin):
    """Two hosts of the app at its base, up for plan and deploy mode (rehearse mode brings its own)."""
    app, revisions = origin
    with fleet_state_dir("rf-action-") as state_dir:
        fleet.up(state_dir, hosts=2, app_repo=app, revision=revisions["base"])
        yield ScenarioFleet(state_dir, {**os.environ, **fleet.env(state_dir)}, FleetRecord.load(state_dir))
