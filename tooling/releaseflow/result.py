"""How a deploy ended, and the one table of the exit codes each ending gives (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Result(StrEnum):
    """How following a deploy ended; a str, so reports, JSON and f-strings show the value."""

    SUCCESS = "success"
    FAILED = "failed"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    LOCKED = "locked"
    # Following stopped while the execution runs on (a rollback left running): never a deploy's end,
    # so it has no exit code.
    UNFINISHED = "unfinished"


@dataclass(frozen=True)
class Exit:
    """An exit code, what it means in `deploy --help`, and in the few words of the CLI's summary."""

    code: int
    meaning: str
    brief: str


# Exit codes of `releaseflow deploy`, by what a caller does next. The CLI's epilogs, the demo, the
# errors and the README's summary (`make docs`) all read this table.
EXITS: dict[Result, Exit] = {
    Result.SUCCESS: Exit(0, "the deploy succeeded (or was started/scheduled with --no-wait/--at)", "success"),
    Result.FAILED: Exit(
        1,
        "the deploy failed (a host failed, or its CloudWatch alarm stopped it: --alarm)",
        "findings or a failed deploy",
    ),
    Result.REFUSED: Exit(
        2,
        "refused before starting: bad revision or parameter, bad configuration or usage",
        "usage, configuration or input refused before anything started",
    ),
    Result.TIMED_OUT: Exit(
        3, "timed out (the runbook's own timeout, or --timeout: the execution is then stopped)", "timed out"
    ),
    Result.CANCELLED: Exit(4, "cancelled (by a signal to this command, or from elsewhere)", "cancelled"),
    Result.LOCKED: Exit(
        5,
        "refused before starting: another deploy to the same fleet is running (see --wait-lock)",
        "another deploy or fleet rollback of the fleet is running",
    ),
}
# The codes every command shares; the others are the deploy's own (and the demo's, which deploys).
COMMON = (Result.SUCCESS, Result.FAILED, Result.REFUSED)


def exit_code(result: Result) -> int:
    """The exit code of a deploy that ended with `result` (KeyError for UNFINISHED: not an end)."""
    return EXITS[result].code


def deploy_only() -> list[Result]:
    """The results whose exit codes only `deploy` (and `demo`) give, in code order."""
    return [result for result in EXITS if result not in COMMON]


def briefly(results: list[Result] | tuple[Result, ...]) -> str:
    """`3 timed out, 4 cancelled, ...`: the codes of `results` in the summary's words."""
    return ", ".join(f"{EXITS[result].code} {EXITS[result].brief}" for result in results)


def summary() -> str:
    """Every exit code in one sentence (the CLI's epilog and the README)."""
    return f"{briefly(COMMON)}; `deploy` also {briefly(deploy_only())}"


def deploy_epilog() -> str:
    """`releaseflow deploy --help`'s exit code list, one code a line."""
    return "exit codes:\n" + "\n".join(f"  {exit.code}  {exit.meaning}" for exit in EXITS.values())
