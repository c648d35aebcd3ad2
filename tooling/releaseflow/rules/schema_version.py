"""E002: schemaVersion is present, a string, and one this package knows how to check."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import DOCUMENT_TYPES
from releaseflow.rules._common import describe, finding

CODE = "E002"
SUMMARY = "schemaVersion missing, not a string, or unsupported"
WHY = (
    "SSM files a document by its schemaVersion, which must be a string: a YAML number such as 2.2 is "
    "rejected. Command documents are written in 1.2, 2.0 or 2.2, Automation runbooks in 0.3."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html"

_SUPPORTED = ", ".join(sorted(DOCUMENT_TYPES))


def check(document, context) -> Iterator:
    content = document.content
    if not isinstance(content, dict):
        yield finding(document, CODE, (), f"the document is a {type(content).__name__}, not a map of keys")
        return
    if "schemaVersion" not in content:
        yield finding(document, CODE, (), f"schemaVersion is missing; use one of {_SUPPORTED}")
        return
    version = content["schemaVersion"]
    if not isinstance(version, str):
        yield finding(
            document,
            CODE,
            ("schemaVersion",),
            f"schemaVersion {describe(version)} is a {type(version).__name__}; quote it: "
            f'schemaVersion: "{version}"',
        )
    elif version not in DOCUMENT_TYPES:
        yield finding(
            document,
            CODE,
            ("schemaVersion",),
            f"schemaVersion {describe(version)} is not one of {_SUPPORTED}",
        )
