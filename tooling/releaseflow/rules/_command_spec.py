"""Walking a Command document's steps (schemaVersion 2.0, 2.2; the facts: releaseflow.ssm)."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document, JsonPath
from releaseflow.ssm import SHELL_PLUGIN


def is_command(document: Document) -> bool:
    return document.document_type == "Command"


def main_steps(document: Document) -> list[tuple[JsonPath, dict]]:
    """The mainSteps of a Command document (2.0/2.2) that are maps, with their paths."""
    if not is_command(document):
        return []
    steps = document.content.get("mainSteps")
    if not isinstance(steps, list):
        return []
    return [(("mainSteps", index), step) for index, step in enumerate(steps) if isinstance(step, dict)]


def inputs_of(step: dict) -> dict:
    """A step's inputs, or an empty map when they are missing or not a map."""
    inputs = step.get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def shell_steps(document: Document) -> Iterator[tuple[JsonPath, dict, dict]]:
    """Every aws:runShellScript step of a Command document: (path, step, inputs)."""
    for path, step in main_steps(document):
        if step.get("action") == SHELL_PLUGIN:
            yield path, step, inputs_of(step)


def step_label(step: dict, path: JsonPath) -> str:
    """How a message names a step: its name, or its position when it has no usable name."""
    name = step.get("name")
    return repr(name) if isinstance(name, str) else f"#{int(path[-1]) + 1}"
