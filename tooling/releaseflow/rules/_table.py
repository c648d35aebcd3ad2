"""The rules table in docs/rules.md, generated from the rule modules so it cannot drift."""

from __future__ import annotations

from releaseflow.rules import Rule

HEADER = """\
# Validation rules

`releaseflow validate` reports one finding a line: `PATH:LINE: CODE message`. Codes starting with
E are errors; codes starting with W are warnings, which fail only under `--strict`.

Generated from the rule modules in `tooling/releaseflow/rules/`; regenerate with
`UPDATE_FIXTURES=1 .venv/bin/pytest tests/unit/test_rules_registry.py`.

| Code | Summary | Why |
| --- | --- | --- |
"""

# Reported by validation itself when a file does not load, so no rule module carries it.
PARSE_ROW = (
    "E001",
    "YAML or JSON that does not parse",
    "SSM rejects content it cannot parse; .json files are parsed as JSON because AWS's contain tabs.",
)


def render_table(rules: list[Rule]) -> str:
    """The whole docs/rules.md text for `rules`, ordered by code."""
    rows = sorted([PARSE_ROW, *((rule.code, rule.summary, rule.why) for rule in rules)])
    return HEADER + "".join(f"| {code} | {_cell(summary)} | {_cell(why)} |\n" for code, summary, why in rows)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: `|` would end the cell."""
    return " ".join(text.split()).replace("|", "\\|")
