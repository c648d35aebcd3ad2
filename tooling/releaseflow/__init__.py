"""releaseflow: SSM documents, runbooks and tooling for rolling Rails deploys to an EC2 fleet."""

from importlib.metadata import PackageNotFoundError, version

try:
    # The version is written once, in pyproject.toml; the installed metadata carries it here.
    __version__ = version("releaseflow")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
