"""Rendering publish plans and deploy reports as terminal text and GitHub markdown (pure)."""

from __future__ import annotations

from releaseflow.publish import PublishResult


def publish_text(result: PublishResult) -> str:
    """One line per document, then the diffs of what changes."""
    verb = "would publish" if result.dry_run else "published"
    lines = [f"{d.action:<9} {d.name} -> version {d.version}" for d in result.documents]
    summary = f"{len(result.changed)} of {len(result.documents)} document(s) {verb}"
    diffs = [d.diff for d in result.changed if d.diff]
    return "\n".join([*lines, summary, *diffs]).rstrip("\n") + "\n"


def publish_markdown(result: PublishResult) -> str:
    """The plan as a job summary: a table, then one collapsible diff per changed document."""
    title = "Publish plan (dry run)" if result.dry_run else "Published documents"
    rows = [f"| `{d.name}` | {d.document_type} | {d.action} | {d.version} |" for d in result.documents]
    parts = [f"### {title}", "", "| Document | Type | Action | Version |", "| --- | --- | --- | --- |", *rows]
    for document in result.changed:
        parts += [
            "",
            f"<details><summary>{document.name}: {document.action}</summary>",
            "",
            "```diff",
            document.diff.rstrip("\n"),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(parts) + "\n"
