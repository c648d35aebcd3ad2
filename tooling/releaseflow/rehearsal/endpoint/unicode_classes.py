"""Java's Unicode classes (`\\p{L}`, `\\p{Zs}`...) of botocore's model patterns, as Python's `re` reads them.

AWS writes its constraints in Java's regular expressions; Python's `re` has no `\\p{...}`. Each class
becomes the ranges of the code points in that general category (one letter: the whole group), from
Python's own Unicode database, which may be a version apart from AWS's: a character added in between is
the only place the two can answer differently.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

_CLASS = re.compile(r"\\p\{([A-Z][a-z]?)\}")


@functools.cache
def _categories() -> dict[str, list[tuple[int, int]]]:
    """Each two-letter general category's code points as (first, last) ranges; one pass, about 0.2 s of
    CPU, made the first time a pattern needs it."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    previous, start = unicodedata.category("\0"), 0
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != previous:
            ranges.setdefault(previous, []).append((start, code - 1))
            previous, start = category, code
    ranges.setdefault(previous, []).append((start, sys.maxunicode))
    return ranges


@functools.cache
def class_body(name: str) -> str | None:
    """The inside of a character class matching `\\p{name}`, or None for a name that is no category."""
    spans = sorted(
        span for category, found in _categories().items() if category.startswith(name) for span in found
    )
    if not spans:
        return None
    merged: list[list[int]] = []
    for first, last in spans:
        if merged and first == merged[-1][1] + 1:
            merged[-1][1] = last
        else:
            merged.append([first, last])
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in merged)


def translate(pattern: str) -> str | None:
    """`pattern` with each `\\p{...}` written as ranges (inside a class) or a class of them (outside), or
    None when it names no category."""
    out: list[str] = []
    in_class = False
    opened = 0  # where the class's members begin in `out`: a `]` first among them is a member
    index = 0
    while index < len(pattern):
        found = _CLASS.match(pattern, index)
        if found:
            body = class_body(found.group(1))
            if body is None:
                return None
            out.append(body if in_class else f"[{body}]")
            index = found.end()
            continue
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        out.append(char)
        index += 1
        if char == "[" and not in_class:
            in_class = True
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            opened = len(out)
        elif char == "]" and in_class and len(out) - 1 > opened:
            in_class = False
    return "".join(out)
