"""This repository as a fresh checkout holds it, for tests that build or install it as users do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def checkout_copy(destination: Path) -> Path:
    """The repository's tracked and new (not ignored) files, as they are in the working tree, copied to
    `destination`: what a checkout of this commit holds (what `uses:` gives an action), without .venv,
    build/ or caches. A build from it has a build/ folder of its own, so parallel builds never share one."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not in the checkout
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination
