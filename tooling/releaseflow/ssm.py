"""SSM facts: what AWS documents about Automation runbooks, Command documents and their statuses.

Facts only: no I/O and no policy. The validator (rules/), the engine (engine/), the trigger and
follower (execution.py, follow.py, probe.py) and the rehearsal's endpoint all read them here, so that
what `releaseflow validate` accepts is what the rehearsal runs. Each fact names its AWS source: a
user-guide page (docs.aws.amazon.com/systems-manager/latest/userguide/<page>.html) or an API
reference shape (botocore's ssm service model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# --- Automation actions (user guide: automation-actions and one automation-action-* page each) ------


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

# automation-actions: the properties every step shares.
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

# automation-actions (outputs): the Type of a declared step output.
OUTPUT_TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")

# automation-action-branch: Choices (and automation-action-loop: LoopCondition) compare a Variable
# with exactly one of these operators.
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
# created or run (the user guide: since 2025-02-18), and 3.9 followed in 2025; the others
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

# automation-action-loop: outputs a loop gives its own nested steps ({{ Loop.CurrentIteration }} ...).
LOOP_OUTPUTS = ("CurrentIteration", "CurrentIteratorValue")

# automation-action-loop: "The maximum number of iterations is 100" (MaxIterations), and Iterators
# holds at most as many values.
MAX_LOOP_ITERATIONS = 100
# automation-action-loop: the values IteratorDataType takes.
ITERATOR_TYPES = ("Boolean", "Integer", "String", "StringMap")

# botocore's SSM service model, shape InstanceId (SendCommand's InstanceIds, GetCommandInvocation's
# InstanceId): "pattern": "(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)" (an EC2 instance or a hybrid managed node).
INSTANCE_ID_PATTERN = re.compile(r"(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)", re.ASCII)


def is_instance_id(text: str) -> bool:
    """Whether `text` has the form SSM accepts for an instance id."""
    return INSTANCE_ID_PATTERN.fullmatch(text) is not None


# automation-action-runCommand: InstanceIds holds at most 50 ids (as SendCommand's).
MAX_RUN_COMMAND_INSTANCES = 50

# automation-action-executeAwsApi: "each aws:executeAwsApi action can run up to a maximum duration of
# 25 seconds".
API_CALL_SECONDS = 25.0
# automation-action-executeScript: "each aws:executeScript action can run up to a maximum duration of
# 600 seconds".
SCRIPT_SECONDS = 600
# automation-action-executeScript, Output Payload: "The JSON representation of the object returned by your
# function. Up to 100KB is returned. If you output a list, a maximum of 100 items is returned." 100KB is
# taken as 100,000 bytes of JSON, the smaller reading; what happens past either limit is an open reading
# (releaseflow.readings, script_output_over_limit).
SCRIPT_PAYLOAD_BYTES = 100_000
SCRIPT_LIST_ITEMS = 100
# The most hosts the runbooks support: ListFleet refuses a larger fleet before any host changes. Not an
# AWS figure but what aws:executeScript's 100 KB and 100 items leave: the scripts pass instance ids as JSON
# text, never a list, at most 24 bytes an id in the Payload (17 hex digits after "i-", its quotes
# escaped, a comma), and ListFleet's output holds three such lists (the fleet, the offline hosts, the
# migration-tagged ones): 72 KB when all three hold every host. With the migration host alone first and
# at most 100 batches of at most 50, 1,000 hosts need a BatchSize of 11 or more.
MAX_FLEET_HOSTS = 1000
# automation-action-waitForAwsResourceProperty: without a timeoutSeconds the step waits 3600 s.
WAIT_DEFAULT_SECONDS = 3600
# automation-actions (onCancel): the cancellation workflow runs for at most two minutes.
CANCEL_SECONDS = 120.0

# --- Parameters (documents-syntax-data-elements-parameters; API: StartAutomationExecution) --------

# Command documents take only String and StringList parameters; runbooks these, and AWS resource types
# (AWS::EC2::Instance::Id, List<AWS::EC2::Instance::Id>).
COMMAND_PARAMETER_TYPES = ("String", "StringList")
AUTOMATION_PARAMETER_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
AWS_RESOURCE_TYPE = re.compile(
    r"(?:AWS::[A-Za-z0-9]+(?:::[A-Za-z0-9]+)+|List<AWS::[A-Za-z0-9]+(?:::[A-Za-z0-9]+)+>)"
)
# StartAutomationExecution: each value of a parameter is 1 to 512 characters (AutomationParameterValue).
PARAMETER_VALUE_CHARS = (1, 512)

# The shape a type's values have; values of one shape can stand where another shape is expected only
# when the shapes are the same (a StringList never fits a String).
_PARAMETER_SHAPES = {
    "String": "scalar",
    "Integer": "scalar",
    "Boolean": "scalar",
    "StringList": "list",
    "MapList": "list",
    "StringMap": "map",
}


def shape_of(kind: object) -> str | None:
    """scalar, list or map for a parameter or output type; AWS resource types (AWS::EC2::Instance::Id,
    List<AWS::...>) are strings and lists of strings; None for anything unknown."""
    if not isinstance(kind, str):
        return None
    if kind in _PARAMETER_SHAPES:
        return _PARAMETER_SHAPES[kind]
    if kind.startswith("List<AWS::") and kind.endswith(">"):
        return "list"
    return "scalar" if kind.startswith("AWS::") else None


# --- Command documents (schemaVersion 2.0 and 2.2) ---------------------------------------------

# Plugins the agent knows (amazon-ssm-agent agent/appconfig constants) -> the schema versions that may
# name them as a step action; runDocument and downloadContent came with 2.2.
COMMAND_PLUGINS = {
    "aws:applications": ("2.0", "2.2"),
    "aws:cloudWatch": ("2.0", "2.2"),
    "aws:configureDaemon": ("2.0", "2.2"),
    "aws:configureDocker": ("2.0", "2.2"),
    "aws:configurePackage": ("2.0", "2.2"),
    "aws:domainJoin": ("2.0", "2.2"),
    "aws:downloadContent": ("2.2",),
    "aws:psModule": ("2.0", "2.2"),
    "aws:refreshAssociation": ("2.0", "2.2"),
    "aws:runDockerAction": ("2.0", "2.2"),
    "aws:runDocument": ("2.2",),
    "aws:runPowerShellScript": ("2.0", "2.2"),
    "aws:runShellScript": ("2.0", "2.2"),
    "aws:softwareInventory": ("2.0", "2.2"),
    "aws:updateAgent": ("2.0", "2.2"),
    "aws:updateSsmAgent": ("2.0", "2.2"),
}

# documents-command-ssm-plugin-reference: the plugin that runs a shell script on Linux.
SHELL_PLUGIN = "aws:runShellScript"

# documents-command-ssm-plugin-reference: the step-control inputs every plugin accepts inside `inputs`.
CONTROL_INPUTS = ("onFailure", "onSuccess", "finallyStep")

# documents-syntax-data-elements-parameters (precondition): "Available in schema version 2.2 or later";
# the agent (evaluatePreconditions) knows one operator, StringEquals, comparing platformType with one of
# these platforms (case-insensitively); anything else fails the step as an unrecognized precondition.
PRECONDITION_SCHEMA = "2.2"
PRECONDITION_OPERATOR = "StringEquals"
PRECONDITION_VARIABLE = "platformType"
PLATFORM_TYPES = ("Linux", "Windows", "MacOS")

# --- Statuses (API reference: AutomationExecution, StepExecution, Command, CommandInvocation) ---------

# AutomationExecutionStatus and StepExecution.StepStatus share one enum; these values end an
# execution or a step, the first two of them successfully.
EXECUTION_SUCCESS = frozenset({"Success", "CompletedWithSuccess"})
EXECUTION_TERMINAL = EXECUTION_SUCCESS | {
    "Failed",
    "TimedOut",
    "Cancelled",
    "CompletedWithFailure",
    "Rejected",
    "Exited",
}
# AutomationExecutionStatus values of an execution that still runs (neither ended nor merely scheduled).
EXECUTION_RUNNING = (
    "Pending",
    "InProgress",
    "Waiting",
    "Cancelling",
    "PendingApproval",
    "Approved",
    "RunbookInProgress",
    "ChangeCalendarOverrideApproved",
)
# Command.Status (ListCommands) and CommandInvocation.Status: Pending, InProgress, Delayed and
# Cancelling go on; these end a command or a host's invocation.
COMMAND_TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
# The ended statuses, of an execution, a step, a command or an invocation alike, that are not success.
UNSUCCESSFUL = frozenset({"Failed", "TimedOut", "Cancelled"})

# --- aws:sleep (automation-action-sleep) ---------------------------------------------------------

# "Automation supports a maximum delay of 604799 seconds (7 days)."
MAX_SLEEP_SECONDS = 604799

# Duration is "An ISO 8601 duration. You can't specify a negative duration.": PnYnMnDTnHnMnS or PnW,
# at least one amount, a T only before time amounts, a fraction only on seconds (as both ISO 8601's
# common profile and the user guide's examples write it).
_DURATION = re.compile(
    r"P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<M>\d+)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?"
)
_WEEKS = re.compile(r"P(?P<W>\d+)W")
# Years and months have no fixed length; their shortest (365 and 28 days) already exceeds the maximum
# delay, so every duration within MAX_SLEEP_SECONDS is measured exactly.
_UNIT_SECONDS = {"Y": 365 * 86400, "Mo": 28 * 86400, "W": 604800, "D": 86400, "H": 3600, "M": 60, "S": 1}
# Timestamp is "An ISO 8601 timestamp", written in the guide as 2020-01-01T01:00:00Z: a date, a time
# and a zone (without one the moment is not defined).
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})")


def duration_seconds(value: object) -> float | None:
    """The length of an ISO 8601 duration in seconds (exact up to MAX_SLEEP_SECONDS), or None when
    the value is not one. P0W and PT0S are 0; the limit is the caller's to apply."""
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value) or _WEEKS.fullmatch(value)
    if match is None:
        return None
    return sum(float(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp with its zone (2026-01-01T01:00:00Z) as an aware datetime, or None."""
    if not isinstance(value, str) or _TIMESTAMP.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None  # well formed, but no such date or time (2026-02-30, 25:00)
