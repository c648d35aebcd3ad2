"""Where the documents and runbooks are read from: --root, releaseflow.yaml, the folder, else the package."""

from __future__ import annotations

from pathlib import Path

from releaseflow.errors import UsageError

FOLDERS = ("documents", "automation")
# A wheel carries documents/ and automation/ here (setup.py copies them at build time).
PACKAGED = Path(__file__).resolve().parent / "_documents"
_CHECKOUT = Path(__file__).resolve().parents[2]


class NoDocuments(UsageError):
    """A folder named as the documents' root holds no documents/ or automation/ files."""


def checkout() -> Path | None:
    """The source checkout this package runs from (an editable install), or None for a wheel."""
    return _CHECKOUT if all((_CHECKOUT / folder).is_dir() for folder in FOLDERS) else None


def packaged_root() -> Path:
    """The documents that ship with releaseflow: the wheel's copy, else the checkout's folders."""
    if PACKAGED.is_dir():
        return PACKAGED
    found = checkout()
    if found is None:
        raise NoDocuments(
            f"this installation of releaseflow carries no documents ({PACKAGED} is missing): "
            "reinstall it, or name a folder with --root"
        )
    return found


def holds_sources(folder: Path) -> bool:
    """Whether `folder` has a documents/ or automation/ folder with at least one file in it."""
    return any((folder / name).is_dir() and any((folder / name).iterdir()) for name in FOLDERS)


def resolve_root(explicit: Path | None = None, configured: Path | None = None) -> Path:
    """The folder holding documents/ and automation/, in this order: --root (explicit), `documents:` in
    releaseflow.yaml (configured), the current folder when it holds them, else the packaged defaults."""
    for chosen, origin in ((explicit, "--root"), (configured, "documents: in releaseflow.yaml")):
        if chosen is not None:
            if not holds_sources(Path(chosen)):
                raise NoDocuments(
                    f"{origin} {chosen}: no documents/ or automation/ folder with documents in it; "
                    "name the folder that holds them, or leave it out to use the packaged documents"
                )
            return Path(chosen)
    # Relative, so findings and diffs name documents/X.yaml as the user sees them.
    here = Path(".")
    return here if holds_sources(here) else packaged_root()


def source_folders(root: Path) -> list[Path]:
    """root's documents/ and automation/ folders that exist, Command documents first."""
    return [root / folder for folder in FOLDERS if (root / folder).is_dir()]


def runbook_file(root: Path, name: str) -> Path:
    """The source of runbook `name` under root's automation/ (a prefixed name such as staging-X finds X)."""
    from releaseflow.documents import find_document_files

    folder = Path(root) / "automation"
    files = find_document_files([folder]) if folder.is_dir() else []
    candidates = [path for path in files if name.endswith(path.stem)]
    if not candidates:
        raise UsageError(
            f"no source for runbook {name} in {folder}: name the folder holding automation/ with --root"
        )
    return max(candidates, key=lambda path: len(path.stem))
