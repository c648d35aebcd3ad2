"""E006: the file stem is a valid SSM document name that SSM does not reserve for AWS."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.rules._aws_owned import has_reserved_prefix, is_aws_owned
from releaseflow.rules._common import describe, finding

CODE = "E006"
SUMMARY = "document name (file stem) invalid or reserved"
WHY = (
    "The file stem is the document name: `^[a-zA-Z0-9_\\-.]{3,128}$`, and names starting with aws, "
    "amazon or amzn (any case) are reserved for AWS's own documents, which are accepted as copies."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html"

NAME = re.compile(r"[a-zA-Z0-9_\-.]{3,128}")


def check(document, context) -> Iterator:
    name = document.name
    if not NAME.fullmatch(name):
        yield finding(
            document,
            CODE,
            (),
            f"document name {describe(name)} (the file stem) must be 3 to 128 letters, digits, "
            "'_', '-' or '.'",
        )
    elif has_reserved_prefix(name) and not is_aws_owned(name):
        yield finding(
            document,
            CODE,
            (),
            f"document name {describe(name)} starts with a prefix SSM reserves for AWS (aws, amazon, amzn) "
            "and is not one of AWS's own documents",
        )
