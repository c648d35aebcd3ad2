"""template.yaml: lint-clean, and its roles grant only what the brief allows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

from cfn_template import NO_VALUE
from cfn_template import conditions as _conditions
from cfn_template import resolve as _resolve
from published import published_runbooks

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def template() -> dict:
    return load(str(TEMPLATE))


def _statements(resource: dict) -> list[dict]:
    properties = resource["Properties"]
    documents = (
        [properties["PolicyDocument"]]
        if "PolicyDocument" in properties
        else [
            policy["PolicyDocument"]
            for policy in properties.get("Policies", [])
            if "PolicyDocument" in policy
        ]
    )
    return [statement for document in documents for statement in document["Statement"]]


def _granting(resource: dict, action: str) -> list[dict]:
    return [
        s
        for s in _statements(resource)
        if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]


def test_cfn_lint_is_clean():
    """cfn-lint reports nothing for template.yaml."""
    result = subprocess.run([BIN / "cfn-lint", TEMPLATE], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_is_clean():
    """checkov fails no check; the one skipped check is justified in the template."""
    # checkov pins packaging<24, which pytest 9 cannot use, so `make test` installs it into a virtualenv
    # of its own and names it in $CHECKOV.
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not checkov:
        pytest.skip("checkov is not installed: `make test` installs it and sets CHECKOV, or put it on PATH")
    result = subprocess.run(
        [checkov, "-f", TEMPLATE, "--quiet", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_deploy_role_trusts_only_the_repository_and_branch_or_environment(template):
    """The deploy role's OIDC trust pins audience sts.amazonaws.com and the repo's branch or environment."""
    trust = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    condition = trust["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    environment, branch = condition["token.actions.githubusercontent.com:sub"]["Fn::If"][1:]
    assert environment == {
        "Fn::Sub": "repo:${GitHubOwner}/${GitHubRepository}:environment:${GitHubEnvironment}"
    }
    assert branch == {"Fn::Sub": "repo:${GitHubOwner}/${GitHubRepository}:ref:refs/heads/${GitHubBranch}"}


def test_deploy_role_starts_only_the_release_and_rollback_runbooks(template):
    """ssm:StartAutomationExecution names exactly the two runbooks."""
    (statement,) = _granting(template["Resources"]["DeployRole"], "ssm:StartAutomationExecution")
    names = sorted(arn["Fn::Sub"].rsplit("/", 1)[1] for arn in statement["Resource"])
    assert names == ["${DocumentPrefix}releaseflow-Deploy:*", "${DocumentPrefix}releaseflow-RollbackFleet:*"]


def test_deploy_role_reads_execution_tags_only_on_automation_executions(template):
    """ssm:ListTagsForResource (history's actor and schedule) is granted on automation executions only."""
    (statement,) = _granting(template["Resources"]["DeployRole"], "ssm:ListTagsForResource")
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:automation-execution/*"
    }


def test_deploy_role_passes_only_the_automation_and_scheduler_roles(template):
    """iam:PassRole is limited to the automation and scheduler roles, for their services."""
    statements = _granting(template["Resources"]["DeployRole"], "iam:PassRole")
    assert [(s["Resource"], s["Condition"]["StringEquals"]["iam:PassedToService"]) for s in statements] == [
        ({"Fn::GetAtt": ["AutomationRole", "Arn"]}, "ssm.amazonaws.com"),
        ({"Fn::GetAtt": ["SchedulerRole", "Arn"]}, "scheduler.amazonaws.com"),
    ]


def test_automation_role_sends_commands_only_to_the_fleet_and_project_documents(template):
    """SendCommand: the prefixed documents, and instances only with the fleet tag."""
    statements = _granting(template["Resources"]["AutomationRole"], "ssm:SendCommand")
    resources = {
        s["Resource"]["Fn::Sub"].split(":${AWS::AccountId}:")[1]: s.get("Condition") for s in statements
    }
    assert resources == {
        "document/${DocumentPrefix}releaseflow-*": None,
        "instance/*": {"StringEquals": {"ssm:resourceTag/releaseflow:fleet": {"Ref": "FleetTagValue"}}},
    }


def _alarm_policy(template: dict, names: str) -> list[dict] | None:
    """The AutomationRole's alarm statements for DeployAlarmNames=names (None when the policy is left out)."""
    parameters = {"DeployAlarmNames": names.split(",")}
    conditions = _conditions(template, parameters)
    [policy] = [
        p
        for p in template["Resources"]["AutomationRole"]["Properties"]["Policies"]
        if "stop-on-alarm" in repr(p)
    ]
    resolved = _resolve(policy, parameters, conditions)
    return None if resolved is NO_VALUE else resolved["PolicyDocument"]["Statement"]


@pytest.mark.parametrize(
    ("names", "alarms"),
    [("shop-5xx", ["shop-5xx"]), ("a,b", ["a", "b"]), ("a,b,c", ["a", "b", "c"])],
)
def test_automation_role_reads_only_the_named_alarms_and_may_stop_its_execution(template, names, alarms):
    """DeployAlarmNames scopes DescribeAlarms to those alarms; StopAutomationExecution comes with it."""
    statements = _alarm_policy(template, names)
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (
            "cloudwatch:DescribeAlarms",
            [f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{a}" for a in alarms],
        ),
        ("ssm:StopAutomationExecution", "arn:aws:ssm:eu-west-1:123456789012:automation-execution/*"),
    ]


def test_alarm_permissions_are_left_out_without_alarms_and_star_allows_any(template):
    """No DeployAlarmNames, no alarm policy; `*` (which a composite alarm needs) grants DescribeAlarms on *."""
    assert _alarm_policy(template, "") is None
    assert _alarm_policy(template, "*")[0]["Resource"] == "*"


def _automation_role_allows(template: dict, prefix: str, action: str, arn: str) -> bool:
    """Whether AutomationRole's policies, in a stack with DocumentPrefix=prefix, allow `action` on `arn`."""
    parameters = {
        "DocumentPrefix": prefix,
        "FleetTagValue": "shop",
        "TargetGroupArn": "",
        "DeployAlarmNames": [""],
    }
    policies = _resolve(
        template["Resources"]["AutomationRole"]["Properties"]["Policies"],
        parameters,
        _conditions(template, parameters),
    )
    for statement in (s for policy in policies for s in policy["PolicyDocument"]["Statement"]):
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = (
            [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        )
        # IAM's wildcards: `*` any run of characters, `?` any one.
        patterns = [re.escape(r).replace(r"\*", ".*").replace(r"\?", ".") for r in resources]
        if action in actions and any(re.fullmatch(p, arn) for p in patterns):
            return True
    return False


def test_automation_role_may_start_and_send_every_document_a_prefixed_runbook_names():
    """In a staging- stack, the Automation role may start and send exactly what the staging- runbooks name."""
    template = load(str(TEMPLATE))
    arn = "arn:aws:ssm:eu-west-1:123456789012"
    used = set()
    for runbook in published_runbooks("staging-").values():
        for _, step in runbook.steps():
            inputs = step.get("inputs", {})
            if step["action"] == "aws:runCommand":
                used.add(("ssm:SendCommand", f"{arn}:document/{inputs['DocumentName']}"))
            elif step["action"] == "aws:executeAutomation" or inputs.get("Api") == "StartAutomationExecution":
                name = inputs["DocumentName"]
                used.add(("ssm:StartAutomationExecution", f"{arn}:automation-definition/{name}:$DEFAULT"))
    assert (
        "ssm:StartAutomationExecution",
        f"{arn}:automation-definition/staging-releaseflow-RollbackFleet:$DEFAULT",
    ) in used
    for action, resource in sorted(used):
        assert _automation_role_allows(template, "staging-", action, resource), (action, resource)
        # Production's documents (the same names without the prefix) are out of this stack's reach.
        unprefixed = resource.replace("/staging-", "/")
        assert not _automation_role_allows(template, "staging-", action, unprefixed), (action, unprefixed)


def test_publish_is_limited_to_the_prefix(template):
    """Publishing writes only documents whose names carry the prefix."""
    (statement,) = _granting(template["Resources"]["PublishPolicy"], "ssm:UpdateDocument")
    assert statement["Resource"]["Fn::Sub"].endswith(":document/${DocumentPrefix}releaseflow-*")


def test_plan_role_only_reads(template):
    """The pull-request role can read documents and nothing else, and only from pull requests."""
    actions = {a for s in _statements(template["Resources"]["PlanRole"]) for a in s["Action"]}
    assert actions == {"ssm:GetDocument", "ssm:DescribeDocument"}
    trust = template["Resources"]["PlanRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == {
        "Fn::Sub": "repo:${GitHubOwner}/${GitHubRepository}:pull_request"
    }


def test_oidc_provider_is_optional_and_log_group_keeps_output_for_a_while(template):
    """The OIDC provider has a condition; the command log group has a retention."""
    assert template["Resources"]["GitHubOidcProvider"]["Condition"] == "CreateOidc"
    assert template["Resources"]["CommandOutputLogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"
    }


def test_console_groups_every_parameter_once(template):
    """ParameterGroups list each parameter exactly once and every group's parameters exist."""
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])


def test_what_holds_data_or_is_shared_survives_the_stack(template):
    """The command log group and the account-wide OIDC provider are retained on delete and replace."""
    for name in ("CommandOutputLogGroup", "GitHubOidcProvider"):
        resource = template["Resources"][name]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain"), name


def test_readme_deploy_command_fits_the_template(template):
    """The README's `aws cloudformation deploy` names the template, IAM capability and every required parameter."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("aws cloudformation deploy")
    command = readme[start : readme.index("```", start)].replace("\\\n", " ")
    words = command.split()
    assert words[words.index("--template-file") + 1] == "template.yaml"
    assert words[words.index("--capabilities") + 1] == "CAPABILITY_IAM"
    overrides = dict(word.split("=", 1) for word in words[words.index("--parameter-overrides") + 1 :])
    required = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    assert required <= set(overrides) <= set(template["Parameters"])
    assert not any(
        resource.get("Properties", {}).get("RoleName") for resource in template["Resources"].values()
    )


def test_notifications_are_off_by_default_and_e_mail_is_subscribed_only_when_given(template):
    """Without EnableNotifications no topic or rule exists; with it, the topic takes only the events
    rule's messages, and an e-mail subscription exists only when NotificationEmail is set."""
    off = _conditions(template, {"EnableNotifications": "false", "NotificationEmail": ""})
    assert not off["Notify"]
    assert {
        template["Resources"][name]["Condition"] for name in ("DeployNotificationsTopic", "DeployStatusRule")
    } == {"Notify"}
    for email, subscribed in (("", False), ("ops@example.com", True)):
        parameters = {"EnableNotifications": "true", "NotificationEmail": email, "DocumentPrefix": ""}
        topic = _resolve(
            template["Resources"]["DeployNotificationsTopic"]["Properties"],
            parameters,
            _conditions(template, parameters),
        )
        assert ("Subscription" in topic) is subscribed
    [statement] = template["Resources"]["DeployNotificationsTopicPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeployStatusRule", "Arn"]}}
    }


def test_hosts_may_write_command_output_only_to_the_log_group_and_find_it(template):
    """HostLogsPolicy lets the agent create streams and put events in the command log group only, and
    DescribeLogGroups (its check when CreateLogGroup is refused) on "*", as the user guide's policy has it."""
    statements = {s["Sid"]: s for s in _statements(template["Resources"]["HostLogsPolicy"])}
    assert set(statements) == {"WriteCommandOutput", "FindTheLogGroup"}
    write = statements["WriteCommandOutput"]
    assert set(write["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
    assert write["Resource"] == {"Fn::Sub": "${CommandOutputLogGroup.Arn}"}
    assert statements["FindTheLogGroup"]["Action"] == "logs:DescribeLogGroups"
    assert statements["FindTheLogGroup"]["Resource"] == "*"
    assert template["Outputs"]["HostLogsPolicyArn"]["Value"] == {"Ref": "HostLogsPolicy"}


def test_deploy_role_reads_log_events_only_from_the_command_log_groups_streams(template):
    """The trigger's one CloudWatch Logs permission: GetLogEvents on the streams of the command log group."""
    statements = _statements(template["Resources"]["DeployRole"])
    logs = [s for s in statements if any(str(a).startswith("logs:") for a in _actions(s))]
    assert len(logs) == 1
    assert _actions(logs[0]) == ["logs:GetLogEvents"]
    assert logs[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        "${CommandOutputLogGroup}:log-stream:*"
    }


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]
