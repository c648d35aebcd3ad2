"""The local rehearsal, imported only when a rehearsal command runs: a plain install has none of its
dependencies (the `local` extra brings them), and the product never imports it."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from releaseflow.errors import UsageError

# What the `local` extra installs beyond the product's own dependencies (pyproject.toml).
EXTRA = "local"
EXTRA_MODULES = ("moto", "werkzeug", "flask", "flask_cors")
INSTALL = f"pip install 'releaseflow[{EXTRA}]'"


class RehearsalNotInstalled(UsageError):
    """A rehearsal command ran where only the product is installed."""


def load(module: str) -> ModuleType:
    """Import `releaseflow.rehearsal.<module>`, or say in one line what to install when its
    dependencies are missing.

    Each of them is looked for first (without importing it): a module may need moto only once the
    endpoint starts, and the user should hear what is missing before any host is set up."""
    for package in EXTRA_MODULES:
        if importlib.util.find_spec(package) is None:
            raise _not_installed(package)
    try:
        return importlib.import_module(f"releaseflow.rehearsal.{module}")
    except ModuleNotFoundError as missing:
        package = (missing.name or "").split(".")[0]
        if package not in EXTRA_MODULES:
            raise
        raise _not_installed(package) from None


def _not_installed(package: str) -> RehearsalNotInstalled:
    return RehearsalNotInstalled(
        f"the local rehearsal is not installed (no module {package!r}): {INSTALL}, "
        "then, as root, the Debian packages of `make system-packages`"
    )
