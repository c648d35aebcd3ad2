"""allowedPattern as SSM reads it: Go regexps through RE2 itself, by who checks the value.

Command documents: the agent checks every parameter value with Go's regexp.Compile and MatchString
(amazon-ssm-agent, agent/framework/docparser/paramvalidator/allowedregexparamvalidator): a pattern
Go refuses fails every run on the host ("encountered error while compiling allowed pattern").

Automation runbooks: the Automation service checks them itself, and it is not Go's parser: AWS's own
published runbooks use repeat counts above 1000 (AWS-EnableS3BucketKeys: `[a-z0-9-]{1,2048}`) and
lookaround (aws-solutions/automated-security-response-on-aws: `(?=^.{3,63}$)(?!^(\\d+\\.)+\\d+$)...`).
Its engine is an open reading: here a pattern RE2 can read keeps Go's meaning (large repeats split
into chunks RE2 accepts), and one only a backtracking engine reads (lookaround, backreferences) is
read by Python's re, the closest offline stand-in.
"""

from __future__ import annotations

import functools
import re
from typing import TypeAlias

import re2

# Go's regexp is RE2's syntax, compiled by Go's own parser. The C++ RE2 behind google-re2 agrees with
# it on what a pattern means: `$` only at the very end of the text (not before a final newline),
# `\d \w \s` ASCII-only, `\p{L}`, `\Q..\E`, `(?U)`, `\x{41}`, POSIX classes; no lookaround, no
# backreferences, no `\Z`, no repeat count above 1000. Where the parsers differ, Go's verdict counts.
_OPTIONS = re2.Options()
# A pattern that does not compile is an answer (None), not a line on stderr.
_OPTIONS.log_errors = False

# Who checks a document's allowedPattern, by document type.
COMMAND, AUTOMATION = "Command", "Automation"

_MAX_REPEAT = 1000
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")

# google-re2 exports no public name for a compiled pattern.
Regexp: TypeAlias = re2._Regexp


def _go_refuses(pattern: str) -> bool:
    """Syntax the C++ RE2 accepts and Go's parser refuses: `\\C` (any byte), outside `\\Q..\\E`."""
    index = 0
    while index < len(pattern):
        if pattern.startswith("\\Q", index):
            end = pattern.find("\\E", index + 2)
            if end < 0:
                return False  # quoted to the end of the pattern
            index = end + 2
        elif pattern.startswith("\\C", index):
            return True
        else:
            index += 2 if pattern[index] == "\\" else 1
    return False


def _atom_end(pattern: str, index: int) -> int:
    """Where the atom starting at `index` ends: one character, escape, class or group."""
    char = pattern[index]
    if char == "\\":
        if pattern.startswith(("x{", "p{", "P{"), index + 1):
            return pattern.find("}", index) + 1 or len(pattern)
        return index + (4 if pattern.startswith("x", index + 1) else 2)
    if char == "[":
        end = index + 1
        end += pattern.startswith("^", end)
        end += pattern.startswith("]", end)  # a `]` first in a class is a literal
        while end < len(pattern) and pattern[end] != "]":
            if pattern.startswith("[:", end) and ":]" in pattern[end:]:
                end = pattern.index(":]", end) + 2
            else:
                end += 2 if pattern[end] == "\\" else 1
        return end + 1
    if char == "(":
        depth, end = 0, index
        while end < len(pattern):
            if pattern[end] in "\\[":
                end = _atom_end(pattern, end)
                continue
            depth += {"(": 1, ")": -1}.get(pattern[end], 0)
            end += 1
            if depth == 0:
                break
        return end
    return index + 1


def _split_repeats(pattern: str) -> str:
    """The pattern with every repeat count above 1000 split into chunks RE2 accepts."""
    out: list[str] = []
    index, atom = 0, None
    while index < len(pattern):
        if pattern.startswith("\\Q", index):
            return "".join(out) + pattern[index:]  # a quoted run is left alone: RE2 decides
        repeat = _REPEAT.match(pattern, index) if atom is not None else None
        if repeat is None:
            end = _atom_end(pattern, index)
            atom = pattern[index:end]
            if atom.startswith("(") and atom.endswith(")"):
                atom = f"({_split_repeats(atom[1:-1])})"
            out.append(atom)
            index = end
            continue
        out.append(_chunks(out.pop(), repeat))
        atom, index = None, repeat.end()
    return "".join(out)


def _chunks(atom: str, repeat: re.Match) -> str:
    """`atom{low,high}` as RE2 accepts it: repeats of at most 1000 one after the other."""
    low = int(repeat[1])
    high = low if repeat[2] is None else int(repeat[3]) if repeat[3] else None
    if low <= _MAX_REPEAT and (high is None or high <= _MAX_REPEAT):
        return atom + repeat[0]
    group = f"(?:{atom})"
    chunks = []
    while low > _MAX_REPEAT:
        chunks.append(f"{group}{{{_MAX_REPEAT}}}")
        low -= _MAX_REPEAT
        high = None if high is None else high - _MAX_REPEAT
    if high is None:
        chunks.append(f"{group}{{{low},}}")
    else:
        chunks.append(f"{group}{{{low},{min(high, _MAX_REPEAT)}}}")
        chunks.extend(
            f"{group}{{0,{min(high - start, _MAX_REPEAT)}}}"
            for start in range(_MAX_REPEAT, high, _MAX_REPEAT)
        )
    return "".join(chunks)


@functools.lru_cache(maxsize=1024)
def compile_go(pattern: str) -> Regexp | None:
    """Compile a pattern as Go's regexp.Compile does (the agent's check), or None if Go refuses it."""
    if not isinstance(pattern, str) or _go_refuses(pattern):
        return None
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error:
        return None


@functools.lru_cache(maxsize=1024)
def compile_automation(pattern: str):
    """Compile a pattern as far as the Automation service reads it: RE2 with repeats above 1000 split,
    else Python's re for lookaround and backreferences; None if neither reads it."""
    if not isinstance(pattern, str):
        return None
    try:
        return re2.compile(_split_repeats(pattern), _OPTIONS)
    except re2.error:
        pass
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return None


def compile_for(pattern: str, document_type: str | None):
    """The pattern as the checker of `document_type` reads it (Go's for Command documents)."""
    return compile_automation(pattern) if document_type == AUTOMATION else compile_go(pattern)


def is_valid(pattern: str, document_type: str | None = COMMAND) -> bool:
    """Whether the checker of `document_type` accepts the pattern at all."""
    return compile_for(pattern, document_type) is not None


def match_string(pattern: str, value: str, document_type: str | None = COMMAND) -> bool:
    """Go's regexp.MatchString: a match anywhere in the value, not anchored. False if it does not compile."""
    compiled = compile_for(pattern, document_type)
    return compiled is not None and compiled.search(value) is not None


def full_match(pattern: str, value: str, document_type: str | None = AUTOMATION) -> bool:
    """Whether the pattern matches the value as a whole (stricter than SSM). False if it does not compile."""
    compiled = compile_for(pattern, document_type)
    return compiled is not None and compiled.fullmatch(value) is not None
