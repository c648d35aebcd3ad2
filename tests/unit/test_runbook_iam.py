"""IAM: the Automation role in template.yaml grants exactly what the runbooks and their script modules call."""

import ast
from pathlib import Path

from devtools.runbooks import SCRIPTS, script_names
from releaseflow.documents import load_document

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = [load_document(path) for path in sorted((ROOT / "automation").glob("*.yaml"))]
# boto3 service name -> IAM prefix, and the name every script module gives that service's client.
IAM_PREFIX = {"ssm": "ssm", "ec2": "ec2", "elbv2": "elasticloadbalancing"}
CLIENT_NAMES = {"ssm": "ssm", "ec2": "ec2", "elb": "elbv2"}
# What Automation itself calls for an aws:runCommand step: send, follow, and cancel on timeout or cancel.
RUN_COMMAND_APIS = {"ssm:SendCommand", "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:CancelCommand"}
# What Automation itself needs to watch a deploy's alarm (docs/aws-semantics.md, Alarm monitoring), not a
# call of the runbooks: tests/unit/test_template.py pins that policy down.
ALARM_POLICY = "stop-on-alarm"


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def module_apis(path: Path) -> set[str]:
    """The IAM actions a script module calls: `ssm.describe_x(...)` and `ssm.get_paginator("describe_x")`
    on the clients it names ssm, ec2 and elb, read from its syntax tree; its clients are of known services."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id == "client":
            assert node.args[0].value in IAM_PREFIX, (path.name, node.args[0].value)
        if not (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)):
            continue
        service = CLIENT_NAMES.get(function.value.id)
        if service is None:
            continue
        method = node.args[0].value if function.attr == "get_paginator" else function.attr
        found.add(f"{IAM_PREFIX[service]}:{pascal(method)}")
    return found


def runbook_apis() -> set[str]:
    """Every IAM action the runbooks need: API steps, waits, runCommand, and the calls of their script modules."""
    found = set()
    for document in RUNBOOKS:
        for _, step in document.steps():
            inputs = step["inputs"]
            if step["action"] in ("aws:executeAwsApi", "aws:waitForAwsResourceProperty"):
                found.add(f"{IAM_PREFIX[inputs['Service']]}:{inputs['Api']}")
                if inputs["Api"] == "StartAutomationExecution":
                    found.add("iam:PassRole")  # starts RollbackFleet with the AutomationAssumeRole
            elif step["action"] == "aws:runCommand":
                found |= RUN_COMMAND_APIS
    # shared.py's helpers count only if a script uses them; every one is used by some script.
    for name in [*script_names(), "shared"]:
        found |= module_apis(SCRIPTS / f"{name}.py")
    return found


def automation_role_actions() -> set[str]:
    """The actions template.yaml grants the Automation role, its own policies and the ones attached to it."""
    from cfnlint.decode.cfn_yaml import load

    resources = load(str(ROOT / "template.yaml"))["Resources"]
    documents = []
    for policy in resources["AutomationRole"]["Properties"]["Policies"]:
        # A conditional policy (`!If [HasTargetGroup, policy, NoValue]`) counts with its condition true.
        policy = policy.get("Fn::If", [None, policy])[1]
        if policy["PolicyName"] == ALARM_POLICY:
            continue
        documents.append(policy["PolicyDocument"])
    for resource in resources.values():
        if (
            resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": "AutomationRole"} in resource["Properties"]["Roles"]
        ):
            documents.append(resource["Properties"]["PolicyDocument"])
    actions = set()
    for document in documents:
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            granted = statement["Action"]
            actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def test_automation_role_grants_exactly_what_the_runbooks_call_without_wildcards():
    """The Automation role's actions are exactly the APIs derived from the runbooks, none with a wildcard."""
    granted = automation_role_actions()
    assert not [action for action in granted if "*" in action]
    needed = runbook_apis()
    assert "ssm:DescribeAutomationStepExecutions" in needed  # ReportFailure's lookup
    assert "ssm:DescribeAutomationExecutions" in needed  # the Lock step's listing
    assert granted == needed


def test_the_api_reader_finds_direct_and_paginated_calls(tmp_path):
    """A call on a named client and a paginator over an operation both count; other objects' calls do not."""
    module = tmp_path / "m.py"
    module.write_text(
        "def handler(events, context, *, ssm=None, elb=None):\n"
        "    ssm.get_paginator('list_commands').paginate()\n"
        "    elb.register_targets(TargetGroupArn='x', Targets=[])\n"
        "    json.dumps(ssm)\n"
    )
    assert module_apis(module) == {"ssm:ListCommands", "elasticloadbalancing:RegisterTargets"}
