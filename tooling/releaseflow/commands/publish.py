"""`releaseflow publish`: validate, then create or update document versions (no-op when unchanged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from releaseflow import report
from releaseflow.commands._aws import aws_errors, client
from releaseflow.commands._options import add_config
from releaseflow.config import configured_documents, load_environment
from releaseflow.publish import ValidationFailed, publish_documents
from releaseflow.sources import resolve_root

NAME = "publish"
ORDER = 20
HELP = "publish documents/ and automation/ as new SSM document versions"
DESCRIPTION = """\
Validate documents/ and automation/, then create each document that is absent and add a version
to each that changed (VersionName = commit + content digest), made the default version. Command
documents go first; runbooks are published with their aws:runCommand steps pinned to the versions
published with them (the sources stay unpinned). Unchanged documents are left alone. Each changed
document is tagged with the commit and repository (SSM cannot tag single versions). With --environment,
the environment's parameters from the configuration become the runbooks' parameter defaults (the
sources in automation/ stay generic): publish each environment under its own --prefix."""
EPILOG = """\
exit codes: 0 published (or nothing to do); 1 validation errors, nothing published; 2 usage error."""


def register(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show the plan and diffs; write nothing")
    parser.add_argument(
        "--format",
        choices=["text", "github"],
        default="text",
        help="github also writes the plan to $GITHUB_STEP_SUMMARY",
    )
    parser.add_argument("--prefix", default="", help="prepend to every document name, e.g. staging-")
    parser.add_argument(
        "--root",
        type=Path,
        help="folder holding documents/ and automation/ (default: `documents:` in the configuration, "
        "else the current folder when it holds them, else the documents packaged with releaseflow)",
    )
    add_config(parser, "deploy configuration, read when present")
    parser.add_argument(
        "--commit",
        help="commit recorded in VersionName and tags (default: $GITHUB_SHA, else git rev-parse HEAD)",
    )
    parser.add_argument("--repository", help="repository tag (default: $GITHUB_REPOSITORY)")
    parser.add_argument(
        "--environment",
        help="write this environment's parameters from the configuration into the published runbooks as "
        "their defaults, so a deploy started from the SSM console needs no retyping",
    )
    parser.add_argument("--region", help="AWS region (default: the environment's, else the standard chain)")


def run(args) -> int:
    with aws_errors():
        return _run(args)


def _run(args) -> int:
    environment = load_environment(args.config, args.environment) if args.environment else None
    configured = environment.documents if environment else configured_documents(args.config)
    root = resolve_root(args.root, configured)
    region = args.region or (environment.region if environment else None)
    try:
        result = publish_documents(
            client("ssm", region),
            root,
            prefix=args.prefix,
            dry_run=args.dry_run,
            commit=args.commit or _commit(root),
            repository=args.repository or os.environ.get("GITHUB_REPOSITORY"),
            defaults=environment.parameters if environment else None,
        )
    except ValidationFailed as error:
        for finding in error.findings:
            print(finding)
        raise
    print(report.publish_text(result), end="")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.format == "github" and summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(report.publish_markdown(result))
    return 0


def _commit(root: Path) -> str | None:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    found = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        print("note: not a git checkout; VersionName carries only a content digest", file=sys.stderr)
        return None
    return found.stdout.strip()
