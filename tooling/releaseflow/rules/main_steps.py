"""E004: the document has steps to run: a non-empty mainSteps list of maps (runtimeConfig in 1.2)."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._common import finding

CODE = "E004"
SUMMARY = "mainSteps missing, empty, or not a list of steps"
WHY = "mainSteps is required and holds at least one step, run in order (runtimeConfig in schema 1.2)."
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"


def check(document, context) -> Iterator:
    if not document.document_type:
        return
    key = "runtimeConfig" if document.schema_version == "1.2" else "mainSteps"
    if key not in document.content:
        yield finding(document, CODE, (), f"{key} is missing: the document has nothing to run")
        return
    steps = document.content[key]
    if key == "runtimeConfig":
        if isinstance(steps, dict) and not steps:
            yield finding(document, CODE, (key,), "runtimeConfig is empty: the document has nothing to run")
        return  # its type is E003's concern
    if not isinstance(steps, list):
        yield finding(
            document, CODE, (key,), f"mainSteps must be a list of steps, found {type(steps).__name__}"
        )
    elif not steps:
        yield finding(document, CODE, (key,), "mainSteps is empty: the document has nothing to run")
    else:
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                yield finding(
                    document,
                    CODE,
                    (key, index),
                    f"step #{index + 1} must be a map, found {type(step).__name__}",
                )
