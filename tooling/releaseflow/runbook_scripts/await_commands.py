"""RollbackFleet's AwaitHostCommands: waits until no command the deploy left running runs on a host."""

import json
import time

from releaseflow.runbook_scripts.shared import WAIT_SECONDS, client, wait_for_commands


def handler(events, context, *, ssm=None, clock=time):
    """Wait (at most WAIT_SECONDS) until no releaseflow command runs on the watched hosts; Running "true"
    when time ran out first (the loop runs it again); past CommandsUntil, fail: never roll back beside one."""
    ssm = ssm or client("ssm")
    until = int(events["CommandsUntil"])
    left = max(until - clock.time(), 0)
    running = wait_for_commands(
        ssm, json.loads(events["Watch"]), clock.monotonic() + min(WAIT_SECONDS, left), clock
    )
    if running and clock.time() >= until:
        raise TimeoutError(
            f"commands {', '.join(running)} still run past the deploy's own bounds: nothing was rolled "
            "back beside them; run releaseflow-RollbackFleet again once they have ended"
        )
    return {"Running": "true" if running else "false"}
