"""The built wheel carries its documents: installed in a fresh virtualenv, it works from an app's folder."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
environments:
  production:
    region: eu-west-1
    parameters:
      FleetTagValue: shop
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (found,) = (work / "dist").glob("releaseflow-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Path:
    """The `releaseflow` script of a fresh virtualenv holding only the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("package")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies (boto3, ruamel.yaml, jsonschema) come from this interpreter's site-packages,
    # appended after the fresh one, so the test needs no index; releaseflow itself only from the wheel
    # (a path added by a .pth line has its own .pth files, the editable install's among them, ignored).
    (Path(purelib) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    unpacked = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", purelib, str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unpacked.returncode == 0, unpacked.stderr
    script = env_dir / "bin" / "releaseflow"
    script.write_text(f"#!{python}\nimport sys\nfrom releaseflow.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return script


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
    result = run(installed, app, "plan", "--hosts", "i-0a,i-0b,i-0c")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("migration host: i-0a")
    assert "batch 2: i-0c" in result.stdout


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
