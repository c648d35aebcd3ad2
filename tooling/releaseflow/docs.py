"""Generates the README's parameter tables from the documents and runbooks themselves.

Regenerate with `python -m releaseflow.docs [FILE]` (default README.md); the text between
the markers is replaced, the rest of the file is left as written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from releaseflow.documents import Document, find_document_files, load_document
from releaseflow.errors import ReleaseflowError
from releaseflow.sources import checkout

# The repository's own README and sources: regenerating docs is for a checkout, not an installed wheel.
ROOT = checkout() or Path.cwd()
DEFAULT_FILE = ROOT / "README.md"
SOURCES = (ROOT / "documents", ROOT / "automation")
START = "<!-- generated:parameters:start -->"
END = "<!-- generated:parameters:end -->"


class DocsError(ReleaseflowError):
    """The file to regenerate lacks the markers of the generated part."""


def load_sources() -> list[Document]:
    """The Command documents, then the runbooks, each folder sorted by name."""
    return [load_document(path) for path in find_document_files(SOURCES)]


def parameter_tables(documents: list[Document]) -> str:
    """One section a document: its summary line and a table of its parameters."""
    sections = []
    for document in documents:
        content = document.content
        kind = "Command document" if content["schemaVersion"] == "2.2" else "Automation runbook"
        summary = _summary(content.get("description", ""))
        rows = [
            "| Parameter | Type | Default | Allowed | Description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, definition in content.get("parameters", {}).items():
            rows.append(
                "| "
                + " | ".join(
                    [
                        f"`{name}`",
                        definition["type"],
                        _default(definition),
                        _allowed(definition),
                        _cell(definition.get("description", "")),
                    ]
                )
                + " |"
            )
        sections.append(f"### {document.name}\n\n{kind}: {summary}\n\n" + "\n".join(rows))
    return "\n\n".join(sections)


def replace_generated(text: str, generated: str) -> str:
    """`text` with everything between the markers replaced by `generated`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise DocsError(f"the file has no {START} ... {END} markers")
    return f"{text[: start + len(START)]}\n{generated}\n{text[end:]}"


def _summary(description: str) -> str:
    lines = [line.strip("# ").strip() for line in description.splitlines() if line.strip()]
    return _cell(lines[0]) if lines else ""


def _default(definition: dict) -> str:
    if "default" not in definition:
        return "*required*"
    default = definition["default"]
    if isinstance(default, list):
        return ", ".join(f"`{item}`" for item in default)
    return f"`{default}`" if default != "" else "*empty*"


def _allowed(definition: dict) -> str:
    if "allowedValues" in definition:
        return ", ".join(f"`{value}`" for value in definition["allowedValues"])
    return f"`{_cell(definition['allowedPattern'])}`" if "allowedPattern" in definition else ""


def _cell(text: str) -> str:
    """Text that stays inside one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_FILE
    try:
        text = path.read_text(encoding="utf-8")
        updated = replace_generated(text, parameter_tables(load_sources()))
    except ReleaseflowError as error:
        print(f"Error: {path}: {error}", file=sys.stderr)
        return error.exit_code
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
