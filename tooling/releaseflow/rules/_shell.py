"""Checking a shell script with `sh -n` and shellcheck, cached by text: the validator's only subprocesses."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import PurePosixPath

from releaseflow.placeholders import PLACEHOLDER

# The agent substitutes {{ Name }} before the shell reads the script: one plain word stands in for it.

_STAND_IN = "SSM_VALUE"
# dash: `sh: 4: Syntax error: ...`; bash: `bash: line 4: syntax error ...` (or no line at the end).
_SH_ERROR = re.compile(r"^[^:]*: (?:line )?(\d+): (.*)$")
_TIMEOUT_SECONDS = 20
_SHELLS = {"sh": "sh", "dash": "sh", "bash": "bash"}
_notices: set[str] = set()


@dataclass(frozen=True)
class ShellProblem:
    """One problem at a line of the script (1-based); `tool` says who found it."""

    line: int
    tool: str
    message: str


def notices() -> list[str]:
    """What the checks could not do on this machine (shellcheck missing), said once per run."""
    return sorted(_notices)


def interpreter(script: str) -> str | None:
    """The shell the agent's run uses: the `#!` line's (sh or bash), `sh` without one, or None for
    an interpreter that is not a POSIX shell (python, pwsh, zsh...), which is not checked."""
    first = script.split("\n", 1)[0]
    if not first.startswith("#!"):
        return "sh"
    words = first[2:].split()
    names = [PurePosixPath(word).name for word in words]
    if names[:1] == ["env"]:
        names = [name for name in names[1:] if not name.startswith("-")]
    return _SHELLS.get(names[0]) if names else None


@functools.lru_cache(maxsize=1024)
def problems(script: str) -> tuple[ShellProblem, ...]:
    """Syntax errors (`sh -n`, or `bash -n` for a bash script) and shellcheck's error-level findings."""
    shell = interpreter(script)
    if shell is None:
        return ()
    text = PLACEHOLDER.sub(_STAND_IN, script)
    found = list(_syntax(text, shell))
    if shutil.which("shellcheck") is None:
        _notices.add("shellcheck not found: aws:runShellScript scripts were checked with sh -n alone")
        return tuple(found)
    # Without a #! line the host's sh runs it, which is bash on Amazon Linux: judged as bash.
    dialect = "sh" if shell == "sh" and script.startswith("#!") else "bash"
    comments = _shellcheck(text, dialect)
    # SC1xxx are parse errors that come in clusters; SC1072 sums them up ("Expected 'fi'. Fix any
    # mentioned problems..."), and sh -n's own message, when there is one, says enough.
    parse_errors = [c for c in comments if c.get("code", 0) < 2000]
    summary = next(
        (c for c in parse_errors if c.get("code") == 1072), parse_errors[0] if parse_errors else None
    )
    for comment in comments:
        if comment.get("code", 0) < 2000 and (found or comment is not summary):
            continue
        message = str(comment.get("message")).removesuffix(" Fix any mentioned problems and try again.")
        found.append(
            ShellProblem(int(comment.get("line", 1)), "shellcheck", f"SC{comment.get('code')} {message}")
        )
    return tuple(found)


def _syntax(text: str, shell: str) -> list[ShellProblem]:
    error = _parse(text, shell)
    if error is None:
        return []
    # Without a #! line the host's sh may be bash (Amazon Linux) or dash (Debian, Ubuntu): only what
    # bash refuses too is an error on every host.
    if shell == "sh" and not text.startswith("#!") and shutil.which("bash") and _parse(text, "bash") is None:
        return []
    lines = text.count("\n") + 1
    match = _SH_ERROR.match(error)
    line = min(int(match[1]), lines) if match else lines
    return [ShellProblem(line, f"{shell} -n", match[2] if match else error.split(": ", 1)[-1])]


def _parse(text: str, shell: str) -> str | None:
    """The shell's first syntax error message, or None when `SHELL -n` accepts the script."""
    run = subprocess.run(
        [shell, "-n"], input=text, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
    )
    if run.returncode == 0:
        return None
    return (run.stderr.strip().splitlines() or [f"{shell} -n exited {run.returncode}"])[0]


def _shellcheck(text: str, dialect: str) -> list[dict]:
    run = subprocess.run(
        ["shellcheck", "--severity=error", "--format=json", f"--shell={dialect}", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    try:
        comments = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return []
    return [c for c in comments if isinstance(c, dict) and c.get("level") == "error"]
