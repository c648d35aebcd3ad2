"""Domain errors. Library code raises these; only the CLI turns them into messages and exit codes."""


class ReleaseflowError(Exception):
    """Base of every error the CLI reports as `Error: ...` without a traceback."""

    exit_code = 1


class UsageError(ReleaseflowError):
    """The command line or a configuration file is wrong."""

    exit_code = 2


class DocumentError(ReleaseflowError):
    """A document cannot be read or parsed."""

    exit_code = 1
