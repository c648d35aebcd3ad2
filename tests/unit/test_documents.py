"""The document loader, and the product's Command documents: patterns, shell syntax and real runs."""

import contextlib
import copy
import fcntl
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from injection import assert_pattern_guards
from releaseflow.documents import find_document_files, load_document, parse_document
from releaseflow.errors import DocumentError
from releaseflow.goregexp import COMMAND, match_string
from releaseflow.placeholders import Unresolved, interpolate
from releaseflow.rehearsal.command_document import plan_plugins, resolve_parameters
from releaseflow.rehearsal.host.agent import Host as AgentHost
from releaseflow.rehearsal.host.agent import run_command

YAML_TEXT = """\
schemaVersion: "2.2"
description: demo
mainSteps:
  - name: First
    action: aws:runShellScript
    inputs:
      runCommand:
        - echo one
        - echo two
"""

JSON_TEXT = '{\n\t"schemaVersion": "0.3",\n\t"mainSteps": [\n\t\t{\n\t\t\t"name": "A",\n\t\t\t"action": "aws:sleep"\n\t\t}\n\t]\n}\n'


def test_yaml_lines_point_at_keys_and_items():
    """Every key and list item of a YAML document knows its source line."""
    document = parse_document(YAML_TEXT, "documents/demo-Doc.yaml")
    assert document.line(("mainSteps", 0, "action")) == 5
    assert document.line(("mainSteps", 0, "inputs", "runCommand", 1)) == 9
    assert document.name == "demo-Doc"
    assert document.document_type == "Command"


def test_json_with_tabs_parses_and_keeps_lines():
    """JSON files are parsed as JSON (AWS's contain tabs) and still report lines."""
    document = parse_document(JSON_TEXT, "x/aws-Thing.json")
    assert document.content["mainSteps"][0]["action"] == "aws:sleep"
    assert document.line(("mainSteps", 0, "action")) == 6
    assert document.document_type == "Automation"


def test_unknown_path_falls_back_to_nearest_ancestor():
    """A path below a known key reports the key's line."""
    document = parse_document(YAML_TEXT, "d.yaml")
    assert document.line(("mainSteps", 0, "inputs", "nothing", 3)) == 6


def test_yaml_number_schema_version_stays_a_number():
    """`schemaVersion: 2.2` unquoted is a float, so a rule can reject it."""
    document = parse_document("schemaVersion: 2.2\nmainSteps: []\n", "d.yaml")
    assert document.schema_version == 2.2
    assert document.document_type is None


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [("a: [1, 2\nb: 3\n", "d.yaml", 2), ('{\n  "a": 1,\n  "b": \n}\n', "d.json", 4)],
)
def test_parse_errors_name_file_and_line(text, path, line):
    """A syntax error raises DocumentError naming the file and the line."""
    with pytest.raises(DocumentError, match=rf"^{path}:{line}: "):
        parse_document(text, path)


def test_loop_steps_are_listed_with_their_paths():
    """Document.steps() walks into aws:loop's nested steps."""
    text = """\
schemaVersion: "0.3"
mainSteps:
  - name: Loop
    action: aws:loop
    inputs:
      Iterators: [a, b]
      Steps:
        - name: Inner
          action: aws:sleep
"""
    document = parse_document(text, "r.yaml")
    assert [(path, step["name"]) for path, step in document.steps()] == [
        (("mainSteps", 0), "Loop"),
        (("mainSteps", 0, "inputs", "Steps", 0), "Inner"),
    ]


def test_find_document_files_rejects_missing_paths(tmp_path):
    """A PATH that does not exist is an error naming it, not an empty result."""
    with pytest.raises(DocumentError, match="nope: no such file or folder"):
        find_document_files([tmp_path / "nope"])


# --- The product's Command documents -------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
COMMAND_DOCUMENTS = sorted((ROOT / "documents").glob("*.yaml"))
EXPECTED_NAMES = {
    "releaseflow-PrepareRevision",
    "releaseflow-CheckoutRevision",
    "releaseflow-Migrate",
    "releaseflow-RestartServices",
    "releaseflow-HealthCheck",
    "releaseflow-Rollback",
}
OPTION_INJECTION = ["--upload-pack=evil", "-c", "a..b", "a@{1}", "HEAD~1", "a^{tree}"]
REALISTIC = {
    "Revision": [
        "0123456789abcdef0123456789abcdef01234567",
        "v1.2.3",
        "release/2026-11",
        "main",
        "hotfix_12",
    ],
    "ExecutionId": ["0c9e6c5e-1f1b-4d2e-9b7a-2f6a8d0e9c11", "manual-1"],
    "AppDir": ["/srv/app", "/home/deploy/apps/shop_v2", "/var/www/my.app"],
    "AppUser": ["rails", "deploy", "app_user"],
    "GitRemote": ["origin", "upstream", "git-hub.mirror"],
    "EnvironmentFile": ["/srv/app/.env", "/etc/shop/env.production"],
    "RailsEnv": ["production", "staging"],
    "InstallCommand": ["bundle install", "bundle install --jobs=4 --without=development:test", "bin/setup"],
    "MigrateCommand": ["bundle exec rails db:migrate", "bin/rails db:migrate:primary"],
    "Services": ["puma", "sidekiq", "puma@1.service"],
    "HealthCheckPath": ["/up", "/health/check", "/status?full=1"],
    "HealthCheckPort": ["auto", "3000", "8080"],
    "DrainPort": ["auto", "3000", "8080"],
    "DrainSeconds": ["0", "28", "300", "3600"],
    "HealthCheckRetries": ["1", "10", "60"],
    "HealthCheckTimeoutSeconds": ["1", "5", "60"],
    "executionTimeout": ["30", "300", "600"],
    "HealthCheckDelaySeconds": ["0", "3", "60"],
    "WorkerQuietSignal": ["TSTP", "USR1", "TERM"],
    "WorkerSettleSeconds": ["1", "10", "30"],
}


def command_parameters():
    """(document name, parameter name, definition) for every parameter of every Command document."""
    for path in COMMAND_DOCUMENTS:
        for name, definition in load_document(path).content["parameters"].items():
            yield pytest.param(path.stem, name, definition, id=f"{path.stem}.{name}")


def test_the_six_documents_exist_with_schema_2_2():
    """documents/ holds exactly the six contract documents, each schemaVersion "2.2"."""
    assert {path.stem for path in COMMAND_DOCUMENTS} == EXPECTED_NAMES
    for path in COMMAND_DOCUMENTS:
        assert load_document(path).content["schemaVersion"] == "2.2"


def test_documents_pass_strict_validation():
    """`releaseflow validate --strict documents` reports nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "releaseflow", "validate", "--strict", "documents"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize(("document", "name", "definition"), list(command_parameters()))
def test_every_parameter_is_typed_described_and_fenced(document, name, definition):
    """Each parameter has a type, a description, an anchored pattern or allowed values, and ENV_VAR
    interpolation, except executionTimeout: it only sets timeoutSeconds, never reaches a shell, and
    whether the agent substitutes an ENV_VAR parameter there is not documented."""
    assert definition["type"] in {"String", "StringList"}
    assert len(definition["description"]) > 20
    if name == "executionTimeout":
        assert "interpolationType" not in definition
        scripts = load_document(ROOT / "documents" / f"{document}.yaml").content["mainSteps"]
        assert "executionTimeout" not in "\n".join(
            line for step in scripts for line in step["inputs"]["runCommand"]
        )
    else:
        assert definition["interpolationType"] == "ENV_VAR"
    if "allowedValues" in definition:
        return
    pattern = definition["allowedPattern"]
    defaults = definition.get("default", [])
    assert_pattern_guards(
        pattern, REALISTIC[name] + (defaults if isinstance(defaults, list) else [defaults]), COMMAND
    )


@pytest.mark.parametrize("document", ["releaseflow-PrepareRevision", "releaseflow-CheckoutRevision"])
@pytest.mark.parametrize("name", ["Revision", "GitRemote"])
def test_git_values_cannot_be_options_or_revision_syntax(document, name):
    """Revision and GitRemote reject a leading dash and git's range and reflog syntax."""
    pattern = load_document(ROOT / f"documents/{document}.yaml").content["parameters"][name]["allowedPattern"]
    for value in OPTION_INJECTION:
        assert not match_string(pattern, value, COMMAND), value


def test_multi_step_documents_stop_at_the_first_failure():
    """Every step but the last has onFailure: exit, so later steps do not run after a failure."""
    for path in COMMAND_DOCUMENTS:
        steps = load_document(path).content["mainSteps"]
        for step in steps[:-1]:
            assert step["inputs"].get("onFailure") == "exit", (path.stem, step["name"])


def scripts_of(document: Path, values: dict | None = None) -> list[tuple[str, str]]:
    """Each step's script with placeholders filled from defaults and `values`, as an agent without ENV_VAR does."""
    content = load_document(document).content
    params = {name: d.get("default") for name, d in content["parameters"].items()} | (values or {})

    def lookup(name):
        if params.get(name) is None:
            raise Unresolved(name)
        return params[name]

    return [
        (step["name"], interpolate("\n".join(step["inputs"]["runCommand"]), lookup))
        for step in content["mainSteps"]
    ]


@pytest.mark.parametrize("document", COMMAND_DOCUMENTS, ids=lambda path: path.stem)
def test_scripts_parse_with_bash_and_pass_shellcheck(document, tmp_path):
    """Every script, with defaults filled in, passes `bash -n` and shellcheck."""
    assert shutil.which("shellcheck"), "shellcheck is missing: run `make system-packages` as root"
    values = {"Revision": "v1.2.3", "ExecutionId": "0c9e6c5e-1f1b-4d2e-9b7a-2f6a8d0e9c11"}
    for step, script in scripts_of(document, values):
        lines = script.splitlines()
        assert lines[0] == "#!/bin/bash" and "set -euo pipefail" in lines, step
        path = tmp_path / f"{step}.sh"
        path.write_text(script)
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout


# --- Running the scripts for real: root, a git remote and a checkout owned by an unprivileged user --

APP_USER = "nobody"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs the scripts as root, as the agent does")
# The stub logs to a file beside it: the agent gives scripts its own environment and nothing else.
SYSTEMCTL_STUB = '#!/bin/sh\necho "$*" >> "$(dirname "$0")/../systemctl.log"\n'


def run_document(name: str, values: dict, host: AgentHost, *, env_var: bool) -> tuple[int, str]:
    """Run a document on `host` through the rehearsal agent's own runner (agent.run_command): the agent's
    environment, parameters, `sh -c _script.sh` as root, steps stopping as its onFailure says.

    With env_var the values also arrive as SSM_<Name> variables (agent >= 3.3.2746.0), joined as the agent
    joins a list; without, the document's interpolationType is dropped, as an older agent ignores it, and
    only the placeholder fallback lines supply them. Returns the response code and every step's output.
    """
    content = copy.deepcopy(load_document(ROOT / "documents" / f"{name}.yaml").content)
    if not env_var:
        for spec in content["parameters"].values():
            spec.pop("interpolationType", None)
    command = {
        "command_id": f"c-{uuid.uuid4().hex[:8]}",
        "content": content,
        "parameters": {k: v if isinstance(v, list) else [v] for k, v in values.items()},
    }
    report = run_command(command, host, threading.Event())
    code = next((plugin["response_code"] for plugin in report["plugins"] if plugin["response_code"]), 0)
    return code, "".join(plugin["stdout"] + plugin["stderr"] for plugin in report["plugins"])


class Host:
    """A throwaway host: a bare remote with three commits, a checkout of the first, a systemctl stub."""

    def __init__(self, root: Path):
        self.root = root
        self.remote = root / "remote.git"
        self.app = root / "app"
        self.log = root / "systemctl.log"
        work = root / "work"
        self._git("init", "--quiet", "-b", "main", str(work))
        self.commits = []
        for number in range(3):
            (work / "version").write_text(f"{number}\n")
            self._git("-C", str(work), "add", "version")
            self._git(
                "-C",
                str(work),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "--quiet",
                "-m",
                f"commit {number}",
            )
            self.commits.append(self._git("-C", str(work), "rev-parse", "HEAD").strip())
        self._git("-C", str(work), "tag", "v1.0.0", self.commits[1])
        self._git("clone", "--quiet", "--bare", str(work), str(self.remote))
        self._git("clone", "--quiet", str(self.remote), str(self.app))
        self._git("-C", str(self.app), "checkout", "--quiet", "--detach", self.commits[0])
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "systemctl").write_text(SYSTEMCTL_STUB)
        (bin_dir / "systemctl").chmod(0o755)
        # The agent's environment: no HOME; the stub first on PATH.
        self.agent_host = AgentHost(
            instance_id="i-0123456789abcdef0", root=root / "agent", path_prefix=str(bin_dir)
        )
        shutil.chown(root, APP_USER)
        subprocess.run(["chown", "-R", APP_USER, str(self.remote), str(self.app)], check=True)

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout

    def git_in(self, repo: Path, *args: str) -> str:
        """git in a repo the app user owns (root must say it trusts it)."""
        return self._git("-c", f"safe.directory={repo}", "-C", str(repo), *args)

    def head(self) -> str:
        return self.git_in(self.app, "rev-parse", "HEAD").strip()

    def record(self, name: str) -> str:
        return (self.app / ".git" / "releaseflow" / name).read_text().strip()

    def run(self, document: str, *, env_var: bool = True, **values) -> tuple[int, str]:
        """Run `document` with this host's AppDir, AppUser and InstallCommand where it declares them, and `values`."""
        declared = load_document(ROOT / "documents" / f"{document}.yaml").content["parameters"]
        host = {"AppDir": str(self.app), "AppUser": APP_USER, "InstallCommand": "touch installed"}
        given = {key: value for key, value in host.items() if key in declared} | values
        return run_document(document, given, self.agent_host, env_var=env_var)

    def switch(self, revision: str, execution: str = "exec-1", **values) -> tuple[int, str]:
        """Prepare then check out `revision`, as the deploy does (CheckoutRevision itself does not fetch)."""
        code, output = self.run("releaseflow-PrepareRevision", Revision=revision, **values)
        if code:
            return code, output
        return self.run("releaseflow-CheckoutRevision", Revision=revision, ExecutionId=execution, **values)


@pytest.fixture
def host():
    """A fresh host under a world-traversable temp folder (pytest's own is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="releaseflow-host-"))
    root.chmod(0o755)
    try:
        yield Host(root)
    finally:
        shutil.rmtree(root)


@needs_root
@pytest.mark.parametrize("env_var", [True, False], ids=["env-var", "old-agent"])
def test_checkout_switches_records_and_installs_as_the_app_user(host, env_var):
    """CheckoutRevision moves to the revision, records where it came from and who moved it, installs as AppUser."""
    code, output = host.switch("v1.0.0", env_var=env_var)
    assert code == 0, output
    assert host.head() == host.commits[1]
    assert host.record("previous-revision") == host.commits[0]
    assert host.record("execution-id") == "exec-1"
    assert (host.app / "installed").owner() == APP_USER


@needs_root
def test_checkout_branch_means_the_remote_branch(host):
    """A branch name resolves to the remote's branch as prepared, not to a stale local branch."""
    host.git_in(host.remote, "update-ref", "refs/heads/main", host.commits[1])
    code, output = host.switch("main")
    assert code == 0, output
    assert host.head() == host.commits[1]


@needs_root
def test_checkout_rerun_keeps_the_record_of_where_the_host_came_from(host):
    """Re-running the same execution on a host already at the revision leaves the record alone and still installs."""
    host.switch(host.commits[2])
    (host.app / "installed").unlink()
    code, output = host.run("releaseflow-CheckoutRevision", Revision=host.commits[2], ExecutionId="exec-1")
    assert code == 0, output
    assert "already at" in output
    assert host.record("previous-revision") == host.commits[0]
    assert (host.app / "installed").exists()


@needs_root
def test_checkout_run_twice_at_once_waits_for_the_first_and_keeps_its_record(host):
    """The same CheckoutRevision twice at once, as when an agent runs a plugin again beside its original
    (issue 18's reading that hurts; a restarted SSM agent waits for its orphan worker instead): the
    second waits on the checkout's flock, then finds the host already there and keeps the record of
    where it came from."""
    code, output = host.run("releaseflow-PrepareRevision", Revision=host.commits[2])
    assert code == 0, output
    outcomes: list[tuple[int, str]] = []

    def checkout():
        values = {"Revision": host.commits[2], "ExecutionId": "exec-1", "InstallCommand": "sleep 2"}
        outcomes.append(host.run("releaseflow-CheckoutRevision", **values))

    runs = [threading.Thread(target=checkout) for _ in range(2)]
    for run in runs:
        run.start()
        time.sleep(0.5)
    for run in runs:
        run.join(timeout=60)

    assert [code for code, _ in outcomes] == [0, 0], outcomes
    first, second = (output for _, output in outcomes)
    assert "checked out" in first
    assert "waiting for another releaseflow command" in second and "already at" in second
    assert host.head() == host.commits[2]
    assert host.record("previous-revision") == host.commits[0]


@needs_root
@pytest.mark.parametrize("revision", ["no-such-tag", "0123456789abcdef0123456789abcdef01234567"])
def test_checkout_of_an_unknown_revision_fails_before_touching_the_host(host, revision):
    """An unknown revision fails the preparation and the checkout, skips the install and writes no record."""
    code, output = host.run("releaseflow-PrepareRevision", Revision=revision)
    assert code != 0
    assert f"revision {revision} is not a commit" in output
    assert not (host.app / ".git" / "releaseflow-prepared").exists()
    code, output = host.run("releaseflow-CheckoutRevision", Revision=revision, ExecutionId="exec-1")
    assert code != 0
    assert f"revision {revision} is not a commit" in output
    assert host.head() == host.commits[0]
    assert not (host.app / ".git" / "releaseflow").exists()
    assert not (host.app / "installed").exists()


@needs_root
def test_prepare_installs_beside_the_served_checkout_and_changes_nothing_it_serves(host):
    """PrepareRevision checks the revision out in a second tree and installs there; the checkout stays put."""
    (host.app / ".git" / "info" / "exclude").write_text("config/master.key\n")
    (host.app / "config").mkdir()
    (host.app / "config" / "master.key").write_text("key\n")
    subprocess.run(["chown", "-R", APP_USER, str(host.app / "config")], check=True)
    code, output = host.run("releaseflow-PrepareRevision", Revision="v1.0.0")
    assert code == 0, output
    prepared = host.app / ".git" / "releaseflow-prepared"
    assert host.head() == host.commits[0]
    assert not (host.app / "installed").exists()
    assert host.git_in(prepared, "rev-parse", "HEAD").strip() == host.commits[1]
    assert (prepared / "installed").owner() == APP_USER
    assert (prepared / "config" / "master.key").read_text() == "key\n"
    assert host.git_in(host.app, "status", "--porcelain") == ""
    # Run again for another revision: the prepared tree is replaced.
    code, output = host.run("releaseflow-PrepareRevision", Revision=host.commits[2])
    assert code == 0, output
    assert host.git_in(prepared, "rev-parse", "HEAD").strip() == host.commits[2]


@needs_root
def test_rollback_reverts_only_the_execution_that_switched_the_host(host):
    """Rollback with another execution id is a successful no-op; with the recorded one it reverts and restarts."""
    host.switch(host.commits[2])
    code, output = host.run("releaseflow-Rollback", ExecutionId="exec-2", Services=["puma"])
    assert code == 0, output
    assert "not switched by execution exec-2" in output
    assert host.head() == host.commits[2]
    assert not host.log.exists()
    code, output = host.run("releaseflow-Rollback", ExecutionId="exec-1", Services=["puma", "sidekiq"])
    assert code == 0, output
    assert host.head() == host.commits[0]
    assert host.log.read_text() == "restart puma\nrestart sidekiq\n"


@needs_root
def test_second_rollback_is_a_no_op(host):
    """After a rollback the record is marked used: rolling back again changes nothing."""
    host.switch(host.commits[2])
    host.run("releaseflow-Rollback", ExecutionId="exec-1", env_var=False)
    host.git_in(host.app, "checkout", "--quiet", "--detach", host.commits[1])
    code, output = host.run("releaseflow-Rollback", ExecutionId="exec-1", env_var=False)
    assert code == 0, output
    assert "already rolled back" in output
    assert host.head() == host.commits[1]
    assert host.log.read_text() == "restart puma\n"


@needs_root
@pytest.mark.parametrize("env_var", [True, False], ids=["env-var", "old-agent"])
def test_restart_services_restarts_each_and_reloads_nginx_on_request(host, env_var):
    """RestartServices restarts every listed unit in order and reloads nginx only when ReloadNginx is true."""
    code, output = host.run(
        "releaseflow-RestartServices", env_var=env_var, Services=["puma", "sidekiq"], ReloadNginx="true"
    )
    assert code == 0, output
    assert host.log.read_text() == "restart puma\nrestart sidekiq\nreload nginx\n"


# A systemctl that also answers is-active and `show --property=MainPID` (MainPID=N, as systemd prints it)
# from files beside it (state-UNIT, pid-UNIT), as a worker host's checks ask them.
SYSTEMCTL_WITH_STATE = """#!/bin/sh
here="$(dirname "$0")/.."
echo "$*" >> "$here/systemctl.log"
for unit; do :; done
case "$1" in
  is-active) state="$(cat "$here/state-$unit" 2>/dev/null || echo inactive)"; echo "$state"; [ "$state" = active ] ;;
  show) echo "MainPID=$(cat "$here/pid-$unit" 2>/dev/null || echo 0)" ;;
esac
"""


def worker_host(host, active: dict[str, str]) -> None:
    """Give `host` the stateful systemctl, with these units active under these main pids."""
    (host.root / "bin" / "systemctl").write_text(SYSTEMCTL_WITH_STATE)
    for unit, pid in active.items():
        (host.root / f"state-{unit}").write_text("active\n")
        (host.root / f"pid-{unit}").write_text(f"{pid}\n")


@needs_root
@pytest.mark.parametrize("env_var", [True, False], ids=["env-var", "old-agent"])
def test_a_worker_switch_quiets_its_active_services_first_and_a_web_switch_does_not(host, env_var):
    """Issue 19: CheckoutRevision with Role worker sends WorkerQuietSignal to the main process of each
    active one of Services before it checks out (an inactive one is left alone); with Role web, nothing."""
    worker_host(host, {"sidekiq": 41})
    assert host.run("releaseflow-PrepareRevision", Revision=host.commits[1])[0] == 0
    code, output = host.run(
        "releaseflow-CheckoutRevision",
        env_var=env_var,
        Revision=host.commits[1],
        ExecutionId="exec-1",
        Role="worker",
        Services=["sidekiq", "mailer"],
        WorkerQuietSignal="USR1",
    )
    assert code == 0, output
    assert host.head() == host.commits[1]
    assert "quieting sidekiq: SIGUSR1" in output and "quieting mailer: not active" in output
    kills = [line for line in host.log.read_text().splitlines() if line.startswith("kill")]
    assert kills == ["kill --kill-who=main --signal=USR1 sidekiq"]
    assert output.index("quieting sidekiq") < output.index("checked out")
    host.log.unlink()
    code, output = host.switch(host.commits[2], execution="exec-2")
    assert code == 0, output
    assert "quieting" not in output and not host.log.exists()


@needs_root
def test_a_worker_rollback_quiets_then_restarts_its_services(host):
    """Rollback with Role worker quiets Services (TSTP by default) before the checkout, restarts them after."""
    host.switch(host.commits[2])
    worker_host(host, {"sidekiq": 41})
    code, output = host.run("releaseflow-Rollback", ExecutionId="exec-1", Role="worker", Services=["sidekiq"])
    assert code == 0, output
    assert host.head() == host.commits[0]
    calls = [line for line in host.log.read_text().splitlines() if not line.startswith("is-active")]
    assert calls == ["kill --kill-who=main --signal=TSTP sidekiq", "restart sidekiq"]


@needs_root
def test_a_worker_restart_reloads_no_nginx(host):
    """RestartServices with Role worker restarts Services and leaves nginx alone even with ReloadNginx."""
    code, output = host.run(
        "releaseflow-RestartServices", Services=["sidekiq"], ReloadNginx="true", Role="worker"
    )
    assert code == 0, output
    assert host.log.read_text() == "restart sidekiq\n"


@needs_root
@pytest.mark.parametrize("failure", ["none", "inactive", "restarted"])
def test_a_worker_is_healthy_when_its_services_stay_up_for_the_settle_time(host, failure):
    """HealthCheck with Role worker makes no HTTP request: each of Services must be active throughout
    WorkerSettleSeconds with the same main process; one that stops or is restarted fails, named."""
    worker_host(host, {"sidekiq": 41, "mailer": 42})
    change = {"inactive": ("state-mailer", "failed\n"), "restarted": ("pid-sidekiq", "43\n")}.get(failure)

    def change_once_checked():
        # Once the check has read the services (its first systemctl call), half a second into its settle time.
        while not host.log.exists():
            time.sleep(0.05)
        time.sleep(0.5)
        (host.root / change[0]).write_text(change[1])

    if change:
        threading.Thread(target=change_once_checked, daemon=True).start()
    started = time.monotonic()
    code, output = host.run(
        "releaseflow-HealthCheck", Role="worker", Services=["sidekiq", "mailer"], WorkerSettleSeconds="2"
    )
    if failure == "none":
        assert code == 0, output
        assert "healthy: sidekiq mailer active for 2 s" in output
        assert time.monotonic() - started >= 2
    else:
        assert code == 1, output
        expected = (
            "mailer is failed, not active" if failure == "inactive" else "restarted during the settle time"
        )
        assert expected in output, output
    assert "curl" not in output


@needs_root
def test_migrate_runs_as_app_user_with_env_file_and_never_prints_it(host):
    """Migrate loads the 0600 environment file, sets RAILS_ENV over it, runs as AppUser, prints no secret."""
    env_file = host.root / "app.env"
    env_file.write_text("SECRET_KEY_BASE=hunter2secret\nRAILS_ENV=development\n")
    env_file.chmod(0o600)
    script = host.app / "bin-migrate"
    script.write_text('#!/bin/sh\necho "$RAILS_ENV $SECRET_KEY_BASE $(id -un)" > migrated\n')
    script.chmod(0o755)
    code, output = host.run(
        "releaseflow-Migrate",
        EnvironmentFile=str(env_file),
        RailsEnv="staging",
        MigrateCommand="sh bin-migrate",
    )
    assert code == 0, output
    assert (host.app / "migrated").read_text() == f"staging hunter2secret {APP_USER}\n"
    assert "hunter2secret" not in output
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"


@needs_root
def test_migrate_reads_the_environment_file_as_data_and_never_runs_it(host, tmp_path):
    """The environment file is read in systemd's EnvironmentFile form (comments, quotes, `export`
    tolerated): a value is passed as written, and shell in the file never runs as root."""
    pwned = tmp_path / "pwned"
    env_file = host.root / "app.env"
    env_file.write_text(
        "# comment\n; another\n\n"
        f"GREETING=\"hello world\"\nQUOTED='$(touch {pwned})'\nexport PLAIN=$(touch {pwned})\n"
        f"touch {pwned}\n  SPACED = padded  \n"
    )
    env_file.chmod(0o600)
    script = host.app / "bin-migrate"
    script.write_text(
        '#!/bin/sh\nprintf "%s|%s|%s|%s\\n" "$GREETING" "$QUOTED" "$PLAIN" "$SPACED" > migrated\n'
    )
    script.chmod(0o755)
    code, output = host.run(
        "releaseflow-Migrate", EnvironmentFile=str(env_file), MigrateCommand="sh bin-migrate"
    )
    assert code == 0, output
    assert (host.app / "migrated").read_text() == (f"hello world|$(touch {pwned})|$(touch {pwned})|padded\n")
    assert not pwned.exists()
    assert "a line that is no KEY=VALUE assignment is ignored" in output


@pytest.fixture
def http_app():
    """A local HTTP server whose status and body the test sets; yields (port, set_response)."""
    response = {"status": 200, "body": b"ok"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(response["status"])
            self.end_headers()
            self.wfile.write(response["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], response
    finally:
        server.shutdown()


@needs_root
def test_health_check_reads_the_port_from_the_environment_file(host, http_app):
    """With HealthCheckPort auto, the PORT line of the environment file picks the port."""
    port, _ = http_app
    env_file = host.root / "app.env"
    env_file.write_text(f"SECRET=x\nexport PORT={port}\n")
    env_file.chmod(0o600)
    code, output = host.run("releaseflow-HealthCheck", EnvironmentFile=str(env_file), HealthCheckRetries="1")
    assert code == 0, output
    assert f"http://127.0.0.1:{port}/up answered 200" in output


@needs_root
def test_health_check_expects_the_checked_out_commit_in_the_body(host, http_app):
    """With ExpectRevision true, a 200 without the commit fails; with the commit it passes."""
    port, response = http_app
    values = {
        "HealthCheckPort": str(port),
        "ExpectRevision": "true",
        "HealthCheckRetries": "2",
        "HealthCheckDelaySeconds": "0",
    }
    response["body"] = b"commit 0000\n"
    code, output = host.run("releaseflow-HealthCheck", **values)
    assert code == 1
    assert f"does not contain commit {host.commits[0]}" in output
    response["body"] = f"ok {host.commits[0]}\n".encode()
    code, output = host.run("releaseflow-HealthCheck", **values)
    assert code == 0, output


@needs_root
def test_health_check_failure_shows_status_and_body_tail(host, http_app):
    """After the last try, the output names the last status and the last 20 lines of the body."""
    port, response = http_app
    response["status"] = 503
    response["body"] = "".join(f"line {n}\n" for n in range(30)).encode()
    code, output = host.run(
        "releaseflow-HealthCheck",
        HealthCheckPort=str(port),
        HealthCheckRetries="2",
        HealthCheckDelaySeconds="0",
    )
    assert code == 1
    assert "failed 2 tries; last status: 503" in output
    assert "line 29" in output and "line 10" in output and "line 9\n" not in output


@pytest.mark.parametrize(
    ("name", "default"),
    [("releaseflow-RestartServices", 600), ("releaseflow-HealthCheck", 7200), ("releaseflow-Rollback", 1800)],
)
def test_execution_timeout_is_the_plugin_timeout_the_agent_gets(name, default):
    """The restart's, health check's and rollback's executionTimeout, given or by default, is their plugin's timeoutSeconds."""
    content = load_document(ROOT / "documents" / f"{name}.yaml").content
    given = {"releaseflow-Rollback": {"ExecutionId": ["d-1"]}}.get(name, {})
    [plugin] = plan_plugins(content, resolve_parameters(content, {**given, "executionTimeout": ["42"]}))
    assert int(plugin.inputs["timeoutSeconds"]) == 42
    [plugin] = plan_plugins(content, resolve_parameters(content, given))
    assert int(plugin.inputs["timeoutSeconds"]) == default


@pytest.mark.parametrize("document", COMMAND_DOCUMENTS, ids=lambda path: path.stem)
@pytest.mark.parametrize(("child", "agent_sees"), [(194, 1), (168, 1), (169, 1), (137, 1), (3, 3), (0, 0)])
def test_no_child_exit_code_the_agent_gives_a_meaning_reaches_it(tmp_path, document, child, agent_sees):
    """A child that exits 137, 168, 169 or 194 (killed; skip the rest as success or failure; reboot and run
    again) under `set -e` ends the script with 1, which the agent reads as a plain failure; other codes pass."""
    [step] = load_document(document).content["mainSteps"][:1]
    lines = step["inputs"]["runCommand"]
    prologue = lines[: next(i for i, line in enumerate(lines) if line.startswith("trap ")) + 1]
    script = tmp_path / "_script.sh"
    script.write_text("\n".join([*prologue, f"sh -c 'exit {child}'", "echo unreachable"]) + "\n")
    script.chmod(0o700)
    ran = subprocess.run(["sh", "-c", str(script)], capture_output=True, text=True, check=False)
    assert (ran.returncode, ran.stdout) == (agent_sees, "unreachable\n" if child == 0 else "")


@needs_root
def test_a_rollback_waits_for_a_releaseflow_command_still_running_on_the_checkout(host):
    """While another releaseflow command holds the checkout (a cancelled switch still ending), the rollback
    says it waits and changes nothing; once that command ends, it rolls back."""
    host.switch(host.commits[2])
    with (host.app / ".git" / "releaseflow.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done: list[tuple[int, str]] = []
        rollback = threading.Thread(
            target=lambda: done.append(host.run("releaseflow-Rollback", ExecutionId="exec-1"))
        )
        rollback.start()
        rollback.join(2)
        assert rollback.is_alive() and host.head() == host.commits[2]
    rollback.join(60)
    [(code, output)] = done
    assert code == 0, output
    assert "waiting for another releaseflow command" in output
    assert host.head() == host.commits[0]


@needs_root
@pytest.mark.parametrize("document", ["releaseflow-PrepareRevision", "releaseflow-CheckoutRevision"])
def test_a_served_checkout_with_changed_tracked_files_is_refused_naming_them(host, document):
    """Prepare (before any host is drained) and the switch refuse a served checkout whose tracked files
    changed, naming them, and change nothing; untracked files (logs, tmp) do not count."""
    code, output = host.run("releaseflow-PrepareRevision", Revision=host.commits[1])
    assert code == 0, output
    (host.app / "version").write_text("edited on the host\n")
    (host.app / "untracked.log").write_text("fine\n")
    execution = {"ExecutionId": "exec-1"} if document.endswith("CheckoutRevision") else {}
    code, output = host.run(document, Revision=host.commits[2], **execution)
    assert code == 1
    assert "the served checkout" in output and "has changes to tracked files" in output
    assert " M version" in output and "untracked.log" not in output
    assert host.head() == host.commits[0]
    assert not (host.app / ".git" / "releaseflow").exists()
    assert not (host.app / "installed").exists()


@needs_root
@pytest.mark.parametrize("document", ["releaseflow-PrepareRevision", "releaseflow-CheckoutRevision"])
def test_the_install_command_runs_with_a_frozen_bundle(host, document):
    """The install command runs with BUNDLE_FROZEN=true: Bundler installs Gemfile.lock as it is and never
    rewrites it in a served tree."""
    code, output = host.run("releaseflow-PrepareRevision", Revision=host.commits[1], InstallCommand="env")
    assert code == 0, output
    execution = {"ExecutionId": "exec-1"} if document.endswith("CheckoutRevision") else {}
    code, output = host.run(document, Revision=host.commits[1], InstallCommand="env", **execution)
    assert code == 0, output
    assert "\nBUNDLE_FROZEN=true\n" in output


# --- The app user's commands: login PATH, the service's environment ---------------------------------

APP_ENV_BEGIN = "# releaseflow app-user environment: begin"
APP_ENV_END = "# releaseflow app-user environment: end"
APP_USER_DOCUMENTS = (
    "releaseflow-PrepareRevision",
    "releaseflow-CheckoutRevision",
    "releaseflow-Migrate",
    "releaseflow-Rollback",
    "releaseflow-RestartServices",
)


def app_env_block(document: str) -> str:
    """The shared snippet as it stands in `document`'s script (indentation and all)."""
    text = (ROOT / "documents" / f"{document}.yaml").read_text()
    start = text.index(APP_ENV_BEGIN)
    start = text.rindex("\n", 0, start) + 1
    end = text.index("\n", text.index(APP_ENV_END))
    return text[start:end]


def test_the_app_user_environment_snippet_is_the_same_bytes_in_every_document():
    """The one place the environment file is read and the app user's commands are run: every document
    that runs the app user's commands carries the same snippet, byte for byte, and runs them through it."""
    blocks = {document: app_env_block(document) for document in APP_USER_DOCUMENTS}
    assert len(set(blocks.values())) == 1, [
        name for name, block in blocks.items() if block != blocks[APP_USER_DOCUMENTS[0]]
    ]
    for document in APP_USER_DOCUMENTS:
        text = (ROOT / "documents" / f"{document}.yaml").read_text()
        assert text.count(APP_ENV_BEGIN) == 1
        outside = text.replace(blocks[document], "")
        # No other way to the app user, and no other reading of the environment file.
        assert "runuser" not in outside, document
        assert 'SSM_EnvironmentFile"' not in outside.split("- |-", 1)[1], document
        assert "source " not in text and '. "$SSM_EnvironmentFile' not in text, document


SHIM = '#!/bin/sh\n# A version manager\'s shim: the only way to this "bundle".\n{body}\n'


@pytest.fixture
def shim_host(host):
    """The host's app user finds `bundle` only through ~/.rbenv/shims, put on PATH by its ~/.profile
    (the app user's home is the checkout here: `nobody` has no home)."""
    shims = host.app / ".rbenv" / "shims"
    shims.mkdir(parents=True)
    (shims / "bundle").write_text(
        SHIM.format(
            body='printf "%s|%s|%s|%s\\n" "$*" "$RAILS_ENV" "$SECRET_KEY_BASE" "$(id -un)" > "bundled-$(basename "$PWD")"'
        )
    )
    (shims / "bundle").chmod(0o755)
    (host.app / ".profile").write_text(
        'PATH="$HOME/.rbenv/shims:$PATH"\necho "profile read by $(id -un)" > "$HOME/profile-reader"\n'
    )
    env_file = host.root / "app.env"
    env_file.write_text("SECRET_KEY_BASE=hunter2secret\nRAILS_ENV=development\n")
    env_file.chmod(0o600)
    subprocess.run(["chown", "-R", APP_USER, str(host.app)], check=True)
    host.env_file = env_file
    return host


@needs_root
def test_app_user_commands_get_the_login_path_and_the_service_environment(shim_host):
    """Prepare, Checkout, Migrate and Rollback run the app user's commands with its login PATH (its
    profile read as that user, not root) and the environment file with RAILS_ENV over it; no secret is
    printed."""
    host = shim_host
    values = {
        "EnvironmentFile": str(host.env_file),
        "RailsEnv": "staging",
        "InstallCommand": "bundle install",
    }
    code, output = host.switch(host.commits[1], **values)
    assert code == 0, output
    for tree in (host.app / ".git" / "releaseflow-prepared", host.app):
        assert (tree / f"bundled-{tree.name}").read_text() == f"install|staging|hunter2secret|{APP_USER}\n"
    code, migrate_output = host.run(
        "releaseflow-Migrate",
        EnvironmentFile=str(host.env_file),
        RailsEnv="staging",
        MigrateCommand="bundle exec rails db:migrate",
    )
    assert code == 0, migrate_output
    assert (
        host.app / "bundled-app"
    ).read_text() == f"exec rails db:migrate|staging|hunter2secret|{APP_USER}\n"
    (host.app / "bundled-app").unlink()
    code, rollback_output = host.run("releaseflow-Rollback", ExecutionId="exec-1", **values)
    assert code == 0, rollback_output
    assert host.head() == host.commits[0]
    assert (host.app / "bundled-app").read_text() == f"install|staging|hunter2secret|{APP_USER}\n"
    assert (host.app / "profile-reader").read_text() == f"profile read by {APP_USER}\n"
    for text in (output, migrate_output, rollback_output):
        assert "hunter2secret" not in text


@needs_root
def test_the_environment_file_never_reaches_a_root_process(host, tmp_path):
    """A value such as LD_PRELOAD or PATH in the environment file reaches the app user's command only:
    root's own commands (git's callers, systemctl in Rollback) run without it."""
    env_file = host.root / "app.env"
    env_file.write_text(f"PATH={tmp_path}/evil:/usr/bin:/bin\nMARKER=from-file\n")
    env_file.chmod(0o600)
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "systemctl").write_text(f"#!/bin/sh\ntouch {tmp_path}/pwned\n")
    (evil / "systemctl").chmod(0o755)
    tmp_path.chmod(0o755)
    host.switch(host.commits[1], EnvironmentFile=str(env_file))
    code, output = host.run(
        "releaseflow-Rollback",
        ExecutionId="exec-1",
        EnvironmentFile=str(env_file),
        InstallCommand="touch installed",
    )
    assert code == 0, output
    assert host.log.read_text() == "restart puma\n"
    assert not (tmp_path / "pwned").exists()


# --- The asset pipeline: built while serving, added at the switch, the old manifest back on rollback ---

FAKE_RAILS = """#!/bin/sh
# A stand-in for `bin/rails assets:precompile`: app.css under its fingerprint, and a manifest of its own name.
[ "$1" = assets:precompile ] || exit 64
mkdir -p public/assets
sum="$(md5sum app.css | cut -c1-12)"
cp app.css "public/assets/app-$sum.css"
printf '{"assets":{"app.css":"app-%s.css"}}\\n' "$sum" > "public/assets/.sprockets-manifest-$sum.json"
echo "$RAILS_ENV $(id -un)" > public/assets/built-by
# Sprockets' cache: one line a build.
mkdir -p tmp/cache/assets
echo "$sum" >> tmp/cache/assets/builds
"""


def add_asset_commit(host: Host, css: str) -> str:
    """A commit of an app with sprockets in Gemfile.lock and app.css = `css`, on the remote's main."""
    work = host.root / "work"
    (work / "Gemfile.lock").write_text("GEM\n  specs:\n    rails (6.1.7)\n    sprockets (3.7.2)\n")
    (work / ".gitignore").write_text("/public/assets\n")
    (work / "bin").mkdir(exist_ok=True)
    (work / "bin" / "rails").write_text(FAKE_RAILS)
    (work / "bin" / "rails").chmod(0o755)
    (work / "app.css").write_text(css)
    host._git("-C", str(work), "add", "-A")
    host._git("-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", css)
    sha = host._git("-C", str(work), "rev-parse", "HEAD").strip()
    host.git_in(host.remote, "fetch", "--quiet", str(work), "+main:main")
    subprocess.run(["chown", "-R", APP_USER, str(host.remote)], check=True)
    return sha


def served_assets(host: Host) -> tuple[set[str], list[str]]:
    """The fingerprinted files in the served public/assets, and the manifests' contents."""
    assets = host.app / "public" / "assets"
    files = {path.name for path in assets.glob("app-*.css")}
    return files, [path.read_text() for path in assets.glob(".sprockets-manifest-*.json")]


def fingerprint(css: str) -> str:
    """The file the fake precompile writes for `css`."""
    return f"app-{hashlib.md5(css.encode()).hexdigest()[:12]}.css"


def manifest(css: str) -> str:
    """The manifest the fake precompile writes for `css`."""
    return json.dumps({"assets": {"app.css": fingerprint(css)}}, separators=(",", ":")) + "\n"


RED, BLUE = "body { color: red }\n", "body { color: blue }\n"


@needs_root
def test_assets_are_built_while_serving_added_at_the_switch_and_the_old_manifest_comes_back(host):
    """With sprockets in Gemfile.lock: PrepareRevision builds the assets (RAILS_ENV, as the app user) in the
    prepared tree, the switch adds them to the served public/assets, keeping the older build's files, with
    one manifest, the new build's; a rollback brings the old manifest back and its files are there."""
    first = add_asset_commit(host, RED)
    code, output = host.switch(first, RailsEnv="staging")
    assert code == 0, output
    prepared = host.app / ".git" / "releaseflow-prepared" / "public" / "assets"
    assert (prepared / "built-by").read_text() == f"staging {APP_USER}\n"
    assert served_assets(host) == ({fingerprint(RED)}, [manifest(RED)])
    second = add_asset_commit(host, BLUE)
    code, output = host.run("releaseflow-PrepareRevision", Revision=second)
    assert code == 0, output
    # Prepared: the new build's files are already served beside the old ones (another host may switch
    # first); the manifest is still the running revision's.
    assert served_assets(host) == ({fingerprint(RED), fingerprint(BLUE)}, [manifest(RED)])
    code, output = host.run("releaseflow-CheckoutRevision", Revision=second, ExecutionId="exec-2")
    assert code == 0, output
    assert served_assets(host) == ({fingerprint(RED), fingerprint(BLUE)}, [manifest(BLUE)])
    # public/assets is ignored: the served tree is clean, and a changed tracked file is still refused.
    assert host.git_in(host.app, "status", "--porcelain", "--", "public") == ""
    code, output = host.run("releaseflow-Rollback", ExecutionId="exec-2")
    assert code == 0, output
    assert host.head() == first
    assert served_assets(host) == ({fingerprint(RED), fingerprint(BLUE)}, [manifest(RED)])
    (host.app / "app.css").write_text("edited on the host\n")
    code, output = host.run("releaseflow-PrepareRevision", Revision=second)
    assert code == 1 and " M app.css" in output


@needs_root
def test_the_prepared_trees_cache_outlives_it(host):
    """The prepared tree's tmp/cache (Sprockets', bootsnap's) is <AppDir>/.git/releaseflow-cache, which the
    next PrepareRevision finds again (it replaces the prepared tree): the second build sees the first's."""
    cache = host.app / ".git" / "releaseflow-cache"
    for css in (RED, BLUE):
        code, output = host.run("releaseflow-PrepareRevision", Revision=add_asset_commit(host, css))
        assert code == 0, output
        linked = host.app / ".git" / "releaseflow-prepared" / "tmp" / "cache"
        assert linked.is_symlink() and linked.resolve() == cache.resolve()
    builds = [fingerprint(css).removeprefix("app-").removesuffix(".css") for css in (RED, BLUE)]
    assert (cache / "assets" / "builds").read_text().split() == builds
    assert cache.stat().st_uid == (host.app / ".git").stat().st_uid


@needs_root
def test_a_rollback_from_a_revision_without_assets_brings_back_the_manifest_it_replaced(host):
    """Every switch keeps the served manifest, also to a revision without an asset pipeline: rolling
    that deploy back serves the manifest of the revision before it, not an older deploy's."""
    first, second = add_asset_commit(host, RED), add_asset_commit(host, BLUE)
    for number, revision in enumerate((first, second, host.commits[2])):
        code, output = host.switch(revision, execution=f"exec-{number}")
        assert code == 0, output
    code, output = host.run("releaseflow-Rollback", ExecutionId="exec-2")
    assert code == 0, output
    assert host.head() == second
    assert served_assets(host)[1] == [manifest(BLUE)]


@needs_root
def test_the_switch_keeps_the_files_of_the_last_three_builds(host):
    """Builds are pruned by count, as capistrano's assets:cleanup: after a fourth build the first build's
    files go, files of the last three stay, and a file no build wrote is left alone."""
    styles = [f"body {{ margin: {n}px }}\n" for n in range(4)]
    unknown = host.app / "public" / "assets" / "from-before.css"
    for number, css in enumerate(styles):
        revision = add_asset_commit(host, css)
        code, output = host.switch(revision, execution=f"exec-{number}")
        assert code == 0, output
        if number == 0:
            unknown.write_text("built before releaseflow\n")
    files, _ = served_assets(host)
    assert files == {fingerprint(css) for css in styles[1:]}
    assert unknown.exists()
    assert "pruned the assets of 1 older build(s)" in output


@needs_root
def test_the_switch_builds_nothing_and_refuses_assets_not_prepared(host):
    """A revision with an asset pipeline whose assets PrepareRevision did not build is refused before the
    checkout (nothing is built on a host out of service); an app without one gets no public/assets."""
    code, output = host.switch(host.commits[1])
    assert code == 0, output
    assert not (host.app / "public").exists()
    first = add_asset_commit(host, "p { color: green }\n")
    code, output = host.run("releaseflow-PrepareRevision", Revision=host.commits[2])
    assert code == 0, output
    code, output = host.run("releaseflow-CheckoutRevision", Revision=first, ExecutionId="exec-9")
    assert code == 1
    assert f"the assets of {first} were not built" in output
    assert host.head() == host.commits[1]


def _drain_block(name: str) -> str:
    """The runCommand item of `name` that ends the drain on the host (the first after the fallbacks)."""
    lines = load_document(ROOT / "documents" / f"{name}.yaml").content["mainSteps"][0]["inputs"]["runCommand"]
    return next(line for line in lines if "SSM_DrainSeconds" in line and not line.startswith("if [ -z"))


def _quiet_block(name: str) -> str:
    """The runCommand item of `name` that quiets a worker host's services."""
    lines = load_document(ROOT / "documents" / f"{name}.yaml").content["mainSteps"][0]["inputs"]["runCommand"]
    return next(line for line in lines if "SSM_WorkerQuietSignal" in line and not line.startswith("if [ -z"))


def test_checkout_and_rollback_end_the_drain_alike_before_they_touch_the_checkout():
    """The switch's and the rollback's drain are one text, run right after the app-user snippet (whose
    reading of the environment file gives it PORT; the switch's also defines the hooks there) and before the
    item that changes the checkout; the switch drains before it takes the checkout's lock, the rollback once
    it knows the host was switched."""
    assert _drain_block("releaseflow-CheckoutRevision") == _drain_block("releaseflow-Rollback")
    for name in ("releaseflow-CheckoutRevision", "releaseflow-Rollback"):
        lines = load_document(ROOT / "documents" / f"{name}.yaml").content["mainSteps"][0]["inputs"][
            "runCommand"
        ]
        drain = lines.index(_drain_block(name))
        assert lines[drain - 1].endswith((APP_ENV_END, HOOKS_END))
        # Then a worker host's quiet (issue 19), one text in both, then the checkout.
        assert lines[drain + 1] == _quiet_block("releaseflow-CheckoutRevision")
        assert lines[drain + 2].startswith('cd -- "$SSM_AppDir"')
        locked = next(i for i, line in enumerate(lines) if "releaseflow.lock" in line)
        assert (
            drain < locked
            if name == "releaseflow-CheckoutRevision"
            else "no rollback needed" in lines[locked]
        )


def _timed_checkout(host, opened=contextlib.nullcontext, **values) -> tuple[int, str, float]:
    """Prepare, then time the switch, run inside `opened()`: a connection made once the host is prepared,
    so that a slow prepare cannot outlast what the app keeps an idle connection open for."""
    code, output = host.run("releaseflow-PrepareRevision", Revision=host.commits[1])
    assert code == 0, output
    with opened():
        started = time.monotonic()
        code, output = host.run(
            "releaseflow-CheckoutRevision", Revision=host.commits[1], ExecutionId="exec-1", **values
        )
        return code, output, time.monotonic() - started


@needs_root
def test_a_switch_after_a_drain_starts_once_the_app_port_has_been_quiet_for_2_seconds(host, http_app):
    """With DrainSeconds, the switch first waits until no connection to the app's port has moved data for
    2 s; an idle app (an idle connection open too) holds it only that long, far less than the bound."""
    port, _ = http_app
    code, output, seconds = _timed_checkout(
        host, lambda: socket.create_connection(("127.0.0.1", port)), DrainSeconds="30", DrainPort=str(port)
    )
    assert code == 0, output
    assert f"drain: no request on port {port} for 2 s" in output
    assert 1.5 < seconds < 10, output


@needs_root
def test_a_switch_after_a_drain_waits_for_a_request_in_flight_but_never_past_drain_seconds(host, http_app):
    """A connection whose request has no answer yet keeps the host draining: the switch waits, and starts
    when DrainSeconds (what was left of the deregistration delay) has passed, saying so."""
    port, _ = http_app
    env_file = host.root / "app.env"
    env_file.write_text(f"PORT={port}\n")

    @contextlib.contextmanager
    def request_in_flight():
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(b"GET /slow HTTP/1.1\r\nHost: app\r\n")  # the request's end never comes
            yield

    code, output, seconds = _timed_checkout(
        host, request_in_flight, DrainSeconds="4", EnvironmentFile=str(env_file)
    )
    assert code == 0, output
    assert f"drain: 1 connection(s) to port {port} still busy when the deregistration delay ended" in output
    assert 3 < seconds < 10, output


@needs_root
def test_a_switch_without_a_target_group_does_not_drain(host):
    """DrainSeconds 0 (the default; DrainBatch's answer without a target group): no wait, nothing said."""
    code, output, _ = _timed_checkout(host)
    assert code == 0, output
    assert "drain:" not in output


# --- The app's own hooks: .releaseflow/hooks/{build,before-switch,after-restart} of the revision ----

HOOKS_BEGIN = "# releaseflow hooks: begin"
HOOKS_END = "# releaseflow hooks: end"
# Each hook's document, in the order a deploy runs them.
HOOK_DOCUMENTS = {
    "build": "releaseflow-PrepareRevision",
    "before-switch": "releaseflow-CheckoutRevision",
    "after-restart": "releaseflow-RestartServices",
}
# A hook that says what it saw: a line on stdout and one on stderr, and its environment in a file beside
# the checkout (the host's root, the app user's). Its secret goes to the file, never to the output.
RECORDING_HOOK = """#!/bin/sh
echo "running in $(basename "$PWD")"
echo "a line on stderr" >&2
{
  echo "user=$(id -un)"
  echo "pwd=$PWD"
  echo "hook=$RELEASEFLOW_HOOK"
  echo "revision=$RELEASEFLOW_REVISION"
  echo "previous=$RELEASEFLOW_PREVIOUS_REVISION"
  echo "execution=$RELEASEFLOW_EXECUTION_ID"
  echo "app_dir=$RELEASEFLOW_APP_DIR"
  echo "rails_env=$RAILS_ENV"
  echo "secret=$SECRET_KEY_BASE"
  echo "bundle=$(command -v bundle)"
  echo "served=$(git -C "$RELEASEFLOW_APP_DIR" rev-parse HEAD)"
  echo "installed=$(test -e installed && echo yes)"
  echo "restarts=$(tr '\\n' ' ' 2>/dev/null < "$RELEASEFLOW_APP_DIR/../systemctl.log")"
} > "$RELEASEFLOW_APP_DIR/../hook-$RELEASEFLOW_HOOK"
exit "${HOOK_EXIT:-0}"
"""
FAILING_HOOK = (
    '#!/bin/sh\necho "checking the $RELEASEFLOW_HOOK"\necho "scenario: the hook says no" >&2\nexit 3\n'
)


def hooks_block(document: str) -> str:
    """The hooks snippet as it stands in `document`'s script (indentation and all)."""
    text = (ROOT / "documents" / f"{document}.yaml").read_text()
    start = text.rindex("\n", 0, text.index(HOOKS_BEGIN)) + 1
    return text[start : text.index("\n", text.index(HOOKS_END))]


def add_hook_commit(host: Host, hooks: dict[str, tuple[str, int]]) -> str:
    """A commit on top of the remote's main with `hooks` (name -> (text, mode)) in .releaseflow/hooks/."""
    work = host.root / "work"
    folder = work / ".releaseflow" / "hooks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, (text, mode) in hooks.items():
        (folder / name).write_text(text)
        (folder / name).chmod(mode)
    host._git("-C", str(work), "add", "-A")
    host._git(
        "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "hooks"
    )
    sha = host._git("-C", str(work), "rev-parse", "HEAD").strip()
    host.git_in(host.remote, "fetch", "--quiet", str(work), "+main:main")
    subprocess.run(["chown", "-R", APP_USER, str(host.remote)], check=True)
    return sha


def seen_by(host: Host, hook: str) -> dict[str, str]:
    """What the recording hook `hook` wrote, as key -> value."""
    lines = (host.root / f"hook-{hook}").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_the_hooks_snippet_is_the_same_bytes_in_every_document_that_runs_a_hook():
    """One way to run a hook: the same snippet, byte for byte, in each hook's document, once, after the
    app-user snippet whose as_app it runs the hook through; each document runs its own hook only."""
    blocks = {document: hooks_block(document) for document in HOOK_DOCUMENTS.values()}
    assert len(set(blocks.values())) == 1, blocks.keys()
    assert "runuser" not in blocks["releaseflow-PrepareRevision"]
    for name, document in HOOK_DOCUMENTS.items():
        text = (ROOT / "documents" / f"{document}.yaml").read_text()
        assert text.count(HOOKS_BEGIN) == 1
        assert text.index(APP_ENV_END) < text.index(HOOKS_BEGIN)
        calls = [line.split()[1] for line in text.splitlines() if line.strip().startswith("run_hook ")]
        assert calls == [name], document


@needs_root
def test_each_hook_runs_at_its_point_as_the_app_user_in_the_app_environment(shim_host):
    """build in the prepared tree while the host serves the old revision, before-switch in that tree just
    before the switch, after-restart in the served tree once the services restarted: each as the app
    user with its login PATH, the environment file and RAILS_ENV, the RELEASEFLOW_* context, and its
    output in the command's output headed with its name; no secret printed."""
    host = shim_host
    old = host.head()
    new = add_hook_commit(host, {name: (RECORDING_HOOK, 0o755) for name in HOOK_DOCUMENTS})
    values = {"EnvironmentFile": str(host.env_file), "RailsEnv": "staging"}
    prepared = host.app / ".git" / "releaseflow-prepared"
    code, prepare_output = host.run("releaseflow-PrepareRevision", Revision=new, **values)
    assert code == 0, prepare_output
    assert not (host.root / "hook-before-switch").exists()
    code, checkout_output = host.run(
        "releaseflow-CheckoutRevision", Revision=new, ExecutionId="exec-7", **values
    )
    assert code == 0, checkout_output
    assert not (host.root / "hook-after-restart").exists()
    code, restart_output = host.run("releaseflow-RestartServices", Services=["puma"], **values)
    assert code == 0, restart_output

    shims = str(host.app / ".rbenv" / "shims" / "bundle")
    common = {"user": APP_USER, "revision": new, "app_dir": str(host.app), "rails_env": "staging"}
    common |= {"secret": "hunter2secret", "bundle": shims, "installed": "yes"}
    expected = {
        "build": {"pwd": str(prepared), "previous": old, "execution": "", "served": old, "restarts": ""},
        "before-switch": {"pwd": str(prepared), "previous": old, "execution": "exec-7", "served": old},
        "after-restart": {"pwd": str(host.app), "previous": "", "served": new, "restarts": "restart puma "},
    }
    outputs = {"build": prepare_output, "before-switch": checkout_output, "after-restart": restart_output}
    for name, output in outputs.items():
        seen = seen_by(host, name)
        assert seen | {"hook": name} == seen and {**seen, **common, **expected[name]} == seen, (name, seen)
        assert f"hook {name}: running .releaseflow/hooks/{name} of {new} as {APP_USER}" in output
        tree = "app" if name == "after-restart" else "releaseflow-prepared"
        assert f"[{name}] running in {tree}\n" in output and f"[{name}] a line on stderr\n" in output
        assert f"hook {name}: done" in output
        assert "hunter2secret" not in output
    assert checkout_output.index("hook before-switch: done") < checkout_output.index("checked out")
    # The hook's lines go to stderr (the runner joins stdout, then stderr): the outcome marker stays first.
    assert checkout_output.index("releaseflow-outcome: switched") < checkout_output.index("[before-switch]")
    assert host.head() == new


@needs_root
def test_a_revision_without_hooks_runs_none_and_the_restart_reads_no_environment(host):
    """No .releaseflow/hooks in the revision: nothing is run or said, and RestartServices does not even
    read the environment file (its note about a missing one would otherwise show)."""
    code, output = host.switch(host.commits[1])
    assert code == 0, output
    code, restart_output = host.run("releaseflow-RestartServices", EnvironmentFile="/nonexistent/env")
    assert code == 0, restart_output
    for text in (output, restart_output):
        assert "hook" not in text
    assert "/nonexistent/env" not in restart_output
    assert host.log.read_text() == "restart puma\n"


def _run_to(host: Host, name: str, revision: str) -> tuple[int, str]:
    """Run the deploy's documents for `revision` up to and including the one of hook `name`."""
    code, output = host.run("releaseflow-PrepareRevision", Revision=revision)
    if code or name == "build":
        return code, output
    code, output = host.run("releaseflow-CheckoutRevision", Revision=revision, ExecutionId="exec-1")
    if code or name == "before-switch":
        return code, output
    return host.run("releaseflow-RestartServices")


@needs_root
@pytest.mark.parametrize("name", list(HOOK_DOCUMENTS))
def test_a_hook_that_is_not_executable_fails_its_command_naming_it(host, name):
    """A hook file without its executable bit is a mistake, not an absent hook: the command fails naming it."""
    new = add_hook_commit(host, {name: (RECORDING_HOOK, 0o644)})
    code, output = _run_to(host, name, new)
    assert code == 1, output
    assert f"hook {name}: .releaseflow/hooks/{name} of {new} is not an executable file" in output
    assert not (host.root / f"hook-{name}").exists()


@needs_root
@pytest.mark.parametrize("name", list(HOOK_DOCUMENTS))
def test_a_failing_hook_fails_its_command_with_its_output_where_it_stands(host, name):
    """A hook exiting 3 fails its command, which shows the hook's output and names it and its exit code.
    build: the served tree is untouched; before-switch: the host is not switched and nothing is recorded;
    after-restart: the host is switched, and the rollback of its execution puts it back."""
    old = host.head()
    new = add_hook_commit(host, {name: (FAILING_HOOK, 0o755)})
    code, output = _run_to(host, name, new)
    assert code == 1, output
    assert f"[{name}] checking the {name}\n" in output and f"[{name}] scenario: the hook says no\n" in output
    assert f"hook {name} failed: .releaseflow/hooks/{name} of {new} exited 3" in output
    assert f"hook {name}: done" not in output
    if name == "after-restart":
        assert host.head() == new
        code, output = host.run("releaseflow-Rollback", ExecutionId="exec-1")
        assert code == 0, output
        assert "hook" not in output  # a rollback runs no hook
    else:
        assert "checked out" not in output
        assert not (host.app / ".git" / "releaseflow").exists()
    assert host.head() == old
    assert host.git_in(host.app, "status", "--porcelain", "--untracked-files=no") == ""


@needs_root
def test_a_hook_never_runs_as_root(host):
    """AppUser root: the hook is refused, not run."""
    new = add_hook_commit(host, {"after-restart": (RECORDING_HOOK, 0o755)})
    code, output = host.switch(new)
    assert code == 0, output
    code, output = host.run("releaseflow-RestartServices", AppUser="root")
    assert code == 1, output
    assert "hook after-restart: AppUser root has uid 0, and hooks never run as root" in output
    assert not (host.root / "hook-after-restart").exists()
