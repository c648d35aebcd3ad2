"""Domain errors. Library code raises these; only the CLI turns them into messages and exit codes."""

from releaseflow.result import Result, exit_code


class ReleaseflowError(Exception):
    """Base of every error the CLI reports as `Error: ...` without a traceback."""

    exit_code = exit_code(Result.FAILED)


class UsageError(ReleaseflowError):
    """The command line or a configuration file is wrong."""

    exit_code = exit_code(Result.REFUSED)


class DocumentError(ReleaseflowError):
    """A document cannot be read or parsed."""

    exit_code = exit_code(Result.FAILED)


def not_utf8(error: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8, as a person reads it (the codec's own text names no line)."""
    text = error.object[: error.start]
    line = text.count(b"\n") + 1
    return f"byte 0x{error.object[error.start]:02x} on line {line} (offset {error.start}) is not UTF-8"
