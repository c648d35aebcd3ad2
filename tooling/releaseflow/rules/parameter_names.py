"""E011: parameter names are letters and digits only."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.rules._common import describe, finding

CODE = "E011"
SUMMARY = "parameter name not alphanumeric"
WHY = "Parameter names must match `^[a-zA-Z0-9]+$`; they also become SSM_<Name> environment variables."
SOURCE = (
    "https://github.com/aws/amazon-ssm-agent/blob/mainline/agent/framework/docparser/parameters/parameters.go"
)

NAME = re.compile(r"[a-zA-Z0-9]+")


def check(document, context) -> Iterator:
    declared = document.content.get("parameters") if document.document_type else None
    if not isinstance(declared, dict):
        return
    for name in declared:
        if not (isinstance(name, str) and NAME.fullmatch(name)):
            yield finding(
                document,
                CODE,
                ("parameters", name),
                f"parameter name {describe(name)} must be letters and digits only (^[a-zA-Z0-9]+$)",
            )
