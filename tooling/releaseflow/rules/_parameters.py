"""Reading a document's parameters safely, and checking values the way SSM does (Go regexps)."""

from __future__ import annotations

from collections.abc import Iterator

from releaseflow.documents import Document, JsonPath
from releaseflow.goregexp import COMMAND, compile_for

# Values that would do harm if they reached a shell: a pattern that accepts one is no guard.
SHELL_PROBES = ("main; reboot", "$(reboot)", "`reboot`", "main && reboot", "main | sh", "main\nreboot")


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


def matches(pattern, value: str) -> bool:
    """Go's regexp.MatchString: a match anywhere in the value, not anchored."""
    return pattern.search(value) is not None


def accepted_probe(definition: dict, document_type: str | None = COMMAND) -> str | None:
    """A harmful value the parameter's allowedPattern accepts, or None when the pattern blocks them all.

    A parameter with allowedValues is guarded by them. One without a (compilable) allowedPattern
    accepts anything: the first probe is returned.
    """
    if isinstance(definition.get("allowedValues"), list):
        return None
    source = definition.get("allowedPattern")
    pattern = compile_for(source, document_type) if isinstance(source, str) else None
    if pattern is None:
        return SHELL_PROBES[0]
    return next((probe for probe in SHELL_PROBES if matches(pattern, probe)), None)
