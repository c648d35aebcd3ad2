"""automation/ is what `make runbooks` writes: each script whole from its module, standalone, and current."""

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import runbooks
from devtools.runbooks import (
    HEADER,
    MARKER,
    SCRIPTS,
    TARGET,
    RunbooksError,
    generated_files,
    literal,
    runbook_text,
    script_names,
    script_source,
    stale_files,
)
from releaseflow.documents import load_document
from releaseflow.runbook_scripts import plan_rollout, read_deploy, shared
from releaseflow.ssm import MAX_RUN_COMMAND_INSTANCES, UNSUCCESSFUL

RUFF = Path(sys.executable).parent / "ruff"


def test_every_runbook_is_current():
    """automation/*.yaml equal what `make runbooks` writes from automation-src/ and the script modules now."""
    assert stale_files() == [], (
        "runbooks are stale: edit automation-src/ or the modules, then run `make runbooks`"
    )


def test_every_runbook_has_a_source_and_every_script_step_a_module():
    """Each runbook in automation/ is generated, and each of its aws:executeScript steps from a marker."""
    assert sorted(generated_files()) == sorted(TARGET.glob("*.yaml"))
    for source in runbooks.sources():
        text = source.read_text()
        assert "Script: |" not in text, source.name
        steps = [step for _, step in load_document(TARGET / source.name).steps()]
        scripts = [step for step in steps if step["action"] == "aws:executeScript"]
        assert len(scripts) == len(MARKER.findall(text)), source.name


def test_every_module_is_some_runbook_script_and_the_modules_are_the_package():
    """Each module in runbook_scripts is a step's script, or the shared helpers they are written out with."""
    modules = {path.stem for path in SCRIPTS.glob("*.py")} - {"__init__"}
    assert modules == {*script_names(), "shared"}


@pytest.mark.parametrize("name", script_names())
def test_each_script_stands_alone(tmp_path, name):
    """A generated script imports only the standard library and boto3, defines every name it uses and
    imports nothing it does not use (pyflakes' checks, by ruff), and keeps the module's handler."""
    text = script_source(name)
    tree = ast.parse(text)
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= set(sys.stdlib_module_names) | {"boto3", "botocore"}, imported
    script = tmp_path / f"{name}.py"
    script.write_text(text)
    checked = subprocess.run(
        [RUFF, "check", "--isolated", "--select", "F", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    assert "def handler(events, context" in text
    # The module docstring speaks of the package; the operator reads the step's description instead.
    assert importlib.import_module(f"releaseflow.runbook_scripts.{name}").__doc__ not in text


def test_constants_are_written_out_with_their_value_and_comments_stay_in_the_module():
    """An ssm constant a module imports is written out as its literal value; no comment line is written
    (a runbook's content counts against SSM's 64 KB), but the first line says where they are."""
    text = script_source("plan_rollout")
    assert f"MAX_RUN_COMMAND_INSTANCES = {MAX_RUN_COMMAND_INSTANCES}" in text
    assert not re.search(r"^(from|import) releaseflow", text, re.MULTILINE)
    assert text.startswith(
        "# tooling/releaseflow/runbook_scripts/plan_rollout.py with what it uses of ssm.py"
    )
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == [text.splitlines()[0]]
    # What plan_rollout defines itself stays as written.
    assert f"MAX_HEALTH_SECONDS = {plan_rollout.MAX_HEALTH_SECONDS}" in text


def test_shared_helpers_are_written_out_only_where_used_with_what_they_use():
    """A script carries the shared definitions it imports and what those use, and no other."""
    drain = script_source("drain_batch")
    for needed in (
        "def wait_until(",
        "def online(",
        "def agents(",
        "IDS_PER_CALL = 50",
        "SCRIPT_SECONDS = 600",
    ):
        assert needed in drain
    assert "def register_each(" not in drain
    assert "from botocore.config import Config" in drain
    assert "def wait_until(" not in script_source("list_fleet")
    assert "import boto3" not in script_source("plan_rollout")


def test_literals_are_the_same_on_every_run():
    """Sets are written sorted, strings with double quotes: the generated text does not depend on hashing."""
    assert literal(UNSUCCESSFUL) == 'frozenset({"Cancelled", "Failed", "TimedOut"})'
    assert literal(("a",)) == '("a",)'
    assert literal({"k": [1, 2.5]}) == '{"k": [1, 2.5]}'
    with pytest.raises(RunbooksError):
        literal(object())


def test_a_marker_becomes_the_script_as_a_literal_block_at_its_indent():
    """`Script: <<name>>` becomes `Script: |-` and the script, indented two more, blank lines left empty."""
    text = runbook_text("steps:\n    - name: X\n      Script: <<deploy_finish>>\n      outputs: []\n")
    assert text == (
        "steps:\n    - name: X\n      Script: |-\n"
        f"        {HEADER.format('deploy_finish')}\n"
        "        import json\n\n\n"
        "        def handler(events, context):\n"
        '            """The deploy\'s outputs; UpdatedHosts holds one item a batch (its hosts, comma-separated).\n\n'
        "            One item a batch, not one a host: a list output of aws:executeScript holds at most 100 items, and\n"
        '            a deploy has at most 100 batches.\n            """\n'
        '            batches = json.loads(events["Batches"])\n'
        "            return {\n"
        '                "Revision": events["Revision"],\n'
        '                "MigrationHost": events["MigrationHost"],\n'
        '                "UpdatedHosts": [", ".join(batch) for batch in batches],\n'
        "            }\n"
        "      outputs: []\n"
    )


def test_a_module_importing_more_of_the_package_is_refused(tmp_path, monkeypatch):
    """A module may take only ssm's constants and shared's definitions from the package: anything else
    could not run in aws:executeScript, and the generator says so."""
    (tmp_path / "shared.py").write_text((SCRIPTS / "shared.py").read_text())
    (tmp_path / "bad.py").write_text(
        "from releaseflow.deploy import LockHeld\n\n\ndef handler(events, context):\n    pass\n"
    )
    monkeypatch.setattr(runbooks, "SCRIPTS", tmp_path)
    with pytest.raises(
        RunbooksError, match=r"only releaseflow\.ssm and releaseflow\.runbook_scripts\.shared"
    ):
        script_source("bad")


def test_make_runbooks_is_a_target_and_docs_depends_on_it():
    """`make runbooks` regenerates automation/; `make docs` runs it (and `make documents`) first."""
    makefile = (runbooks.ROOT / "Makefile").read_text()
    assert "runbooks: venv\n\t$(PY) -m devtools.runbooks\n" in makefile
    assert "docs: documents runbooks\n" in makefile


def test_a_script_keeps_its_handlers_docstring_and_leaves_its_helpers_docstrings_in_the_module():
    """The operator reads what the script does (the handler's docstring); the docstrings of the module's
    other functions stay in the module, as its comments do (a runbook's content counts against 64 KB)."""
    text = script_source("read_deploy")
    assert read_deploy.handler.__doc__.strip().splitlines()[0] in text
    for helper in (read_deploy.as_list, read_deploy.command_seconds, read_deploy.switched):
        assert f"def {helper.__name__}(" in text
        assert helper.__doc__.strip().splitlines()[0] not in text, helper.__name__


def test_shared_definitions_are_written_out_without_their_comments_and_docstrings():
    """A shared helper is written into each script that uses it as code alone (its documentation stays in
    shared.py): a runbook's content counts against SSM's 64 KB, and RollbackFleet carries many."""
    text = script_source("drain_batch")
    assert "def wait_until(" in text
    assert shared.wait_until.__doc__.strip().splitlines()[0] not in text
