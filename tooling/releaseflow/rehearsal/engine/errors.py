"""Errors of the Automation engine: bad start parameters, failed AWS calls, and how a step ends badly."""

from __future__ import annotations

from typing import Any

from releaseflow.errors import ReleaseflowError


class InvalidParameters(ReleaseflowError):
    """StartAutomationExecution parameters do not fit the runbook; the message names the parameter."""


class AwsCallError(Exception):
    """An AWS API call made for a step returned an error (the endpoint wraps botocore's ClientError)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class StepFailed(Exception):
    """The step's action failed; the message becomes the step's FailureMessage.

    `outputs` are built-in outputs the step may still report (a failed aws:runCommand keeps its
    CommandId); when `outputs_reading` names an open reading, that reading decides whether it does.
    """

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        outputs_reading: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.outputs = outputs or {}
        self.outputs_reading = outputs_reading


class StepTimedOut(Exception):
    """The step ran past its timeoutSeconds."""


class StepCancelled(Exception):
    """The execution was cancelled while the step was running."""

    def __init__(self, on_cancel: str | None = None):
        super().__init__("cancelled")
        # Set when a loop's nested step was cancelled: the loop step takes over that step's onCancel.
        self.on_cancel = on_cancel
