"""ReadDeploy: the deploy's parameters and switched hosts, once the deploy changes no host any more."""

import json
import time

from releaseflow.runbook_scripts.shared import (
    WAIT_SECONDS,
    client,
    longest_health_check,
    online,
    running_commands,
    wait_for_commands,
)
from releaseflow.ssm import EXECUTION_RUNNING

# The step the deploy waits for its rollback in: a deploy there changes no host any more.
AWAITING = "AwaitRollback"
POLL_SECONDS = 2
# releaseflow-Rollback checks out, installs and restarts: it may take the deploy's bounds of its switch
# and its restart together (these, their maxima, for a deploy runbook that predates them).
ROLLBACK_BOUNDS = {"SwitchTimeoutSeconds": 900, "RestartTimeoutSeconds": 600}
# How long a command a cancelled batch step left running may still run: the delivery timeout every
# runCommand step gives (TimeoutSeconds: 60) plus the longest execution timeout a batch command gets.
DELIVERY_SECONDS = 60
HEALTH_CHECK_BOUNDS = {"HealthCheckRetries": 60, "HealthCheckTimeoutSeconds": 60}
# The deploy's steps whose commands change a host, and the steps that show the batches ran.
SWITCH_STEP = "SwitchBatch"
BATCH_STEPS = (
    "UpdateBatches",
    "DrainBatch",
    SWITCH_STEP,
    "RestartBatch",
    "HealthCheckBatch",
    "RegisterBatch",
)


def handler(events, context, *, ssm=None, clock=time):
    """The deploy's parameters, each overridden by this execution's own when given, and the hosts it switched.

    Waits until the deploy changes no host any more (it ended, or it waits for this rollback), then
    until no releaseflow command runs on a switched host that is online, as long as this script may;
    AwaitCommands waits on from there (CommandsUntil: when the longest such command must have ended).
    """
    ssm = ssm or client("ssm")
    execution_id = events["ExecutionId"]
    started = clock.time()
    deadline = clock.monotonic() + WAIT_SECONDS
    deploy = wait_for_deploy(ssm, execution_id, deadline, clock)
    hosts = switched(ssm, execution_id)
    given = deploy.get("Parameters", {})
    state = {"defaults": None}

    def deploy_value(name):
        """The deploy's value of a parameter: as it was given, else its runbook's declared default."""
        if name in given:
            return given[name]
        if state["defaults"] is None:
            state["defaults"] = declared_defaults(ssm, deploy)
        return state["defaults"].get(name, "")

    resolved = {}
    for name, override in events["Overrides"].items():
        # A value given to this execution wins; an empty one means "as the deploy had it".
        value = override or deploy_value(name)
        if name.endswith("Services"):
            resolved[name] = as_list(override) or as_list(deploy_value(name))
        else:
            resolved[name] = value[0] if isinstance(value, list) else value
    rollback_seconds = sum(number(deploy_value(n), most) for n, most in ROLLBACK_BOUNDS.items())
    until = int(started + command_seconds(deploy_value)) + 1
    watch = watched(ssm, execution_id, hosts)
    running = wait_for_commands(ssm, watch, min(deadline, clock.monotonic() + until - clock.time()), clock)
    return {
        **resolved,
        "ExecutionId": execution_id,
        "Switched": hosts,
        "RollbackSeconds": str(rollback_seconds),
        "Watch": json.dumps(watch),
        "CommandsUntil": str(until),
        "CommandsRunning": "true" if running else "false",
    }


def as_list(value):
    """A StringList in a nested map (not documented): a list, or its JSON or comma-separated text."""
    if not isinstance(value, list):
        text = str(value).strip()
        try:
            value = json.loads(text) if text.startswith("[") else text.split(",")
        except ValueError:
            value = text.strip("[]").split(",")
    return [str(item).strip(" \"'") for item in value if str(item).strip(" \"'")]


def number(value, most):
    """A numeric parameter's value (a list's first item); `most`, its maximum, when it is not a number."""
    value = str(value[0] if isinstance(value, list) and value else value)
    return int(value) if value.isdigit() else most


def command_seconds(deploy_value):
    """How long a batch command the deploy sent may run: its delivery timeout plus its longest execution
    timeout (the switch's, the restart's, or the health check's, as PlanRollout bounds it)."""
    tries = number(deploy_value("HealthCheckRetries"), HEALTH_CHECK_BOUNDS["HealthCheckRetries"])
    each = number(deploy_value("HealthCheckTimeoutSeconds"), HEALTH_CHECK_BOUNDS["HealthCheckTimeoutSeconds"])
    health = longest_health_check(tries, each)
    bounds = [number(deploy_value(n), most) for n, most in ROLLBACK_BOUNDS.items()]
    return DELIVERY_SECONDS + max(*bounds, min(health, 900))


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
    """JSON list of the hosts the deploy sent the switch to, in order; "all" when its steps cannot tell.

    That a StepName filter lists each loop iteration's SwitchBatch is only implied: an empty answer for
    a deploy whose batches ran, or an unreadable one, is "all" (Rollback reverts only what it switched).
    """
    try:
        hosts = switch_inputs(ssm, execution_id, [{"Key": "StepName", "Values": [SWITCH_STEP]}])
        if hosts:
            return json.dumps(hosts)
        # Nothing by the filter: did the batches run? Read every step, unfiltered, to tell.
        steps = step_executions(ssm, execution_id, [])
    except Exception:  # unreadable: the batches may have switched any host
        return "all"
    if not any(step.get("StepName") in BATCH_STEPS for step in steps):
        return "[]"
    try:
        hosts = inputs_of([step for step in steps if step.get("StepName") == SWITCH_STEP])
    except ValueError:
        return "all"
    return json.dumps(hosts) if hosts else "all"


def step_executions(ssm, execution_id, filters):
    """Every page of DescribeAutomationStepExecutions of the deploy, with these filters."""
    request = {"AutomationExecutionId": execution_id}
    if filters:
        request["Filters"] = filters
    pages = ssm.get_paginator("describe_automation_step_executions").paginate(**request)
    return [step for page in pages for step in page["StepExecutions"]]


def switch_inputs(ssm, execution_id, filters):
    """The hosts of the SwitchBatch steps listed with these filters, in order."""
    return inputs_of(step_executions(ssm, execution_id, filters))


def inputs_of(steps):
    """The InstanceIds inputs of these steps, in order, each once; ValueError when one is unreadable."""
    hosts = []
    for step in steps:
        sent = json.loads(step.get("Inputs", {}).get("InstanceIds") or "")
        hosts += [h for h in sent if h not in hosts]
    return hosts


def watched(ssm, execution_id, hosts):
    """The online hosts a command of the deploy may still run on: the switched ones; for "all", every
    host the deploy planned (its PlanRollout's AllHosts), else every host with a releaseflow command."""
    if hosts != "all":
        return online(ssm, json.loads(hosts))
    try:
        [plan] = step_executions(ssm, execution_id, [{"Key": "StepName", "Values": ["PlanRollout"]}])
        planned = list(plan["Outputs"]["AllHosts"])
    except Exception:  # unreadable: every host a releaseflow command is still running on
        planned = sorted({h for c in running_commands(ssm, None) for h in c.get("InstanceIds", [])})
    return online(ssm, planned)


def declared_defaults(ssm, deploy):
    """The deploy runbook's own defaults, for parameters its execution does not list."""
    document = ssm.get_document(
        Name=deploy["DocumentName"], DocumentVersion=deploy["DocumentVersion"], DocumentFormat="JSON"
    )
    return {
        name: spec.get("default", "") for name, spec in json.loads(document["Content"])["parameters"].items()
    }
