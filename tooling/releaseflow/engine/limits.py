"""The limits AWS documents for Automation that the engine enforces (docs/aws-semantics.md)."""

from __future__ import annotations

from dataclasses import dataclass

# automation-action-runCommand / SendCommand: InstanceIds holds at most 50 ids.
MAX_RUN_COMMAND_INSTANCES = 50
# automation-action-loop: "The maximum number of iterations is 100", and as many Iterators.
MAX_LOOP_ITERATIONS = 100


@dataclass(frozen=True)
class Limits:
    """Time limits of AWS's Automation service; tests may shorten them, the rehearsal keeps AWS's."""

    # automation-actions (onCancel): the cancellation workflow runs for at most two minutes.
    cancel_seconds: float = 120.0
    # automation-action-executeAwsApi: each aws:executeAwsApi action runs at most 25 seconds.
    api_call_seconds: float = 25.0


AWS_LIMITS = Limits()
