"""Reading a document's parameters safely, and checking values the way SSM does (Go regexps)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from releaseflow.documents import Document, JsonPath

# Values that would do harm if they reached a shell: a pattern that accepts one is no guard.
SHELL_PROBES = ("main; reboot", "$(reboot)", "`reboot`", "main && reboot", "main | sh", "main\nreboot")

# Go's RE2 POSIX classes, which Python's re does not know, as ranges usable inside [...].
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX = re.compile(r"\[:(\^?)([a-z]+):\]")


def parameters(document: Document) -> Iterator[tuple[str, dict, JsonPath]]:
    """Every declared parameter whose definition is a map: (name, definition, path)."""
    declared = document.content.get("parameters") if isinstance(document.content, dict) else None
    if not isinstance(declared, dict):
        return
    for name, definition in declared.items():
        if isinstance(definition, dict):
            yield str(name), definition, ("parameters", name)


def declared_names(document: Document) -> set[str]:
    """The names of all declared parameters, whatever their definitions look like."""
    declared = document.content.get("parameters") if isinstance(document.content, dict) else None
    return {str(name) for name in declared} if isinstance(declared, dict) else set()


def go_regexp(pattern: str) -> re.Pattern | None:
    """Compile a Go RE2 pattern as Python re with Go's meaning, or None if it does not compile.

    Go's `$` (without the m flag) matches only at the very end, while Python's also matches before
    a final newline, which would let "main\\n" through an anchored pattern; `\\z` is Go's spelling of
    Python's `\\Z`; POSIX classes like [[:alpha:]] exist only in Go.
    """
    out = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pair = pattern[index : index + 2]
            out.append("\\Z" if pair == "\\z" else pair)
            index += 2
            continue
        if in_class:
            posix = _POSIX.match(pattern, index)
            if posix and posix[2] in _POSIX_CLASSES and not posix[1]:
                out.append(_POSIX_CLASSES[posix[2]])
                index = posix.end()
                continue
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            # A `]` right after `[` or `[^` is a literal, not the end of the class.
            start = index + 2 if pattern.startswith("[^", index) else index + 1
            if pattern.startswith("]", start):
                out.append(pattern[index : start + 1])
                index = start + 1
                continue
        elif char == "$":
            out.append("\\Z")
            index += 1
            continue
        out.append(char)
        index += 1
    try:
        return re.compile("".join(out))
    except (re.error, OverflowError):
        return None


def matches(pattern: re.Pattern, value: str) -> bool:
    """Go's regexp.MatchString: a match anywhere in the value, not anchored."""
    return pattern.search(value) is not None


def accepted_probe(definition: dict) -> str | None:
    """A harmful value the parameter's allowedPattern accepts, or None when the pattern blocks them all.

    A parameter with allowedValues is guarded by them. One without a (compilable) allowedPattern
    accepts anything: the first probe is returned.
    """
    if isinstance(definition.get("allowedValues"), list):
        return None
    source = definition.get("allowedPattern")
    pattern = go_regexp(source) if isinstance(source, str) else None
    if pattern is None:
        return SHELL_PROBES[0]
    return next((probe for probe in SHELL_PROBES if matches(pattern, probe)), None)
