"""A stock Rails app repository made offline, as an adopter's would be: `rails new --minimal` plus /up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from releaseflow.rehearsal.harness.app_repo import AUTHOR, git

# Gems of a stock `rails new --minimal` Gemfile beyond what the bundled app uses; the Makefile installs them.
STOCK_GEM_PACKAGES = ("ruby-sass-rails", "ruby-byebug", "ruby-listen")
# The one line a Rails 6.1 app needs for the health check (Rails 7.1+ apps answer /up out of the box).
UP_ROUTE = 'get "/up", to: proc { [200, {"Content-Type" => "text/plain"}, ["ok"]] }'


def new_app(app: Path) -> str:
    """`rails new --minimal --skip-bundle` (Debian's rails, offline) at `app`, with /up and its
    Gemfile.lock, committed; its SHA."""
    missing = [
        package
        for package in ("ruby-rails", *STOCK_GEM_PACKAGES)
        if subprocess.run(["dpkg", "-s", package], capture_output=True, check=False).returncode != 0
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make system-packages` (as root)")
    subprocess.run(
        ["rails", "new", str(app), "--minimal", "--skip-bundle"], capture_output=True, check=True, timeout=120
    )
    routes = app / "config" / "routes.rb"
    routes.write_text(routes.read_text().replace("draw do\n", f"draw do\n  {UP_ROUTE}\n", 1))
    # A production app commits its Gemfile.lock (`rails new` without --skip-bundle writes it); deploys
    # install it frozen. Resolved offline against the installed gems.
    subprocess.run(["bundle", "lock", "--local"], cwd=app, capture_output=True, check=True, timeout=120)
    return commit(app, "New Rails app with /up and its Gemfile.lock")


def migration(version: str, name: str, body: str) -> dict[str, str]:
    """The file of a Rails 6.1 migration class `name` whose `change` runs `body`: path -> text."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    text = f"class {name} < ActiveRecord::Migration[6.1]\n  def change\n{body}  end\nend\n"
    return {f"db/migrate/{version}_{snake}.rb": text}


def commit(app: Path, message: str, files: dict[str, str] | None = None) -> str:
    """Write `files` (path -> text) into the checkout `app`, commit everything; the new commit's SHA."""
    for name, text in (files or {}).items():
        path = app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(app, "add", "--all")
    git(app, "commit", "--quiet", "--no-gpg-sign", "--message", message, env=AUTHOR)
    return git(app, "rev-parse", "HEAD")
