"""E106: Command step preconditions use the one form the agent evaluates."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._command_spec import main_steps, step_label
from releaseflow.rules._common import describe, finding
from releaseflow.ssm import PLATFORM_TYPES, PRECONDITION_SCHEMA

CODE = "E106"
SUMMARY = "Command step precondition the agent does not recognise"
WHY = (
    "precondition supports only StringEquals with exactly two arguments, platformType and "
    'Linux|Windows|MacOS; any other operator fails the step ("Unrecognized precondition"). Preconditions '
    "are available in schema version 2.2 only: in 2.0 the agent fails the step."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-schemas-features.html"

PLATFORMS = tuple(platform.lower() for platform in PLATFORM_TYPES)


def check(document, context) -> Iterator:
    for path, step in main_steps(document):
        if "precondition" not in step:
            continue
        problem = _problem(step["precondition"])
        version = document.content.get("schemaVersion")
        if version != PRECONDITION_SCHEMA:
            problem = f"precondition needs schemaVersion {PRECONDITION_SCHEMA}; this document is {version}"
        if problem:
            yield finding(
                document, CODE, (*path, "precondition"), f"step {step_label(step, path)}: {problem}"
            )


def _problem(condition) -> str | None:
    if not isinstance(condition, dict):
        return f"precondition must be a map with one operator, StringEquals; found {describe(condition)}"
    if len(condition) != 1:
        operators = ", ".join(map(str, condition))
        return f"precondition must have exactly one operator, StringEquals; found {operators}"
    operator, arguments = next(iter(condition.items()))
    if operator != "StringEquals":
        return f"precondition operator {describe(operator)} is not supported; only StringEquals is"
    if not (
        isinstance(arguments, list) and len(arguments) == 2 and all(isinstance(a, str) for a in arguments)
    ):
        return f"StringEquals needs exactly two strings, found {describe(arguments)}"
    if "platformType" not in arguments:
        return f"StringEquals compares {describe(arguments)}; the agent only compares platformType"
    other = arguments[1] if arguments[0] == "platformType" else arguments[0]
    if other.lower() not in PLATFORMS:
        return f"platformType {describe(other)} is not Linux, Windows or MacOS"
    return None
