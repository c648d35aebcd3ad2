"""SSM's `{{ Name }}` placeholders: finding them and substituting values the way SSM does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


class Unresolved(Exception):
    """A lookup raises this for a name it does not know; the placeholder is then left as written."""


def names_in(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every placeholder name inside a value, with the path (below the value) where it stands."""
    yield from _names(value, ())


def _names(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            yield path, match.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _names(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _names(item, (*path, index))


def interpolate(value: Any, lookup: Callable[[str], Any]) -> Any:
    """Substitute placeholders in a value, recursively through lists and maps.

    A string that is exactly one placeholder becomes the raw value (a list stays a list); inside a
    longer string, strings go in as they are and other types as JSON. Substitution is not recursive:
    a substituted value's own braces are left alone.
    """
    if isinstance(value, dict):
        return {key: interpolate(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, lookup) for item in value]
    if not isinstance(value, str):
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        try:
            return lookup(whole.group(1))
        except Unresolved:
            return value

    def replace(match: re.Match) -> str:
        try:
            found = lookup(match.group(1))
        except Unresolved:
            return match.group(0)
        return found if isinstance(found, str) else json.dumps(found)

    return PLACEHOLDER.sub(replace, value)
