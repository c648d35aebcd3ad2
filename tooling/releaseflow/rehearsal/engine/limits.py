"""The time limits of AWS's Automation service the engine enforces, which tests may shorten."""

from __future__ import annotations

from dataclasses import dataclass

from releaseflow import ssm


@dataclass(frozen=True)
class Limits:
    """Time limits of AWS's Automation service (releaseflow.ssm); tests may shorten them, the rehearsal
    keeps AWS's."""

    cancel_seconds: float = ssm.CANCEL_SECONDS
    api_call_seconds: float = ssm.API_CALL_SECONDS


AWS_LIMITS = Limits()
