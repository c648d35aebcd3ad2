"""RollbackFleet's ReportFailure: every fleet host back in the target group, then fail naming what failed."""

import json

from releaseflow.runbook_scripts.shared import client, register_each
from releaseflow.ssm import UNSUCCESSFUL


def handler(events, context, *, ssm=None, elb=None):
    """Put every fleet host back into the target group (each on its own), then fail naming what failed."""
    problems = []
    arn = events["TargetGroupArn"]
    if arn:
        hosts = sorted(set(json.loads(events["FleetHosts"])))
        refused = register_each(elb or client("elbv2"), arn, hosts)
        problems += [f"the load balancer refused {h}: {why}" for h, why in refused.items()]
    try:
        problems[:0] = failed_steps(ssm or client("ssm"), events["ExecutionId"])
    except Exception as error:  # best effort: the rollback has failed either way
        problems.insert(0, f"a step failed (the details could not be looked up: {error})")
    raise RuntimeError(
        f"rollback of {events['Deploy']} stopped at a failed batch; later batches were not rolled back "
        f"(run releaseflow-RollbackFleet with ExecutionId {events['Deploy']} again): {'; '.join(problems)}"
    )


def failed_steps(ssm, execution_id):
    """Each failed step but the loops (a loop fails because a nested step did), with its message."""
    pages = ssm.get_paginator("describe_automation_step_executions").paginate(
        AutomationExecutionId=execution_id
    )
    return [
        f"step {s['StepName']} {s['StepStatus']}: {' '.join(s.get('FailureMessage', '').split())}"
        for page in pages
        for s in page["StepExecutions"]
        if s.get("StepStatus") in UNSUCCESSFUL and s.get("Action") != "aws:loop"
    ]
