"""Every bad input the CLI refuses before anything starts: exit 2 and one `Error:` line saying what to do."""

from __future__ import annotations

import socket

import pytest

from injection import PAYLOADS, REPO, RUNBOOKS, SAMPLES, base_value, payload
from releaseflow.cli import main
from releaseflow.commands import deploy as deploy_command
from releaseflow.documents import load_document
from releaseflow.sources import packaged_root, runbook_file

REVISION = "a" * 40
CONFIG = """\
environments:
  production:
    region: eu-west-1
    parameters:
      FleetTagValue: web
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An app's folder without documents of its own; AWS set up only as each test says."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "RELEASEFLOW_CONFIG",
        "RELEASEFLOW_ENVIRONMENT",
        "GITHUB_ACTIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    (tmp_path / "releaseflow.yaml").write_text(CONFIG)
    return tmp_path


def refused(capsys, *args: str) -> str:
    """Run the CLI; assert exit 2, nothing on stdout and exactly one stderr line; return that line."""
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_parameters_written_as_a_list(folder, capsys):
    """`parameters:` as a list names the file, the line and the shape to write instead."""
    (folder / "releaseflow.yaml").write_text(
        "environments:\n  production:\n    region: eu-west-1\n    parameters:\n      - FleetTagValue: web\n"
    )
    assert refused(capsys, "deploy", "--revision", REVISION) == (
        "Error: releaseflow.yaml:4: environments.production.parameters must be a mapping, not a list; "
        "write one `Name: value` line per parameter"
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [("    regoin: eu-west-1\n", "regoin"), ("    runbok: releaseflow-Deploy\n", "runbok")],
)
def test_misspelt_keys(folder, capsys, line, key):
    """A misspelt environment key is refused at its line with the keys that exist."""
    (folder / "releaseflow.yaml").write_text(f"environments:\n  production:\n{line}")
    assert refused(capsys, "deploy", "--revision", REVISION) == (
        f"Error: releaseflow.yaml:3: unknown key '{key}' in environments.production; known keys: "
        "alarm, ignore_alarm_poll_failure, migrate, parameters, region, runbook, schedule_group, "
        "scheduler_role_arn"
    )


def test_wrong_type_of_setting(folder, capsys):
    """A setting of the wrong type (migrate: "no") is refused with what it must be."""
    (folder / "releaseflow.yaml").write_text('environments:\n  production:\n    migrate: "no"\n')
    assert refused(capsys, "deploy", "--revision", REVISION) == (
        "Error: releaseflow.yaml:3: environments.production.migrate must be a boolean, not str 'no'"
    )


@pytest.mark.parametrize("value", ["-5", "0", "soon"])
def test_timeout_not_positive(folder, capsys, value):
    """--timeout must be a positive number of seconds: -5 would otherwise start a deploy and stop it."""
    assert refused(capsys, "deploy", "--revision", REVISION, "--timeout", value) == (
        f"Error: releaseflow deploy: argument --timeout: '{value}' is not a positive number of seconds; "
        "see `releaseflow deploy --help`"
    )


def test_endpoint_url_not_a_url(folder, capsys, monkeypatch):
    """AWS_ENDPOINT_URL=not-a-url is named and explained instead of a botocore traceback."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not-a-url")
    assert refused(capsys, "publish", "--dry-run") == (
        "Error: AWS_ENDPOINT_URL='not-a-url' is not an endpoint URL: write http(s)://HOST[:PORT], "
        "such as the URL `releaseflow local up` prints, or unset it to use AWS"
    )


def test_no_credentials(folder, capsys, monkeypatch):
    """Without credentials the command is refused (exit 2, not the failed-deploy 1)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert refused(capsys, "publish", "--dry-run") == (
        "Error: no usable AWS credentials (Unable to locate credentials): configure them (AWS_PROFILE, "
        "environment variables, or the role in CI), or set AWS_ENDPOINT_URL to the local rehearsal"
    )


def test_unreachable_endpoint(folder, capsys, monkeypatch):
    """An endpoint nobody listens on is refused with exit 2, naming the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused at once
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        assert refused(capsys, "publish", "--dry-run") == (
            f'Error: AWS is not reachable: Could not connect to the endpoint URL: "{url}/"; '
            "check AWS_ENDPOINT_URL, the region and the network"
        )


def test_no_region(folder, capsys):
    """No region anywhere is refused with the three places to give one."""
    assert refused(capsys, "publish", "--dry-run") == (
        "Error: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), `region:` in releaseflow.yaml, "
        "or --region"
    )


def test_aws_region_alone_is_enough(folder, monkeypatch):
    """AWS_REGION without AWS_DEFAULT_REGION picks the region, as the README promises."""
    from releaseflow.commands._aws import client

    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert client("ssm").meta.region_name == "ap-southeast-2"


def test_publish_root_without_documents(folder, capsys):
    """publish --root at a folder with no documents is refused instead of "0 of 0 would publish"."""
    (folder / "empty").mkdir()
    assert refused(capsys, "publish", "--dry-run", "--root", "empty") == (
        "Error: --root empty: no documents/ or automation/ folder with documents in it; "
        "name the folder that holds them, or leave it out to use the packaged documents"
    )


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        (
            "bad prefix/",
            "would not be valid: use only letters, digits, '_', '-' and '.' (128 at most), such as staging-",
        ),
        ("aws-", "starts with a prefix SSM reserves for AWS (aws, amazon, amzn); choose another prefix"),
    ],
)
def test_publish_prefix_ssm_refuses(folder, capsys, monkeypatch, prefix, problem):
    """A --prefix that makes names SSM refuses is refused before the dry run plans creates."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert refused(capsys, "publish", "--dry-run", "--prefix", prefix) == (
        f"Error: --prefix '{prefix}': document name '{prefix}releaseflow-CheckoutRevision' {problem}"
    )


def test_plan_batch_size_zero(folder, capsys):
    """plan --batch-size 0 is bad input (exit 2), as it is for deploy."""
    runbook = load_document(runbook_file(packaged_root(), "releaseflow-Deploy"))
    pattern = runbook.content["parameters"]["BatchSize"]["allowedPattern"]
    assert refused(capsys, "plan", "--hosts", "i-01234567,i-89abcdef", "--batch-size", "0") == (
        f"Error: parameter BatchSize: value '0' does not match the runbook's pattern {pattern}"
    )


def test_wrong_case_parameter_name(folder, capsys):
    """A parameter name in the wrong case is refused before any AWS call, suggesting the right one."""
    assert refused(capsys, "deploy", "--revision", REVISION, "--param", "batchSize=1") == (
        "Error: parameter batchSize: the runbook declares no such parameter; "
        "did you mean BatchSize? (names are case-sensitive)"
    )


def test_unknown_option(folder, capsys):
    """argparse's own refusals are one line too, pointing at --help."""
    assert refused(capsys, "plan", "--hosts", "i-01234567", "--bogus") == (
        "Error: releaseflow: unrecognized arguments: --bogus; see `releaseflow --help`"
    )


def test_config_check_names_the_environment(folder, capsys):
    """`config check` refuses a configured parameter name the runbook lacks, naming file and environment."""
    (folder / "releaseflow.yaml").write_text(
        "environments:\n  production:\n    parameters:\n      Fleet: web\n"
    )
    line = refused(capsys, "config", "check")
    assert line.startswith(
        "Error: releaseflow.yaml: environment production: parameter Fleet: the runbook declares no such "
        "parameter; it has: "
    )
    assert "FleetTagValue" in line


def test_malformed_region(folder, capsys):
    """A region botocore cannot use is refused naming the three places a region comes from."""
    assert refused(capsys, "status", "--region", "eu west") == (
        "Error: cannot make an AWS ssm client: Provided region_name 'eu west' doesn't match a supported format; "
        "check --region, `region:` in releaseflow.yaml and AWS_REGION (a region reads like eu-west-1)"
    )


def test_empty_configuration(folder, capsys):
    """An empty releaseflow.yaml says what it must start with."""
    (folder / "releaseflow.yaml").write_text("")
    assert refused(capsys, "deploy", "--revision", REVISION) == (
        "Error: releaseflow.yaml:1: the file must be a mapping, not empty; it starts with `environments:` "
        "(releaseflow config schema)"
    )


@pytest.mark.parametrize(
    ("args", "value"),
    [
        (("plan", "--hosts", "i-1;reboot"), "i-1;reboot"),
        (("plan", "--hosts", "i-01234567,$(reboot)"), "$(reboot)"),
        (
            ("plan", "--hosts", "i-01234567", "--migration-host", "i-0123456789abcdef0 x"),
            "i-0123456789abcdef0 x",
        ),
        (("probe", "--instance-id", "web-1"), "web-1"),
    ],
    ids=["semicolon", "substitution", "migration-host", "probe"],
)
def test_instance_ids_that_are_not_instance_ids(folder, capsys, args, value):
    """Wherever a command takes instance ids, one that is not of SSM's form is refused, named, exit 2."""
    assert f"{value!r} is not an instance id (i- followed by 8 or 17 letters or digits" in refused(
        capsys, *args
    )


def test_configuration_that_is_not_utf8(folder, capsys):
    """A releaseflow.yaml that is not UTF-8 text is one line naming the file, the line and the byte."""
    (folder / "releaseflow.yaml").write_bytes(CONFIG.encode() + b"      Revision: caf\xe9\n")
    for command in (["config", "check"], ["deploy", "--revision", REVISION], ["publish", "--dry-run"]):
        assert refused(capsys, *command) == (
            "Error: releaseflow.yaml: the deploy configuration is not UTF-8 text: "
            "byte 0xe9 on line 6 (offset 110) is not UTF-8"
        )


def test_readings_file_that_is_not_utf8(folder, capsys):
    """An --aws-readings file that is not UTF-8 text is refused in one line before the rehearsal starts."""
    (folder / "readings.json").write_bytes(b'{"loop_nested_jump": "\xff"}')
    assert refused(
        capsys, "local", "up", "--aws-readings", "readings.json", "--state-dir", str(folder / "s")
    ) == ("Error: --aws-readings readings.json: not UTF-8 text: byte 0xff on line 1 (offset 22) is not UTF-8")
    assert not (folder / "s").exists()


def _injected_cases():
    """A payload of every kind in --revision, and a few in --param (a path, a remote, a service list)."""
    spec = RUNBOOKS["releaseflow-Deploy"]["parameters"]
    cases = [(["--revision", payload(kind, SAMPLES["Revision"])], "Revision") for kind in PAYLOADS]
    for name, kind in [("AppDir", "semicolon"), ("GitRemote", "leading option"), ("Services", "backticks")]:
        value = f"{name}={payload(kind, base_value(spec[name], name))}"
        cases.append((["--revision", SAMPLES["Revision"], "--param", value], name))
    return cases


@pytest.mark.parametrize(("args", "name"), _injected_cases(), ids=lambda case: str(case)[:40])
def test_trigger_refuses_injected_values_before_any_aws_call(folder, capsys, monkeypatch, args, name):
    """`releaseflow deploy` with a payload in --revision or a --param exits 2 naming the parameter, and
    makes no AWS client: nothing can start."""

    def no_client(*args, **kwargs):
        raise AssertionError("an AWS client was made for a deploy that must be refused first")

    monkeypatch.setattr(deploy_command, "client", no_client)
    line = refused(capsys, "deploy", *args, "--root", str(REPO))
    assert line.startswith(f"Error: parameter {name}: "), line
