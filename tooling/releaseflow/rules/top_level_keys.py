"""E003: only the top-level keys the document type allows, each of the right type."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.rules._common import describe, finding

CODE = "E003"
SUMMARY = "unknown or mistyped top-level key"
WHY = (
    "SSM rejects unknown top-level keys. Command documents have schemaVersion, description, "
    "parameters and mainSteps (runtimeConfig in 1.2); outputs, files and variables are 0.3 (Automation) only."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"

_ALLOWED = {
    "1.2": ("schemaVersion", "description", "parameters", "runtimeConfig"),
    "2.0": ("schemaVersion", "description", "parameters", "mainSteps"),
    "2.2": ("schemaVersion", "description", "parameters", "mainSteps"),
    "0.3": (
        "schemaVersion",
        "description",
        "assumeRole",
        "parameters",
        "mainSteps",
        "outputs",
        "files",
        "variables",
    ),
}

_TYPES = {
    "description": (str, "a string"),
    "assumeRole": (str, "a string"),
    "parameters": (dict, "a map"),
    "runtimeConfig": (dict, "a map"),
    "outputs": (list, "a list"),
    "files": (dict, "a map"),
    "variables": (dict, "a map"),
}


def check(document, context) -> Iterator:
    allowed = _ALLOWED.get(document.schema_version) if document.document_type else None
    if allowed is None:
        return
    for key, value in document.content.items():
        if key not in allowed:
            yield finding(
                document,
                CODE,
                (key,),
                f"top-level key {describe(key)} is not allowed in a {document.document_type} document "
                f"(schemaVersion {document.schema_version}); allowed: {', '.join(allowed)}",
            )
        elif key in _TYPES and not isinstance(value, _TYPES[key][0]):
            yield finding(
                document, CODE, (key,), f"{key} must be {_TYPES[key][1]}, found {type(value).__name__}"
            )
