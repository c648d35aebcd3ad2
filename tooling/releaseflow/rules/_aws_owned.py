"""Names of AWS's own public documents, so AWS's copies are told apart from misnamed documents."""

from __future__ import annotations

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
