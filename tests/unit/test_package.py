"""The built wheel carries its documents: installed in a fresh virtualenv, it works from an app's folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from checkout import checkout_copy
from releaseflow.readings import DEFAULT

ROOT = Path(__file__).resolve().parents[2]
NEEDS_A_HOST = "failed_run_command_outputs"
CONFIG = """\
environments:
  production:
    region: eu-west-1
    parameters:
      FleetTagValue: shop
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout (a copy of it: parallel builds must not share its build/)."""
    work = tmp_path_factory.mktemp("wheel")
    source = checkout_copy(work / "source")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (found,) = (work / "dist").glob("releaseflow-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Path:
    """The `releaseflow` script of a plain install, as the action makes it: a virtualenv created without
    the system's or this environment's site-packages, and `pip install --no-compile` of the wheel, which
    brings only the package's declared dependencies from the package index."""
    env_dir = tmp_path_factory.mktemp("package") / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    python = env_dir / "bin" / "python"
    isolated = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))
    }
    installed = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        env=isolated,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    return env_dir / "bin" / "releaseflow"


def distributions(script: Path) -> set[str]:
    """The names of the distributions installed beside `script`, lower case."""
    listed = subprocess.run(
        [script.parent / "python", "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {item["name"].lower() for item in json.loads(listed.stdout)}


@pytest.fixture
def app(tmp_path, monkeypatch) -> Path:
    """Another Rails app's repository: a releaseflow.yaml and no documents/ or automation/ of its own."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "releaseflow.yaml").write_text(CONFIG)
    return folder


def run(script: Path, folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "RELEASEFLOW_"))}
    clean.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(script), *args], cwd=folder, capture_output=True, text=True, env={**clean, **env}, check=False
    )


def test_the_wheel_leaves_out_the_bench(wheel):
    """The bench is a developer tool run by `make bench`: the package users install does not carry it."""
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.startswith("releaseflow/") for name in names)
    assert not [name for name in names if "bench/" in name or name.startswith("bench")]


def test_the_wheel_carries_every_module_and_the_rehearsal_app(wheel):
    """Every tracked file of the package (each rehearsal subpackage, the sample app's dot files too) is in it."""
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "tooling/releaseflow"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    wanted = {path.removeprefix("tooling/") for path in tracked}
    assert "releaseflow/rehearsal/harness/sample_app/Gemfile.lock" in wanted
    assert "releaseflow/rehearsal/host/agent.py" in wanted
    assert sorted(wanted - names) == []


def test_the_package_comes_from_the_wheel(installed, app):
    """The fresh virtualenv imports releaseflow from its own site-packages, not from this checkout."""
    found = subprocess.run(
        [installed.parent / "python", "-c", "import releaseflow; print(releaseflow.__file__)"],
        cwd=app,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert found.startswith(str(installed.parent.parent)), found
    assert (Path(found).parent / "_documents" / "automation" / "releaseflow-Deploy.yaml").is_file()


def test_validate_checks_the_packaged_documents(installed, app):
    """`releaseflow validate --strict` in an app's folder checks the documents the wheel carries."""
    result = run(installed, app, "validate", "--strict", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    broken = app / "elsewhere" / "documents"
    broken.mkdir(parents=True)
    (broken / "releaseflow-Broken.yaml").write_text("mainSteps: [\n")
    (app / "releaseflow.yaml").write_text(f"documents: elsewhere\n{CONFIG}")
    result = run(installed, app, "validate")
    assert result.returncode == 1
    assert "elsewhere/documents/releaseflow-Broken.yaml:2: E001" in result.stdout


def test_plan_uses_the_packaged_runbook(installed, app):
    """`releaseflow plan` finds the Deploy runbook inside the installed package."""
    result = run(installed, app, "plan", "--hosts", "i-0aaaaaaa,i-0bbbbbbb,i-0ccccccc")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("migration host: i-0aaaaaaa")
    assert "batch 2: i-0ccccccc" in result.stdout


def test_publish_dry_run_plans_every_packaged_document(installed, app):
    """`releaseflow publish --dry-run` against an AWS endpoint plans a create for each packaged document."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        result = run(
            installed,
            app,
            "publish",
            "--dry-run",
            "--commit",
            "feedbeef",
            AWS_ENDPOINT_URL=f"http://{host}:{port}",
            AWS_REGION="eu-west-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    packaged = sorted(
        path.stem for folder in ("documents", "automation") for path in (ROOT / folder).iterdir()
    )
    planned = sorted(line.split()[1] for line in result.stdout.splitlines() if line.startswith("create"))
    assert planned == packaged


def test_version_is_written_once(installed, app):
    """`releaseflow --version` of the wheel is pyproject.toml's version: no second copy in the code."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = run(installed, app, "--version")
    assert result.stdout == f"releaseflow {declared}\n"
    assert declared not in (ROOT / "tooling" / "releaseflow" / "__init__.py").read_text()


def test_a_plain_install_has_no_rehearsal_or_test_tools(installed):
    """What the action installs is the product alone: none of the `local` or `test` extras come with it."""
    present = distributions(installed)
    assert "releaseflow" in present
    assert present.isdisjoint({"moto", "flask", "werkzeug", "pytest", "cfn-lint", "awscli", "ansible-core"})


def test_every_product_command_starts_on_a_plain_install(installed, app):
    """--help of the CLI and of each command an adopter runs against AWS exits 0 with only the declared
    dependencies installed."""
    assert run(installed, app, "--help").returncode == 0
    for command in (
        "config",
        "validate",
        "plan",
        "publish",
        "deploy",
        "status",
        "history",
        "probe",
        "schedules",
    ):
        result = run(installed, app, command, "--help")
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stdout.startswith(f"usage: releaseflow {command}")


def test_config_commands_work_on_a_plain_install(installed, app):
    """`config check` accepts the app's releaseflow.yaml and `config schema` prints the JSON Schema."""
    checked = run(installed, app, "config", "check")
    assert checked.returncode == 0, checked.stderr
    schema = run(installed, app, "config", "schema")
    assert json.loads(schema.stdout)["properties"]["environments"]


@pytest.mark.parametrize("command", [("local", "up"), ("local", "status"), ("demo",)])
def test_a_rehearsal_command_on_a_plain_install_says_what_to_install(installed, app, command):
    """A rehearsal command where only the product is installed is one line naming the extra, exit 2."""
    result = run(installed, app, *command)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: the local rehearsal is not installed (no module 'moto'): pip install 'releaseflow[local]', "
        "then, as root, the Debian packages of `make system-packages`\n"
    )


def test_deploy_and_status_of_a_plain_install_run_against_an_endpoint(installed, app, endpoint_server):
    """Against an endpoint that runs runbooks (the rehearsal's, with no hosts), the plain install publishes,
    starts a deploy and follows it to its end (Failed: no host carries the fleet tag), shows it with
    `status` and `history`, schedules one with `--at`, and probes the endpoint's readings."""
    aws = {key: value for key, value in endpoint_server.environment().items() if key.startswith("AWS_")}
    # The rehearsal's endpoint serves one region.
    role = "      AutomationAssumeRole: arn:aws:iam::123456789012:role/releaseflow-AutomationRole\n"
    (app / "releaseflow.yaml").write_text(CONFIG.replace("eu-west-1", aws["AWS_DEFAULT_REGION"]) + role)
    published = run(installed, app, "publish", "--environment", "production", **aws)
    assert published.returncode == 0, published.stderr
    deployed = run(installed, app, "deploy", "--environment", "production", "--revision", "a" * 40, **aws)
    assert deployed.returncode == 1, deployed.stderr
    assert "no running instance carries the fleet tag" in deployed.stdout + deployed.stderr
    status = run(installed, app, "status", "--json", **aws)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "Failed"
    history = run(installed, app, "history", "--environment", "production", "--json", **aws)
    assert history.returncode == 0, history.stderr
    assert [(h["kind"], h["status"]) for h in json.loads(history.stdout)] == [("deploy", "Failed")]
    later = run(
        installed,
        app,
        "deploy",
        "--environment",
        "production",
        "--revision",
        "b" * 40,
        "--at",
        "2099-01-31T22:00Z",
        "--scheduler-role",
        "arn:aws:iam::123456789012:role/releaseflow-SchedulerRole",
        **aws,
    )
    assert later.returncode == 0, later.stderr
    assert "2099-01-31" in later.stdout
    # Without --instance-id the one reading that needs a host is not probed, so probe cannot say yes (1).
    probed = run(installed, app, "probe", "--json", **aws)
    assert probed.returncode == 1, probed.stderr
    assert json.loads(probed.stdout) == {
        name: value for name, value in DEFAULT.items() if name != NEEDS_A_HOST
    }


def test_no_product_module_imports_the_rehearsal():
    """Importing every module outside releaseflow.rehearsal, with the rehearsal's dependencies hidden,
    loads nothing of the rehearsal: the product never imports it."""
    program = """
import importlib, sys
from pathlib import Path
for name in ("moto", "flask", "werkzeug"):
    sys.modules[name] = None
import releaseflow
package = Path(releaseflow.__file__).parent
for path in sorted(package.rglob("*.py")):
    parts = path.relative_to(package.parent).with_suffix("").parts
    if "rehearsal" in parts or parts[-1] == "__main__":
        continue
    importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
print(sorted(name for name in sys.modules if name.startswith("releaseflow.rehearsal")))
"""
    found = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    assert found.stdout == "[]\n"


def test_the_offline_threshold_in_help_is_the_rehearsals(capsys):
    """`local up --help` states the rehearsal's own OFFLINE_AFTER (written there once, without importing it)."""
    from releaseflow.cli import main
    from releaseflow.rehearsal.harness.fleet_record import OFFLINE_AFTER

    with pytest.raises(SystemExit):
        main(["local", "up", "--help"])
    assert f"ConnectionLost (default {OFFLINE_AFTER:g})" in " ".join(capsys.readouterr().out.split())


def test_the_readmes_smallest_configuration_checks_in_a_fresh_folder(installed, tmp_path):
    """The README's adoption step 3, as written: its releaseflow.yaml in an empty folder passes
    `releaseflow config check` with a plain install, and `plan` works there with the packaged runbook."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n\s*# releaseflow.yaml\n(.*?)```", readme, re.DOTALL).group(1)
    folder = tmp_path / "my-app"
    folder.mkdir()
    (folder / "releaseflow.yaml").write_text(textwrap.dedent(block))
    checked = run(installed, folder, "config", "check")
    assert checked.returncode == 0, checked.stderr
    planned = run(installed, folder, "plan", "--hosts", "i-0aaaaaaa,i-0bbbbbbb")
    assert planned.returncode == 0, planned.stderr
