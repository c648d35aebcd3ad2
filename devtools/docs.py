"""Generates every generated part of the documentation, so none of it can drift from its source.

- docs/parameters.md: one table a document, from the documents and runbooks as `make documents` and
  `make runbooks` write them from their sources and the parameter catalogue (parameters.yaml);
- docs/rules.md: the rules table, from the rule modules;
- README.md: the Debian package list, from the Makefile's DEB_PACKAGES; the exit codes, from
  releaseflow.result's table.

`make docs` (`python -m devtools.docs`) rewrites the files that are stale; in the files written
by hand, only the text between a part's markers is replaced. tests/unit/test_docs_current.py fails
while any generated file is stale.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

from devtools import documents, generated, runbooks
from releaseflow.documents import Document, parse_document
from releaseflow.errors import ReleaseflowError
from releaseflow.result import summary
from releaseflow.rules import all_rules
from releaseflow.rules._table import render_table

# The repository's own docs and sources: regenerating docs is for a checkout, not an installed wheel.
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PARAMETERS_DOC = ROOT / "docs" / "parameters.md"
RULES_DOC = ROOT / "docs" / "rules.md"
MAKEFILE = ROOT / "Makefile"


class DocsError(ReleaseflowError):
    """A file to regenerate lacks the markers of its generated part, or a source lacks the fact."""


def markers(part: str) -> tuple[str, str]:
    """The start and end comments around the generated part named `part`."""
    return f"<!-- generated:{part}:start -->", f"<!-- generated:{part}:end -->"


def load_sources() -> list[Document]:
    """The Command documents, then the runbooks, each folder sorted by name, as generated now: the tables
    follow the catalogue even before documents/ and automation/ are rewritten."""
    return [
        parse_document(text, str(path))
        for generated in (documents.generated_files(), runbooks.generated_files())
        for path, text in sorted(generated.items())
    ]


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
        sections.append(f"## {document.name}\n\n{kind}: {summary}\n\n" + "\n".join(rows))
    return "\n\n".join(sections)


def debian_packages(makefile: str) -> list[str]:
    """The Makefile's DEB_PACKAGES, in its order (continuation lines joined)."""
    match = re.search(r"^DEB_PACKAGES\s*:=((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    if not match:
        raise DocsError("the Makefile has no DEB_PACKAGES := ... line")
    return match.group(1).replace("\\\n", " ").split()


def package_list(packages: list[str]) -> str:
    """The packages as the README lists them: code spans, wrapped as the hand-written text is."""
    return textwrap.fill(", ".join(f"`{package}`" for package in packages) + ".", 100, break_on_hyphens=False)


def replace_generated(text: str, generated: str, part: str = "parameters") -> str:
    """`text` with everything between the markers of `part` replaced by `generated`."""
    start_marker, end_marker = markers(part)
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise DocsError(f"the file has no {start_marker} ... {end_marker} markers")
    return f"{text[: start + len(start_marker)]}\n{generated}\n{text[end:]}"


def exit_codes() -> str:
    """The README's sentence on exit codes, from the one table the CLI reads."""
    return textwrap.fill(f"Exit codes: {summary()}.", 100)


def generated_files() -> dict[Path, str]:
    """Every file that holds generated text, and the whole text it should have now."""
    packages = package_list(debian_packages(MAKEFILE.read_text(encoding="utf-8")))
    return {
        PARAMETERS_DOC: replace_generated(
            PARAMETERS_DOC.read_text(encoding="utf-8"), parameter_tables(load_sources())
        ),
        RULES_DOC: render_table(all_rules()),
        README: replace_generated(
            replace_generated(README.read_text(encoding="utf-8"), packages, "debian-packages"),
            exit_codes(),
            "exit-codes",
        ),
    }


def stale_files() -> list[Path]:
    """The generated files whose text on disk differs from what would be generated now."""
    return generated.stale(generated_files())


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
    return generated.main(argv, "python -m devtools.docs (regenerates every generated file)", generated_files)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
