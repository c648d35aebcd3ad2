"""`make documents`: writes documents/*.yaml from documents-src/ and the parameter catalogue.

A Command document's source (documents-src/NAME.yaml) is the document itself, except that its
`parameters:` block reads `parameters: <<catalogue Name ...>>`, which devtools/parameters.py replaces
with the declarations of parameters.yaml; everything else is copied as it is. documents/ stays what
the agent, `releaseflow publish` and the wheel read. tests/unit/test_documents_current.py fails while
documents/ differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from devtools import generated, parameters
from releaseflow.errors import ReleaseflowError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "documents-src"
TARGET = ROOT / "documents"


class DocumentsError(ReleaseflowError):
    """documents-src/ holds no source to generate from."""


def sources() -> list[Path]:
    return sorted(SOURCE.glob("*.yaml"))


def generated_files() -> dict[Path, str]:
    """Every document in documents/ and the text it should have now."""
    if not sources():
        raise DocumentsError(f"{SOURCE} holds no document source")
    catalogue = parameters.load_catalogue()
    return {
        TARGET / path.name: parameters.expand(path.read_text(encoding="utf-8"), path.stem, catalogue)
        for path in sources()
    }


def stale_files() -> list[Path]:
    """The documents whose text on disk differs from what would be generated now (or that are missing)."""
    return generated.stale(generated_files())


def main(argv: list[str]) -> int:
    usage = "python -m devtools.documents (regenerates documents/ from documents-src/)"
    return generated.main(argv, usage, generated_files)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
