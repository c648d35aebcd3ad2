"""The rules table in docs/rules.md, generated from the rule modules so it cannot drift."""

from __future__ import annotations

from urllib.parse import urlsplit

from releaseflow.rules import Rule

HEADER = """\
# Validation rules

`releaseflow validate` reports one finding a line: `PATH:LINE: CODE message`. Codes starting with
E are errors; codes starting with W are warnings, which fail only under `--strict`. Source is the
AWS page (user guide, API reference) or SSM agent source file each rule's facts come from.

Generated from the rule modules in `tooling/releaseflow/rules/`; regenerate with `make docs`.

| Code | Summary | Why | Source |
| --- | --- | --- | --- |
"""

# Reported by validation itself when a file does not load, so no rule module carries it.
PARSE_ROW = (
    "E001",
    "YAML or JSON that does not parse",
    "SSM rejects content it cannot parse; .json files are parsed as JSON because AWS's contain tabs.",
    "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html",
)


def render_table(rules: list[Rule]) -> str:
    """The whole docs/rules.md text for `rules`, ordered by code."""
    rows = sorted([PARSE_ROW, *((rule.code, rule.summary, rule.why, rule.source) for rule in rules)])
    return HEADER + "".join(
        f"| {code} | {_cell(summary)} | {_cell(why)} | {_link(source)} |\n"
        for code, summary, why, source in rows
    )


def source_label(url: str) -> str:
    """A short name for a source URL: the page name, or the repository and file name on GitHub."""
    parts = urlsplit(url)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
    if parts.netloc == "github.com":
        return f"{parts.path.split('/')[2]}: {name}"
    return name


def _link(url: str) -> str:
    return f"[{_cell(source_label(url))}]({url})" if url else ""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: `|` would end the cell."""
    return " ".join(text.split()).replace("|", "\\|")
