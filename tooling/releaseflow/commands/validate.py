"""`releaseflow validate`: check documents offline and report findings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from releaseflow.config import configured_documents, configured_path
from releaseflow.errors import UsageError
from releaseflow.findings import Finding
from releaseflow.rules._shell import notices as shell_notices
from releaseflow.sources import resolve_root, source_folders
from releaseflow.validation import validate_paths

NAME = "validate"
ORDER = 10
HELP = "check Command documents and Automation runbooks offline"
DESCRIPTION = """\
Check SSM documents offline, with the rules the real service and agent apply, and warn about
what they accept silently (unanchored allowedPattern, steps that run on after a failure, ...).
One finding a line: PATH:LINE: CODE message. Codes starting with E are errors, W warnings."""
EPILOG = """\
exit codes: 0 no errors (warnings allowed unless --strict); 1 findings; 2 usage error (such as a
PATH that does not exist)."""


def register(parser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="document files or folders (default: documents/ and automation/ where publish reads them)",
    )
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="text (default), json, or github workflow annotations",
    )


def run(args) -> int:
    paths = args.paths or [str(folder) for folder in source_folders(_default_root())]
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder")
    findings = validate_paths(paths)
    render(findings, args.format)
    for notice in shell_notices():
        print(f"note: {notice}", file=sys.stderr)
    failing = [f for f in findings if f.is_error or args.strict]
    return 1 if failing else 0


def _default_root() -> Path:
    """Where publish would read from, so an adopter's `releaseflow validate` checks what it publishes."""
    return resolve_root(None, configured_documents(configured_path()))


def render(findings: list[Finding], fmt: str) -> None:
    if fmt == "json":
        print(
            json.dumps(
                [
                    {
                        "path": f.path,
                        "line": f.line,
                        "code": f.code,
                        "message": f.message,
                        "severity": "error" if f.is_error else "warning",
                    }
                    for f in findings
                ],
                indent=2,
            )
        )
        return
    for finding in findings:
        if fmt == "github":
            level = "error" if finding.is_error else "warning"
            print(
                f"::{level} file={finding.path},line={finding.line},title={finding.code}::"
                f"{_escape(finding.message)}"
            )
        else:
            print(finding)
    if fmt == "text" and findings:
        errors = sum(f.is_error for f in findings)
        print(f"{errors} error(s), {len(findings) - errors} warning(s)", file=sys.stderr)


def _escape(message: str) -> str:
    """GitHub's workflow-command escaping for a message."""
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
