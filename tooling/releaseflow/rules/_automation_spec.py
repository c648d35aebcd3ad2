"""What schema 0.3 allows: Automation actions, their inputs and outputs, and walking a runbook's steps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from releaseflow.documents import Document, JsonPath


@dataclass(frozen=True)
class Action:
    """One Automation action as the SSM user guide (automation-action-*) describes it.

    `open_inputs`: the action also takes the called API's own parameters, so inputs beyond the
    listed ones are not errors. `outputs`: what the action itself produces, beside declared outputs.
    """

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    open_inputs: bool = False

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset(self.required + self.optional)


_API_CALL = ("Service", "Api")
_AWS_PROPERTY = (*_API_CALL, "PropertySelector", "DesiredValues")

ACTIONS: dict[str, Action] = {
    "aws:approve": Action(
        required=("Approvers",),
        optional=("NotificationArn", "Message", "MinRequiredApprovals"),
        outputs=("ApprovalStatus", "ApproverDecisions"),
    ),
    "aws:assertAwsResourceProperty": Action(required=_AWS_PROPERTY, open_inputs=True),
    "aws:branch": Action(required=("Choices",), optional=("Default",)),
    "aws:changeInstanceState": Action(
        required=("InstanceIds", "DesiredState"), optional=("CheckStateOnly", "Force", "AdditionalInfo")
    ),
    "aws:copyImage": Action(
        required=("SourceRegion", "SourceImageId", "ImageName"),
        optional=("ImageDescription", "Encrypted", "KmsKeyId", "ClientToken"),
        outputs=("ImageId", "ImageState"),
    ),
    "aws:createImage": Action(
        required=("InstanceId", "ImageName"),
        optional=("ImageDescription", "NoReboot", "BlockDeviceMappings"),
        outputs=("ImageId", "ImageState"),
    ),
    "aws:createStack": Action(
        required=("StackName",),
        optional=(
            "Capabilities",
            "ClientRequestToken",
            "DisableRollback",
            "NotificationARNs",
            "OnFailure",
            "Parameters",
            "ResourceTypes",
            "RoleARN",
            "StackPolicyBody",
            "StackPolicyURL",
            "Tags",
            "TemplateBody",
            "TemplateURL",
            "TimeoutInMinutes",
        ),
        outputs=("StackId", "StackStatus", "StackStatusReason"),
    ),
    "aws:createTags": Action(required=("ResourceIds", "Tags"), optional=("ResourceType",)),
    "aws:deleteImage": Action(required=("ImageId",)),
    "aws:deleteStack": Action(
        required=("StackName",), optional=("ClientRequestToken", "RetainResources", "RoleARN")
    ),
    "aws:executeAutomation": Action(
        required=("DocumentName",),
        optional=(
            "DocumentVersion",
            "RuntimeParameters",
            "MaxConcurrency",
            "MaxErrors",
            "Tags",
            "TargetLocations",
            "TargetMaps",
            "TargetParameterName",
            "Targets",
        ),
        outputs=("Output", "ExecutionId", "Status"),
    ),
    "aws:executeAwsApi": Action(required=_API_CALL, open_inputs=True),
    "aws:executeScript": Action(
        required=("Runtime",),
        optional=("Handler", "InputPayload", "Script", "Attachment"),
        outputs=("Payload",),
    ),
    "aws:executeStateMachine": Action(required=("stateMachineArn",), optional=("name", "input")),
    "aws:invokeLambdaFunction": Action(
        required=("FunctionName",),
        optional=("Qualifier", "InvocationType", "LogType", "ClientContext", "Payload", "InputPayload"),
        outputs=("StatusCode", "FunctionError", "LogResult", "Payload"),
    ),
    "aws:invokeWebhook": Action(
        required=("IntegrationName",), optional=("Body",), outputs=("Response", "ResponseCode")
    ),
    "aws:loop": Action(
        required=("Steps",),
        optional=("Iterators", "IteratorDataType", "LoopCondition", "MaxIterations"),
    ),
    "aws:pause": Action(),
    "aws:runCommand": Action(
        required=("DocumentName",),
        optional=(
            "DocumentVersion",
            "InstanceIds",
            "Targets",
            "Parameters",
            "MaxConcurrency",
            "MaxErrors",
            "TimeoutSeconds",
            "OutputS3BucketName",
            "OutputS3KeyPrefix",
            "CloudWatchOutputConfig",
            "Comment",
            "DocumentHash",
            "DocumentHashType",
            "NotificationConfig",
            "ServiceRoleArn",
        ),
        outputs=("CommandId", "Status", "ResponseCode", "Output"),
    ),
    "aws:runInstances": Action(
        required=("ImageId",),
        optional=(
            "InstanceType",
            "MinInstanceCount",
            "MaxInstanceCount",
            "AdditionalInfo",
            "BlockDeviceMappings",
            "ClientToken",
            "DisableApiTermination",
            "EbsOptimized",
            "IamInstanceProfileArn",
            "IamInstanceProfileName",
            "InstanceInitiatedShutdownBehavior",
            "KernelId",
            "KeyName",
            "Monitoring",
            "NetworkInterfaces",
            "Placement",
            "PrivateIpAddress",
            "RamdiskId",
            "SecurityGroupIds",
            "SecurityGroups",
            "SubnetId",
            "TagSpecifications",
            "UserData",
        ),
        outputs=("InstanceIds", "InstanceStates"),
    ),
    "aws:sleep": Action(optional=("Duration", "Timestamp")),
    "aws:updateVariable": Action(required=("Name", "Value")),
    "aws:waitForAwsResourceProperty": Action(required=_AWS_PROPERTY, open_inputs=True),
}

STEP_FIELDS = frozenset(
    {
        "name",
        "action",
        "inputs",
        "description",
        "maxAttempts",
        "timeoutSeconds",
        "onFailure",
        "onCancel",
        "isEnd",
        "nextStep",
        "isCritical",
        "outputs",
    }
)

OUTPUT_TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")

# aws:branch Choices and aws:loop LoopCondition compare a Variable with exactly one of these.
OPERATORS = frozenset(
    {
        "StringEquals",
        "EqualsIgnoreCase",
        "StartsWith",
        "EndsWith",
        "Contains",
        "NumericEquals",
        "NumericGreater",
        "NumericLesser",
        "NumericGreaterOrEquals",
        "NumericLesserOrEquals",
        "BooleanEquals",
    }
)
COMBINATORS = frozenset({"And", "Or", "Not"})

# aws:executeScript runtimes (automation-action-executeScript). Python 3.6-3.8 can no longer be
# created or run (the user guide: since 2025-02-18), and 3.9 followed in 2025 (issue 11); the others
# still run but are older than what AWS recommends (python3.11) or sit on a .NET that is out of support.
PYTHON_RUNTIMES = ("python3.10", "python3.11")
BLOCKED_RUNTIMES = ("python3.6", "python3.7", "python3.8", "python3.9")
RECOMMENDED_PYTHON = "python3.11"
POWERSHELL_RUNTIMES = ("PowerShell Core 6.0", "PowerShell 7.0", "PowerShell 7.2", "PowerShell 7.4")
OLD_RUNTIMES = {
    "python3.10": "python3.11 is recommended",
    "PowerShell Core 6.0": "it runs on .NET Core 2.1, out of support; use PowerShell 7.4",
    "PowerShell 7.0": "it runs on .NET Core 3.1, out of support; use PowerShell 7.4",
}

# Outputs a loop gives its own nested steps, {{ LoopName.CurrentIteration }} and so on.
LOOP_OUTPUTS = ("CurrentIteration", "CurrentIteratorValue")


def action_of(step: dict) -> Action | None:
    """The step's action from the table, or None when it is missing, malformed or unknown."""
    action = step.get("action")
    return ACTIONS.get(action) if isinstance(action, str) else None


def is_automation(document: Document) -> bool:
    return document.document_type == "Automation"


def step_label(step: dict, path: JsonPath) -> str:
    """How a message names a step: its name, or its position when it has none."""
    name = step.get("name")
    return repr(name) if isinstance(name, str) else f"#{path[-1] + 1}"


def step_lists(document: Document) -> Iterator[tuple[JsonPath, list]]:
    """mainSteps and every aws:loop's nested Steps: the lists a step's jumps must stay within."""
    main = document.content.get("mainSteps") if isinstance(document.content, dict) else None
    if isinstance(main, list):
        yield ("mainSteps",), main
    for path, step in document.steps():
        inputs = step.get("inputs")
        if (
            step.get("action") == "aws:loop"
            and isinstance(inputs, dict)
            and isinstance(inputs.get("Steps"), list)
        ):
            yield (*path, "inputs", "Steps"), inputs["Steps"]


def step_names(steps: list) -> set[str]:
    return {step["name"] for step in steps if isinstance(step, dict) and isinstance(step.get("name"), str)}


def outputs_of(step: dict) -> set[str]:
    """The outputs a step can be referenced by: its action's own and those it declares."""
    action = action_of(step)
    names = set(action.outputs) if action else set()
    declared = step.get("outputs")
    if isinstance(declared, list):
        names |= {o["Name"] for o in declared if isinstance(o, dict) and isinstance(o.get("Name"), str)}
    return names


def has_placeholder(value: Any) -> bool:
    """Whether a value is (or contains) a {{ }} placeholder, so its real value is known only at run time."""
    return isinstance(value, str) and "{{" in value


def condition_problems(condition: Any, where: str) -> Iterator[tuple[str, str]]:
    """What is wrong with a branch choice or loop condition: (sub-key, message) pairs.

    A condition is a Variable with exactly one operator, or exactly one of And/Or (a list of
    conditions) or Not (one condition). `where` names the condition in messages.
    """
    if not isinstance(condition, dict):
        yield "", f"{where} is not a map"
        return
    combinators = sorted(COMBINATORS & condition.keys())
    operators = sorted(OPERATORS & condition.keys())
    unknown = sorted(set(condition) - OPERATORS - COMBINATORS - {"Variable", "NextStep"}, key=str)
    for key in unknown:
        yield key, f"{where}: unknown operator {key!r}"
    if unknown and not combinators + operators:
        return  # reported once, as the unknown operator
    if len(combinators) + len(operators) != 1:
        found = ", ".join(combinators + operators) or "none"
        yield "", f"{where} needs exactly one operator or And/Or/Not (found {found})"
        return
    if operators:
        if "Variable" not in condition:
            yield "", f"{where} has {operators[0]} but no Variable"
        return
    key = combinators[0]
    nested = condition[key]
    if key == "Not":
        yield from ((key, message) for _, message in condition_problems(nested, f"{where} Not"))
    elif not isinstance(nested, list) or not nested:
        yield key, f"{where} {key} must be a non-empty list of conditions"
    else:
        for index, item in enumerate(nested):
            yield from ((key, message) for _, message in condition_problems(item, f"{where} {key}[{index}]"))
