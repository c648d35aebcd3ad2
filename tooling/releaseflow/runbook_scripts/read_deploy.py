"""ReadDeploy: the deploy's parameters and switched hosts, once the deploy changes no host any more."""

import json
import time

from releaseflow.runbook_scripts.shared import WAIT_SECONDS, client, online
from releaseflow.ssm import COMMAND_TERMINAL, EXECUTION_RUNNING

# The step the deploy waits for its rollback in: a deploy there changes no host any more.
AWAITING = "AwaitRollback"
POLL_SECONDS = 2
# releaseflow-Rollback checks out, installs and restarts: it may take the deploy's bounds of its switch
# and its restart together (these, their maxima, for a deploy runbook that predates them).
ROLLBACK_BOUNDS = {"SwitchTimeoutSeconds": 900, "RestartTimeoutSeconds": 600}


def handler(events, context, *, ssm=None, clock=time):
    """The deploy's parameters, each overridden by this execution's own when given, and the hosts it switched.

    Waits until the deploy changes no host any more: it ended, or it waits for this rollback, and no
    command is still running on a switched host that is online (a cancelled step's command may).
    """
    ssm = ssm or client("ssm")
    execution_id = events["ExecutionId"]
    deadline = clock.monotonic() + WAIT_SECONDS
    deploy = wait_for_deploy(ssm, execution_id, deadline, clock)
    hosts = switched(ssm, execution_id)
    if hosts != "all":
        wait_for_commands(ssm, online(ssm, json.loads(hosts)), deadline, clock)
    given = deploy.get("Parameters", {})
    defaults = None
    resolved = {}
    for name, override in events["Overrides"].items():
        # A value given to this execution wins; an empty one means "as the deploy had it".
        if override:
            value = override
        elif name in given:
            value = given[name]
        else:
            defaults = defaults if defaults is not None else declared_defaults(ssm, deploy)
            value = defaults.get(name, "")
        if name == "Services":
            resolved[name] = value if isinstance(value, list) else [value]
        else:
            resolved[name] = value[0] if isinstance(value, list) else value
    seconds = 0
    for name, fallback in ROLLBACK_BOUNDS.items():
        if name in given:
            value = given[name]
        else:
            defaults = defaults if defaults is not None else declared_defaults(ssm, deploy)
            value = defaults.get(name, "")
        value = str(value[0] if isinstance(value, list) else value)
        seconds += int(value) if value.isdigit() else fallback
    return {**resolved, "ExecutionId": execution_id, "Switched": hosts, "RollbackSeconds": str(seconds)}


def wait_for_deploy(ssm, execution_id, deadline, clock):
    """The deploy's execution once it has ended or waits for this rollback; TimeoutError past the deadline."""
    while True:
        deploy = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if not deploy["DocumentName"].endswith("releaseflow-Deploy"):
            raise ValueError(
                f"execution {execution_id} is a run of {deploy['DocumentName']}, not of releaseflow-Deploy"
            )
        status = deploy["AutomationExecutionStatus"]
        if status not in EXECUTION_RUNNING or deploy.get("CurrentStepName") == AWAITING:
            return deploy
        if clock.monotonic() > deadline:
            raise TimeoutError(
                f"execution {execution_id} of {deploy['DocumentName']} is still {status} (step "
                f"{deploy.get('CurrentStepName')}): stop it first (its cancel starts this rollback itself)"
            )
        clock.sleep(POLL_SECONDS)


def switched(ssm, execution_id):
    """JSON list of the hosts the deploy sent the switch to, in order; "all" when its steps cannot tell."""
    hosts = []
    pages = ssm.get_paginator("describe_automation_step_executions").paginate(
        AutomationExecutionId=execution_id, Filters=[{"Key": "StepName", "Values": ["SwitchBatch"]}]
    )
    for step in (step for page in pages for step in page["StepExecutions"]):
        try:
            sent = json.loads(step.get("Inputs", {}).get("InstanceIds") or "")
        except ValueError:
            return "all"
        hosts += [h for h in sent if h not in hosts]
    return json.dumps(hosts)


def wait_for_commands(ssm, hosts, deadline, clock):
    """Wait until no releaseflow command still runs on these hosts."""
    for host in hosts:
        while True:
            pages = ssm.get_paginator("list_commands").paginate(InstanceId=host)
            running = [
                c["CommandId"]
                for page in pages
                for c in page["Commands"]
                if c["Status"] not in COMMAND_TERMINAL and "releaseflow-" in c["DocumentName"]
            ]
            if not running:
                break
            if clock.monotonic() > deadline:
                raise TimeoutError(f"commands {', '.join(running)} still run on {host}")
            clock.sleep(POLL_SECONDS)


def declared_defaults(ssm, deploy):
    """The deploy runbook's own defaults, for parameters its execution does not list."""
    document = ssm.get_document(
        Name=deploy["DocumentName"], DocumentVersion=deploy["DocumentVersion"], DocumentFormat="JSON"
    )
    return {
        name: spec.get("default", "") for name, spec in json.loads(document["Content"])["parameters"].items()
    }
