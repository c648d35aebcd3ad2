"""The deploy's ReportFailure: fails the execution, naming the failed steps, their hosts and the rollback."""

import json
from datetime import UTC

from releaseflow.runbook_scripts.shared import client
from releaseflow.ssm import EXECUTION_RUNNING, UNSUCCESSFUL

# The steps that start releaseflow-RollbackFleet: the failure path's and the cancel path's.
ROLLBACK_STARTS = ("StartRollback", "RollBackOnCancel")


def handler(events, context, *, ssm=None):
    """Fail the execution, naming each failed step (a command's: where it failed) and the rollback."""
    execution_id = events["ExecutionId"]
    try:
        found, rollback = failures(ssm or client("ssm"), execution_id)
        summary = "; ".join(found) or "a step failed"
    except Exception as error:  # the lookup is best effort: the deploy has failed either way
        summary = f"a step failed (the details could not be looked up: {error})"
        rollback = "whether a rollback ran is unknown: run releaseflow-RollbackFleet with ExecutionId "
        rollback += execution_id
    raise RuntimeError(f"deploy failed: {summary}. {rollback}")


def failures(ssm, execution_id):
    """Each failed step, with where it failed, and what the rollback did."""
    steps = [
        step
        for page in ssm.get_paginator("describe_automation_step_executions").paginate(
            AutomationExecutionId=execution_id
        )
        for step in page["StepExecutions"]
    ]
    found = []
    rollback = "No host was switched, so nothing was rolled back."
    for step in steps:
        if step["StepName"] in ROLLBACK_STARTS and rollback_tried(step):
            # The last start tried tells: a cancel may try again after a refused StartRollback.
            rollback = rollback_outcome(ssm, step, execution_id)
        # A loop fails because a nested step failed; that nested step is listed itself.
        if (
            step.get("StepStatus") not in UNSUCCESSFUL
            or step.get("Action") == "aws:loop"
            or step["StepName"] in ROLLBACK_STARTS
        ):
            continue
        where = command_hosts(ssm, step) if step.get("Action") == "aws:runCommand" else ""
        message = " ".join(step.get("FailureMessage", "").split())
        found.append(
            f"step {step['StepName']} {step['StepStatus']}{where}" + (f": {message}" if message else "")
        )
    return found, rollback


def command_hosts(ssm, step):
    """Where a failed command step failed: each host it was sent to whose invocation of the document,
    since the step began, did not succeed; else the hosts it was sent to. Read from the step's inputs,
    never its outputs: a failed aws:runCommand may report none (open reading failed_run_command_outputs)."""
    inputs = step.get("Inputs", {})
    sent = json.loads(inputs.get("InstanceIds") or "[]")
    filters = []
    if inputs.get("DocumentName"):
        filters.append({"key": "DocumentName", "value": json.loads(inputs["DocumentName"])})
    if step.get("ExecutionStartTime"):
        started = step["ExecutionStartTime"].astimezone(UTC)
        filters.append({"key": "InvokedAfter", "value": started.strftime("%Y-%m-%dT%H:%M:%SZ")})
    failed = []
    for host in sent:
        listed = ssm.list_command_invocations(InstanceId=host, Filters=filters)["CommandInvocations"]
        # The step's own command is the host's first since the step began: a rollback that ran the
        # same document on the host later is listed too, newest first.
        listed = sorted(listed, key=lambda row: row["RequestedDateTime"])[:1]
        failed += [f"{host} ({row['Status']})" for row in listed if row["Status"] != "Success"]
    if failed:
        return f" on {', '.join(failed)}"
    return f" on one of {', '.join(sent)}" if sent else ""


def rollback_tried(step):
    """Whether this start step got to its call: started, or refused (a step cancelled before it is not)."""
    return bool(step.get("Outputs", {}).get("RollbackExecutionId")) or step.get("StepStatus") == "Failed"


def rollback_outcome(ssm, step, execution_id):
    """What the releaseflow-RollbackFleet execution this deploy started did, or why it could not start."""
    started = step.get("Outputs", {}).get("RollbackExecutionId", [])
    if step.get("StepStatus") != "Success" or not started:
        message = " ".join((step.get("FailureMessage") or "no reason given").split())
        return (
            f"The rollback could not start: step {step['StepName']} could not start "
            f"releaseflow-RollbackFleet ({message}): run it with ExecutionId {execution_id}"
        )
    rollback = ssm.get_automation_execution(AutomationExecutionId=started[0])["AutomationExecution"]
    status = rollback["AutomationExecutionStatus"]
    if status == "Success":
        return f"releaseflow-RollbackFleet {started[0]} rolled back the hosts this execution switched."
    if status in EXECUTION_RUNNING:
        return (
            f"releaseflow-RollbackFleet {started[0]} is still rolling back the hosts this execution switched."
        )
    message = " ".join(rollback.get("FailureMessage", "").split())
    return f"releaseflow-RollbackFleet {started[0]} ended {status}: {message}"
