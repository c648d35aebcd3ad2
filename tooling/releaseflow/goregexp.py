"""Go (RE2) regexps with Go's meaning in Python: how SSM checks allowedPattern (regexp.MatchString)."""

from __future__ import annotations

import re

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
_MULTILINE_FLAG = re.compile(r"\(\?[a-zA-Z]*m")


def translate(pattern: str) -> str:
    """The Python spelling of a Go pattern.

    Go's `$` (without the m flag) matches only at the very end, while Python's also matches before
    a final newline, which would let "main\\n" through an anchored pattern; `\\z` is Go's spelling of
    Python's `\\Z`; POSIX classes like [[:alpha:]] exist only in Go.
    """
    multiline = _MULTILINE_FLAG.search(pattern) is not None
    out = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pair = pattern[index : index + 2]
            out.append("\\Z" if pair == "\\z" and not in_class else pair)
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
        elif char == "$" and not multiline:
            char = "\\Z"
        out.append(char)
        index += 1
    return "".join(out)


def compile_go(pattern: str) -> re.Pattern | None:
    """Compile a Go pattern with Go's meaning, or None if it does not compile."""
    try:
        return re.compile(translate(pattern))
    except (re.error, OverflowError):
        return None


def match_string(pattern: str, value: str) -> bool:
    """Go's regexp.MatchString: a match anywhere in the value, not anchored. False if it does not compile."""
    compiled = compile_go(pattern)
    return compiled is not None and compiled.search(value) is not None
