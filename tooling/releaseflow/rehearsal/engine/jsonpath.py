"""The JSONPath subset Automation selectors use: $, .name, ['name'], [n], [*], .* and .. (descent)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\.\.(?P<descend>[A-Za-z0-9_\-]+|\*)?"""
    r"""|\.(?P<name>[A-Za-z0-9_\-]+|\*)"""
    r"""|\[\s*(?:(?P<index>-?\d+)|(?P<wild>\*)|'(?P<quoted>[^']*)'|"(?P<dquoted>[^"]*)")\s*\]"""
)

_ALL = object()


class JsonPathError(ValueError):
    """A selector is not in the supported JSONPath subset."""


@dataclass(frozen=True)
class Selection:
    """What a selector matched; `definite` paths (no wildcard or descent) name at most one value."""

    values: list[Any]
    definite: bool

    def result(self) -> Any:
        """The single value of a definite path (None if absent), else the list of matches."""
        if self.definite:
            return self.values[0] if self.values else None
        return self.values


def select(document: Any, path: object) -> Selection:
    """Evaluate `path` against `document`."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise JsonPathError(f"selector {path!r} must start with $")
    nodes = [document]
    definite = True
    position = 1
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            raise JsonPathError(f"selector {path!r} cannot be read at {path[position:]!r}")
        position = match.end()
        if match.group(0).startswith(".."):
            definite = False
            key = match.group("descend")
            nodes = [item for node in nodes for item in _descendants(node)]
            if key is None:
                continue  # `..[n]` and the like: the bracket that follows applies to every descendant
            nodes = _children(nodes, _ALL if key == "*" else key)
            continue
        if match.group("wild") or match.group("name") == "*":
            definite = False
            nodes = _children(nodes, _ALL)
        elif match.group("index") is not None:
            nodes = _children(nodes, int(match.group("index")))
        else:
            key = match.group("name") or match.group("quoted")
            nodes = _children(nodes, key if key is not None else match.group("dquoted"))
    return Selection(nodes, definite)


def _children(nodes: list[Any], key: Any) -> list[Any]:
    found: list[Any] = []
    for node in nodes:
        if key is _ALL:
            if isinstance(node, dict):
                found.extend(node.values())
            elif isinstance(node, list):
                found.extend(node)
        elif isinstance(key, int):
            if isinstance(node, list) and -len(node) <= key < len(node):
                found.append(node[key])
        elif isinstance(node, dict) and key in node:
            found.append(node[key])
    return found


def _descendants(node: Any) -> list[Any]:
    """The node and everything below it, depth first."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        found.extend(_descendants(child))
    return found
