"""Security without a fleet: injection refused by trigger, documents and runbooks; the lock race; IAM."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cfnlint.decode.cfn_yaml import load

from injection import (
    DOCUMENTS,
    PAYLOADS,
    RUNBOOKS,
    SAMPLES,
    base_value,
    host_parameters,
    payload,
    valid_values,
)
from injection import (
    REPO as ROOT,
)
from releaseflow.cli import main
from releaseflow.deploy import (
    LockHeld,
    ParameterRefused,
    StartRequest,
    check_parameters,
    claim,
    retry_request,
)
from releaseflow.rehearsal.command_document import InvalidParameters, resolve_parameters
from releaseflow.rehearsal.engine.automation import InvalidParameters as RunbookRefused
from releaseflow.rehearsal.engine.automation import validate_parameters

DOCUMENT_CASES = [
    (doc, name) for doc, content in DOCUMENTS.items() for name in content.get("parameters") or {}
]
RUNBOOK_CASES = [(book, name) for book, content in RUNBOOKS.items() for name in host_parameters(content)]


def test_the_deploy_runbook_hands_the_shared_parameters_to_hosts():
    """The table covers the runbook parameters that reach a host (so it cannot silently shrink)."""
    assert {
        "Revision",
        "AppDir",
        "AppUser",
        "GitRemote",
        "InstallCommand",
        "MigrateCommand",
        "Services",
    } <= set(host_parameters(RUNBOOKS["releaseflow-Deploy"]))
    assert "FleetTagValue" not in host_parameters(RUNBOOKS["releaseflow-Deploy"])


@pytest.mark.parametrize(("document", "name"), DOCUMENT_CASES + RUNBOOK_CASES)
def test_every_parameter_that_reaches_a_host_is_anchored_or_enumerated(document, name):
    """Each such parameter has allowedValues or an allowedPattern anchored at both ends (SSM matches anywhere)."""
    spec = {**DOCUMENTS, **RUNBOOKS}[document]["parameters"][name]
    pattern = spec.get("allowedPattern")
    assert spec.get("allowedValues") or (pattern and pattern.startswith("^") and pattern.endswith("$"))


@pytest.mark.parametrize(("document", "name"), DOCUMENT_CASES)
def test_command_documents_accept_the_base_values(document, name):
    """Control: the base value of each parameter passes SendCommand's checks."""
    content = DOCUMENTS[document]
    spec = content["parameters"][name]
    given = {**valid_values(content), name: [base_value(spec, name)]}
    assert resolve_parameters(content, given)[name] in (given[name][0], given[name])


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize(("document", "name"), DOCUMENT_CASES)
def test_command_documents_refuse_injection_as_send_command_does(document, name, kind):
    """SendCommand's own checks (Go's unanchored MatchString) refuse every payload in every parameter."""
    content = DOCUMENTS[document]
    value = payload(kind, base_value(content["parameters"][name], name))
    with pytest.raises(InvalidParameters, match=f'parameter "{name}"'):
        resolve_parameters(content, {**valid_values(content), name: [value]})


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize(("runbook", "name"), RUNBOOK_CASES)
def test_runbooks_refuse_injection_at_start(runbook, name, kind):
    """StartAutomationExecution's checks refuse every payload in every parameter that reaches a host."""
    content = RUNBOOKS[runbook]
    validate_parameters(content, valid_values(content))
    value = payload(kind, base_value(content["parameters"][name], name))
    with pytest.raises(RunbookRefused, match=f"Parameter {name} "):
        validate_parameters(content, {**valid_values(content), name: [value]})


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize(("runbook", "name"), RUNBOOK_CASES)
def test_trigger_check_refuses_injection_naming_the_parameter(runbook, name, kind):
    """The trigger's check refuses every payload, naming the parameter, before any AWS call."""
    specs = RUNBOOKS[runbook]["parameters"]
    value = payload(kind, base_value(specs[name], name))
    with pytest.raises(ParameterRefused, match=f"^parameter {name}: "):
        check_parameters({name: [value]}, specs)


@pytest.fixture
def offline_config(tmp_path, monkeypatch):
    """A deploy configuration whose AWS endpoint is a closed port: any AWS call would fail, not exit 2."""
    config = tmp_path / "releaseflow.yaml"
    config.write_text(
        "environments:\n  t:\n    region: us-east-1\n    runbook: releaseflow-Deploy\n"
        "    parameters:\n      FleetTagValue: web\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return ["--config", str(config), "--environment", "t", "--root", str(ROOT)]


@pytest.mark.parametrize("kind", PAYLOADS)
def test_deploy_refuses_an_injected_revision_with_exit_2(offline_config, capsys, kind):
    """`releaseflow deploy --revision 'x;touch ...'` exits 2 naming Revision, without calling AWS."""
    assert main(["deploy", "--revision", payload(kind, SAMPLES["Revision"]), *offline_config]) == 2
    assert "Error: parameter Revision: " in capsys.readouterr().err


# Each CLI run reads the runbook: every parameter with one payload, and every payload in one parameter.
OVERRIDE_CASES = sorted(
    {(name, "semicolon") for name in host_parameters(RUNBOOKS["releaseflow-Deploy"]) if name != "Revision"}
    | {("GitRemote", kind) for kind in PAYLOADS}
)


@pytest.mark.parametrize(("name", "kind"), OVERRIDE_CASES)
def test_deploy_refuses_an_injected_param_override_with_exit_2(offline_config, capsys, name, kind):
    """`--param NAME=<payload>` exits 2 naming the parameter, without calling AWS."""
    spec = RUNBOOKS["releaseflow-Deploy"]["parameters"][name]
    override = f"{name}={payload(kind, base_value(spec, name))}"
    assert main(["deploy", "--revision", SAMPLES["Revision"], "--param", override, *offline_config]) == 2
    assert f"Error: parameter {name}: " in capsys.readouterr().err


class Executions:
    """DescribeAutomationExecutions/Get/Stop over a fixed set of running executions on fleet web."""

    def __init__(self, started: dict[str, datetime]):
        self.started = started
        self.stopped: list[str] = []

    def get_paginator(self, name):
        assert name == "describe_automation_executions"
        rows = [
            {"AutomationExecutionId": i, "DocumentName": "releaseflow-Deploy", "ExecutionStartTime": t}
            for i, t in self.started.items()
            if i not in self.stopped
        ]
        return type(
            "Pages", (), {"paginate": staticmethod(lambda **_: [{"AutomationExecutionMetadataList": rows}])}
        )

    def get_automation_execution(self, AutomationExecutionId):
        return {"AutomationExecution": {"Parameters": {"FleetTagValue": ["web"]}}}

    def stop_automation_execution(self, AutomationExecutionId, Type):
        self.stopped.append(AutomationExecutionId)


REQUEST = StartRequest("releaseflow-Deploy", {"FleetTagValue": ["web"]}, "token", ())
NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_of_two_racing_starts_the_younger_stops_itself_and_names_the_older():
    """Both found the fleet free and started: the later one stops its own execution and raises LockHeld."""
    ssm = Executions({"b-young": NOON.replace(second=1), "a-old": NOON})
    with pytest.raises(LockHeld, match="execution a-old of releaseflow-Deploy is still running on fleet web"):
        claim(ssm, REQUEST, "b-young")
    assert ssm.stopped == ["b-young"]


def test_of_two_racing_starts_the_older_keeps_the_lock():
    """The older execution goes on and stops nothing."""
    ssm = Executions({"b-young": NOON.replace(second=1), "a-old": NOON})
    claim(ssm, REQUEST, "a-old")
    assert ssm.stopped == []


def test_racing_starts_in_the_same_instant_are_ordered_by_id():
    """With equal start times both sides agree: the smaller id wins, the other stops itself."""
    ssm = Executions({"b": NOON, "a": NOON})
    claim(ssm, REQUEST, "a")
    with pytest.raises(LockHeld, match="execution a of"):
        claim(ssm, REQUEST, "b")
    assert ssm.stopped == ["b"]


def test_a_start_the_listing_does_not_show_yet_yields_to_any_running_one():
    """If the listing lags behind the start, every running execution on the fleet counts as older."""
    ssm = Executions({"a-other": NOON.replace(second=5)})
    with pytest.raises(LockHeld, match="execution a-other of"):
        claim(ssm, REQUEST, "z-mine")
    assert ssm.stopped == ["z-mine"]


def test_a_start_that_lost_the_race_retries_with_a_new_but_stable_token():
    """--wait-lock restarts with a token of its own (the old one names the stopped execution), the same on every retry."""
    again = retry_request(REQUEST)
    assert again.client_token != REQUEST.client_token
    assert again == retry_request(REQUEST)
    assert (again.runbook, again.parameters) == (REQUEST.runbook, REQUEST.parameters)


@pytest.fixture(scope="module")
def template() -> dict:
    return load(str(ROOT / "template.yaml"))


def _statements(template: dict):
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [properties.get("PolicyDocument")] + [
            p.get("PolicyDocument") for p in properties.get("Policies", []) if isinstance(p, dict)
        ]
        # An !If around a policy: both branches' documents count.
        for policy in properties.get("Policies", []):
            for branch in (policy.get("Fn::If") or [None])[1:]:
                if isinstance(branch, dict):
                    documents.append(branch.get("PolicyDocument"))
        for document in filter(None, documents):
            for statement in document["Statement"]:
                yield name, statement


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def _resources(statement: dict) -> list:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _oidc_trusts(template: dict) -> list[tuple[str, dict]]:
    return [
        (name, statement)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        if statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    ]


def test_oidc_roles_trust_only_this_repository_with_exact_conditions():
    """Every OIDC trust: StringEquals (no StringLike), audience sts.amazonaws.com, subject repo-scoped without wildcards."""
    trusts = _oidc_trusts(load(str(ROOT / "template.yaml")))
    assert {name for name, _ in trusts} == {"DeployRole", "PlanRole"}
    for _, statement in trusts:
        assert set(statement["Condition"]) == {"StringEquals"}
        equals = statement["Condition"]["StringEquals"]
        assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        subject = equals["token.actions.githubusercontent.com:sub"]
        subjects = (
            [branch["Fn::Sub"] for branch in subject["Fn::If"][1:]]
            if "Fn::If" in subject
            else [subject["Fn::Sub"]]
        )
        for sub in subjects:
            assert sub.startswith("repo:${GitHubOwner}/${GitHubRepository}:")
            assert "*" not in sub and "?" not in sub


def test_deploy_role_subject_is_the_branch_or_the_environment(template):
    """The deploy role's subject is either the configured branch or the configured environment."""
    ((_, statement),) = [t for t in _oidc_trusts(template) if t[0] == "DeployRole"]
    subject = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]["Fn::If"]
    assert [branch["Fn::Sub"].split(":", 2)[2] for branch in subject[1:]] == [
        "environment:${GitHubEnvironment}",
        "ref:refs/heads/${GitHubBranch}",
    ]


@pytest.mark.parametrize("action", ["ssm:SendCommand", "ssm:StartAutomationExecution"])
def test_no_wildcard_resource_on_commands_and_runbook_starts(template, action):
    """No statement grants SendCommand or StartAutomationExecution on Resource "*"."""
    granting = [(name, s) for name, s in _statements(template) if action in _actions(s)]
    assert granting
    for name, statement in granting:
        assert "*" not in _resources(statement), name


def test_automation_role_is_passed_only_to_ssm(template):
    """Every iam:PassRole names roles of the stack; the automation role only with PassedToService ssm.amazonaws.com."""
    passing = [s for _, s in _statements(template) if "iam:PassRole" in _actions(s)]
    assert passing
    for statement in passing:
        assert all(isinstance(r, dict) and "Fn::GetAtt" in r for r in _resources(statement))
        roles = {r["Fn::GetAtt"][0] for r in _resources(statement)}
        services = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        services = [services] if isinstance(services, str) else services
        if "AutomationRole" in roles:
            assert services == ["ssm.amazonaws.com"]
        else:
            assert roles == {"SchedulerRole"} and services == ["scheduler.amazonaws.com"]
