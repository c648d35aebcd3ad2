"""releaseflow: SSM documents, runbooks and tooling for rolling Rails deploys to an EC2 fleet."""


def __getattr__(name: str) -> str:
    # Read when asked, not on import: importlib.metadata costs ~50 ms, and every process of the
    # rehearsal (an agent's plugin worker each command, a script step's child) imports the package.
    if name != "__version__":
        raise AttributeError(f"module 'releaseflow' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        # The version is written once, in pyproject.toml; the installed metadata carries it here.
        return version("releaseflow")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"
