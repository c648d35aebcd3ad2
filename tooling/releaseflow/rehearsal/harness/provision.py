"""First provisioning of a rehearsal host, as an AMI plus user data would do it: not the deploy flow."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from releaseflow.errors import ReleaseflowError
from releaseflow.rehearsal.host import services
from releaseflow.rehearsal.host.agent import AGENT_LANG, AGENT_PATH, Host
from releaseflow.rehearsal.host.shell_runner import HostCommand

APP_USER = "releaseflow"
# Where every host sees its own checkout: the agent and the stand-in bind STATE/hosts/<id>/app here.
APP_DIR = "/srv/app"
INSTALL_COMMAND = "bundle install --local"
SERVICE = "puma"
# A worker host (`local up --worker-hosts N`) runs the app's job worker (bin/worker) as this unit instead
# of puma, and is tagged ROLE_TAG: it is never in the load balancer.
WORKER_SERVICE = "worker"
ROLE_TAG = ("releaseflow:role", "worker")
# A host whose Ruby tools come from a version manager, as with rbenv: in the host's mount namespace
# `bundle` and `bundler` are not on the system PATH (an empty file without x bits is mounted over each),
# and the app user reaches them only through ~/.rbenv/shims, which its ~/.profile puts first on PATH.
# The marker file in the host's folder says so, for every process started on the host (agent, puma).
SHIMMED_RUBY_MARKER = "shimmed-ruby"
HIDDEN_TOOLS = ("/usr/bin/bundle", "/usr/bin/bundler")
SHIMS = ".rbenv/shims"
SHIM = """\
#!/bin/sh
# releaseflow rehearsal: a version manager's shim for `{name}` (the system's, under another name).
exec /usr/bin/ruby3.1 /usr/bin/{name}3.1 "$@"
"""
PROFILE = f"""\
# releaseflow rehearsal: Ruby from a version manager, found through its shims (as `rbenv init` sets up).
PATH="$HOME/{SHIMS}:$PATH"
"""
# A host's app unit: puma on a web host, the job worker on a worker host.
UNIT = """\
[Unit]
Description={description}
After=network.target

[Service]
Type=simple
User={user}
WorkingDirectory={app_dir}
EnvironmentFile={app_dir}/.env
ExecStart={exec_start}
TimeoutStopSec=10

[Install]
WantedBy=multi-user.target
"""
PUMA = ("Puma HTTP server for the Rails app", "{bundle} exec puma -C config/puma.rb")
WORKER = ("The Rails app's job worker (quiet on TSTP, stops on TERM, as Sidekiq)", "/usr/bin/ruby bin/worker")


class ProvisionError(ReleaseflowError):
    """A host could not be set up for the rehearsal."""


def host_of(host_root: Path) -> Host:
    """A rehearsal host as its agent runs it: STATE/hosts/<id>/app on APP_DIR, its own bin/ first on PATH
    (on a host with shimmed Ruby, the system's `bundle` and `bundler` hidden)."""
    binds = [(str(host_root / "app"), APP_DIR)]
    if shimmed_ruby(host_root):
        binds += [(str(host_root / SHIMMED_RUBY_MARKER), tool) for tool in HIDDEN_TOOLS]
    return Host(
        instance_id=host_root.name,
        root=host_root,
        binds=tuple(binds),
        path_prefix=str(host_root / "bin"),
    )


def shimmed_ruby(host_root: Path) -> bool:
    """Whether the host's app user has Ruby's tools only through version-manager shims."""
    return (host_root / SHIMMED_RUBY_MARKER).is_file()


def ensure_app_user(name: str = APP_USER) -> pwd.struct_passwd:
    """The app's system user (no login shell, home = the app dir), created when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        _run(
            [
                "useradd",
                "--system",
                "--home-dir",
                APP_DIR,
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ]
        )
        return pwd.getpwnam(name)


def environment_file(port: int, database_url: str) -> str:
    """The host's .env: what puma and the migrations read."""
    return (
        "RAILS_ENV=production\n"
        f"PORT={port}\n"
        "BIND_ADDRESS=127.0.0.1\n"
        f"DATABASE_URL={database_url}\n"
        f"SECRET_KEY_BASE={secrets.token_hex(64)}\n"
        "RAILS_LOG_TO_STDOUT=1\n"
        # Puma serves public/assets itself: the rehearsal has no web server in front of it.
        "RAILS_SERVE_STATIC_FILES=1\n"
    )


def provision_host(
    host_root: Path,
    remote: Path,
    revision: str,
    port: int,
    database_url: str,
    *,
    shimmed: bool = False,
    image: Path | None = None,
    worker: bool = False,
) -> None:
    """Clone the app at `revision`, write .env, the puma unit and systemctl, and install the gems.

    `shimmed`: the app user's Ruby tools only through ~/.rbenv/shims on its profile's PATH (HIDDEN_TOOLS).
    `image`: the root of a host provisioned alike (same remote, revision and `shimmed`) whose checkout is
    copied, gems and built assets with it, instead of cloning, installing and building again: hosts
    launched from one image.
    `worker`: a worker host, whose unit is WORKER_SERVICE (bin/worker) instead of puma."""
    user = ensure_app_user()
    app = host_root / "app"
    if app.exists():
        shutil.rmtree(app)
    host_root.mkdir(parents=True, exist_ok=True)
    marker = host_root / SHIMMED_RUBY_MARKER
    if shimmed:
        # Empty and not executable: what is mounted over each hidden tool.
        marker.write_bytes(b"")
        marker.chmod(0o644)
    elif marker.exists():
        marker.unlink()
    if image is not None:
        # cp -a: owners, modes and links as they are (shutil.copytree keeps no owners).
        _run(["cp", "-a", str(image / "app"), str(app)])
        _configure(host_root, port, database_url, shimmed=shimmed, user=user, worker=worker)
        return
    app.mkdir(parents=True)
    os.chown(app, user.pw_uid, user.pw_gid)
    # As the app user: git refuses a remote owned by someone else, and the app user owns the remote
    # because the deploy's own fetches run as the app user.
    as_app(host_root, ["git", "clone", "--quiet", str(remote), APP_DIR])
    as_app(host_root, ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", revision])
    _configure(host_root, port, database_url, shimmed=shimmed, user=user, worker=worker)
    as_app(host_root, INSTALL_COMMAND.split())
    if asset_pipeline(app):
        # The first build, as an image's build would do it; a deploy's builds come from PrepareRevision.
        as_app(host_root, ["env", *_app_environment(host_root), "bin/rails", "assets:precompile"])


def _configure(
    host_root: Path,
    port: int,
    database_url: str,
    *,
    shimmed: bool,
    user: pwd.struct_passwd,
    worker: bool = False,
) -> None:
    """What is the host's own: its .env (its port), its puma or worker unit, systemctl, its Ruby's shims."""
    app = host_root / "app"
    env = app / ".env"
    env.write_text(environment_file(port, database_url))
    env.chmod(0o600)
    os.chown(env, user.pw_uid, user.pw_gid)
    units = host_root / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    if shimmed and not (app / SHIMS).is_dir():
        # The app user's home is APP_DIR: the shims and the profile sit in the checkout, untracked.
        shims = app / SHIMS
        shims.mkdir(parents=True)
        for name in ("bundle", "bundler"):
            (shims / name).write_text(SHIM.format(name=name))
            (shims / name).chmod(0o755)
        (app / ".profile").write_text(PROFILE)
        for path in (app / ".rbenv", shims, *shims.iterdir(), app / ".profile"):
            os.chown(path, user.pw_uid, user.pw_gid)
    bundle = f"{APP_DIR}/{SHIMS}/bundle" if shimmed else "/usr/bin/bundle"
    name, (description, exec_start) = (WORKER_SERVICE, WORKER) if worker else (SERVICE, PUMA)
    unit = UNIT.format(
        description=description, user=APP_USER, app_dir=APP_DIR, exec_start=exec_start.format(bundle=bundle)
    )
    (units / f"{name}.service").write_text(unit)
    services.install(host_root)


def asset_pipeline(app: Path) -> bool:
    """Whether the app's Gemfile.lock has sprockets or propshaft (the documents' own test)."""
    lock = app / "Gemfile.lock"
    lines = lock.read_text().splitlines() if lock.is_file() else []
    return any(line.startswith(("    sprockets ", "    propshaft ")) for line in lines)


def _app_environment(host_root: Path) -> list[str]:
    """The host's .env as env(1) assignments, as the documents give it to the app user's commands."""
    env = services.parse_environment_file((host_root / "app" / ".env").read_text())
    return [f"{key}={value}" for key, value in env.items()]


def migrate(host_root: Path) -> None:
    """Create and migrate the shared database once, from this host's checkout (db:prepare)."""
    as_app(host_root, ["env", *_app_environment(host_root), "bundle", "exec", "rails", "db:prepare"])


def start_service(host_root: Path, service: str = SERVICE) -> None:
    """Start puma (or `service`) through the host's own systemctl, inside the host's view of /srv/app."""
    in_host(host_root, [str(host_root / "bin" / "systemctl"), "start", service])


def is_worker(host_root: Path) -> bool:
    """Whether the host runs the job worker rather than puma (its unit says so)."""
    return (host_root / "etc" / "systemd" / "system" / f"{WORKER_SERVICE}.service").is_file()


def start_agent(host_root: Path, endpoint_url: str, log: Path) -> int:
    """Run the host's SSM agent stand-in in its own session; returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    host = host_of(host_root)
    binds = [option for source, target in host.binds for option in ("--bind", f"{source}:{target}")]
    with log.open("ab") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "releaseflow.rehearsal.host.agent",
                "--endpoint",
                endpoint_url,
                "--instance-id",
                host.instance_id,
                "--host-root",
                str(host.root),
                *binds,
                "--path-prefix",
                host.path_prefix,
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def as_app(host_root: Path, argv: list[str]) -> None:
    """Run argv as the app user in /srv/app, with HOME there, as the documents run bundler and rails."""
    path = [f"PATH={APP_DIR}/{SHIMS}:{AGENT_PATH}"] if shimmed_ruby(host_root) else []
    in_host(host_root, ["runuser", "-u", APP_USER, "--", "env", f"HOME={APP_DIR}", *path, *argv])


def in_host(host_root: Path, argv: list[str]) -> None:
    """Run argv in /srv/app as the host's agent runs a script: its mount namespace and environment."""
    _run(argv, host_of(host_root).command(argv, command_id="", working_directory=APP_DIR))


def _run(argv: list[str], command: HostCommand | None = None) -> None:
    """Run argv on this machine with the agent's PATH, or as `command` (argv on a host); errors name argv."""
    if command is None:
        command = HostCommand(tuple(argv), "/", {"PATH": AGENT_PATH, "LANG": AGENT_LANG})
    result = subprocess.run(
        command.argv, cwd=command.cwd, env=command.environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-2000:]
        raise ProvisionError(f"`{' '.join(argv[-6:])}` failed ({result.returncode}): {output}")
