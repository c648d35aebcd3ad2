"""The registry of Automation actions the rehearsal runs; any other action fails its step."""

from __future__ import annotations

from collections.abc import Callable

from releaseflow.rehearsal.engine.actions.aws_api import assert_property, execute_aws_api, wait_for_property
from releaseflow.rehearsal.engine.actions.flow import branch, sleep
from releaseflow.rehearsal.engine.actions.instances import change_instance_state
from releaseflow.rehearsal.engine.actions.loop import loop
from releaseflow.rehearsal.engine.actions.run_command import run_command
from releaseflow.rehearsal.engine.actions.script import execute_script
from releaseflow.rehearsal.engine.context import ActionContext, ActionResult
from releaseflow.ssm import SCRIPT_SECONDS, WAIT_DEFAULT_SECONDS

Action = Callable[[dict, ActionContext], ActionResult]

ACTIONS: dict[str, Action] = {
    "aws:executeAwsApi": execute_aws_api,
    "aws:waitForAwsResourceProperty": wait_for_property,
    "aws:assertAwsResourceProperty": assert_property,
    "aws:changeInstanceState": change_instance_state,
    "aws:executeScript": execute_script,
    "aws:runCommand": run_command,
    "aws:branch": branch,
    "aws:sleep": sleep,
    "aws:loop": loop,
}

# The timeout SSM applies when a step sets no timeoutSeconds (None: no limit).
DEFAULT_TIMEOUTS: dict[str, float] = {
    "aws:waitForAwsResourceProperty": WAIT_DEFAULT_SECONDS,
    "aws:executeScript": SCRIPT_SECONDS,
}

# Inputs an action resolves itself, per iteration, instead of once when the step starts.
LATE_INPUTS: dict[str, tuple[str, ...]] = {"aws:loop": ("Steps", "LoopCondition")}
