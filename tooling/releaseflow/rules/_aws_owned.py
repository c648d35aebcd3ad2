"""AWS's own public documents: their names, and the parameters of those runbooks commonly call."""

from __future__ import annotations

from dataclasses import dataclass

# SSM refuses new document names starting with these (case-insensitive); AWSEC2, AWSSupport and
# AWSConfigRemediation are covered by "aws".
RESERVED_PREFIXES = ("aws", "amazon", "amzn")

# AWS-owned documents: those the corpus holds copies of, plus well-known public ones that releaseflow
# documents or runbooks may call (aws:runCommand DocumentName).
AWS_OWNED = frozenset(
    name.lower()
    for name in (
        # Automation runbooks (the corpus holds copies of these).
        "AWS-ASGChangeStandbyState",
        "AWS-ASGEnterStandbyWithApproval",
        "AWS-ASGExitStandbyWithApproval",
        "AWS-AttachEBSVolume",
        "AWS-AttachIAMToInstance",
        "AWS-ConfigureCloudWatchOnEC2Instance",
        "AWS-CopySnapshot",
        "AWS-CreateEKSClusterWithNodegroup",
        "AWS-CreateImage",
        "AWS-CreateManagedInstance",
        "AWS-CreateSnapshot",
        "AWS-DeleteCloudFormation",
        "AWS-DeleteCloudFormationWithApproval",
        "AWS-DeleteImage",
        "AWS-DeleteSnapshot",
        "AWS-DetachEBSVolume",
        "AWS-EnableS3BucketKeys",
        "AWS-EnableSQSEncryption",
        "AWS-EncryptRootVolume",
        "AWS-PatchWindowsInASG",
        "AWS-RebootRdsInstance",
        "AWS-ResizeInstance",
        "AWS-RestartEC2Instance",
        "AWS-StartEC2Instance",
        "AWS-StartEC2InstanceWithApproval",
        "AWS-StartRdsInstance",
        "AWS-StopEC2Instance",
        "AWS-StopEC2InstanceWithApproval",
        "AWS-StopRdsInstance",
        "AWS-TerminateEC2Instance",
        "AWS-TerminateEC2InstanceWithApproval",
        "AWS-UpdateCloudFormationTemplate",
        "AWS-UpdateCloudFormationWithApproval",
        # Well-known Automation runbooks.
        "AWS-CreateManagedLinuxInstance",
        "AWS-CreateManagedWindowsInstance",
        "AWS-DeleteCloudFormationStack",
        "AWS-PatchAsgInstance",
        "AWS-PatchInstanceWithRollback",
        "AWS-UpdateCloudFormationStack",
        "AWS-UpdateLinuxAmi",
        "AWS-UpdateWindowsAmi",
        "AWSSupport-ExecuteEC2Rescue",
        "AWSSupport-ResetAccess",
        "AWSSupport-TroubleshootRDP",
        "AWSSupport-TroubleshootSSH",
        # Well-known Command documents.
        "AmazonCloudWatch-ManageAgent",
        "AWS-ApplyAnsiblePlaybooks",
        "AWS-ApplyPatchBaseline",
        "AWS-ConfigureAWSPackage",
        "AWS-ConfigureDocker",
        "AWS-ConfigureWindowsUpdate",
        "AWS-FindWindowsUpdates",
        "AWS-GatherSoftwareInventory",
        "AWS-InstallApplication",
        "AWS-InstallMissingWindowsUpdates",
        "AWS-InstallPowerShellModule",
        "AWS-InstallSpecificWindowsUpdates",
        "AWS-InstallWindowsUpdates",
        "AWS-JoinDirectoryServiceDomain",
        "AWS-ListWindowsInventory",
        "AWS-RefreshAssociation",
        "AWS-RunAnsiblePlaybook",
        "AWS-RunDocument",
        "AWS-RunInspecChecks",
        "AWS-RunPatchBaseline",
        "AWS-RunPatchBaselineAssociation",
        "AWS-RunPatchBaselineWithHooks",
        "AWS-RunPowerShellScript",
        "AWS-RunRemoteScript",
        "AWS-RunSaltState",
        "AWS-RunShellScript",
        "AWS-UpdateEC2Config",
        "AWS-UpdateSSMAgent",
        "AWSEC2-RunSysprep",
    )
)


def is_aws_owned(name: str) -> bool:
    """Whether `name` is one of AWS's own documents (compared case-insensitively, as SSM reserves)."""
    return isinstance(name, str) and name.lower() in AWS_OWNED


def has_reserved_prefix(name: str) -> bool:
    """Whether SSM would refuse `name` for a new document because of its prefix."""
    return name.lower().startswith(RESERVED_PREFIXES)


@dataclass(frozen=True)
class OwnedParameters:
    """The parameters of one AWS-owned document, as far as its published content is known here.

    `types`: name -> SSM parameter type. `required`: those without a default. `complete`: the whole
    list was read from the published content, so a name outside it is refused; otherwise only the
    listed names are known and others are not judged. `source`: where they were read.
    """

    document_type: str
    types: dict[str, str]
    required: tuple[str, ...]
    complete: bool
    source: str


_USER_GUIDE = "https://github.com/awsdocs/aws-systems-manager-user-guide/blob/main/doc_source/"
_RUN_SCRIPT = {"commands": "StringList", "workingDirectory": "String", "executionTimeout": "String"}

# The AWS-owned documents runbooks most often call, with the parameters their published content
# declares. Names are case-sensitive: SendCommand refuses `Commands` for AWS-RunShellScript.
OWNED_PARAMETERS: dict[str, OwnedParameters] = {
    "AWS-RunShellScript": OwnedParameters(
        "Command",
        _RUN_SCRIPT,
        ("commands",),
        True,
        _USER_GUIDE + "documents-schemas-features.md (the document's content, schema 1.2)",
    ),
    "AWS-RunPowerShellScript": OwnedParameters(
        "Command",
        _RUN_SCRIPT,
        ("commands",),
        True,
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ssm/"
        "document_test.go (testAccDocumentParamConfig: a copy of the document's content)",
    ),
    "AWS-UpdateSSMAgent": OwnedParameters(
        "Command",
        {"version": "String", "allowDowngrade": "String"},
        (),
        True,
        _USER_GUIDE
        + "documents-syntax-data-elements-parameters.md (version and allowDowngrade, both optional)",
    ),
    "AWS-RunRemoteScript": OwnedParameters(
        "Command",
        {
            "sourceType": "String",
            "sourceInfo": "StringMap",
            "commandLine": "String",
            "workingDirectory": "String",
            "executionTimeout": "String",
        },
        (),
        False,
        _USER_GUIDE + "integration-github-python.md and integration-s3.md (send-command examples)",
    ),
    "AWS-ApplyAnsiblePlaybooks": OwnedParameters(
        "Command",
        {
            "SourceType": "String",
            "SourceInfo": "StringMap",
            "InstallDependencies": "String",
            "PlaybookFile": "String",
            "ExtraVariables": "String",
            "Check": "String",
            "Verbose": "String",
            "TimeoutSeconds": "String",
        },
        (),
        False,
        _USER_GUIDE + "systems-manager-state-manager-ansible.md (send-command examples)",
    ),
    "AWS-ConfigureAWSPackage": OwnedParameters(
        "Command",
        {
            "action": "String",
            "installationType": "String",
            "name": "String",
            "version": "String",
            "additionalArguments": "StringMap",
        },
        (),
        False,
        _USER_GUIDE + "distributor-working-with-packages-deploy.md (console steps and send-command examples)",
    ),
}


def owned_parameters(name: str) -> OwnedParameters | None:
    """The recorded parameters of an AWS-owned document, by name in any case."""
    for owned, parameters in OWNED_PARAMETERS.items():
        if isinstance(name, str) and owned.lower() == name.lower():
            return parameters
    return None
