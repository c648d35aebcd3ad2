"""Loading SSM documents from YAML or JSON files into plain data that remembers source lines."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from releaseflow.errors import DocumentError, not_utf8

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")

# schemaVersion -> the document type SSM files it under.
DOCUMENT_TYPES = {
    "2.2": "Command",
    "2.0": "Command",
    "1.2": "Command",
    "0.3": "Automation",
}

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """A parsed document: its plain content, where it came from, and the line of every key and item."""

    path: str
    content: Any
    text: str
    lines: dict[JsonPath, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The SSM document name: the file stem."""
        return Path(self.path).stem

    @property
    def schema_version(self) -> Any:
        return self.content.get("schemaVersion") if isinstance(self.content, dict) else None

    @property
    def document_type(self) -> str | None:
        """`Command` or `Automation` by schemaVersion, or None when the version is unknown."""
        version = self.schema_version
        return DOCUMENT_TYPES.get(version) if isinstance(version, str) else None

    def line(self, path: JsonPath = ()) -> int:
        """The source line of the value at `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return 1

    def steps(self) -> Iterator[tuple[JsonPath, dict]]:
        """Every step with its path, loop steps' nested steps included, in document order."""
        yield from _steps(
            self.content.get("mainSteps") if isinstance(self.content, dict) else None, ("mainSteps",)
        )


def _steps(steps: Any, path: JsonPath) -> Iterator[tuple[JsonPath, dict]]:
    if not isinstance(steps, list):
        return
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        step_path = (*path, index)
        yield step_path, step
        inputs = step.get("inputs")
        if step.get("action") == "aws:loop" and isinstance(inputs, dict):
            yield from _steps(inputs.get("Steps"), (*step_path, "inputs", "Steps"))


def load_document(path: str | Path) -> Document:
    """Read and parse one document file. Raises DocumentError with the line of a syntax error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DocumentError(f"{path}: cannot read: {error}") from error
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path}: not UTF-8 text: {not_utf8(error)}") from None
    return parse_document(text, str(path))


def parse_document(text: str, path: str) -> Document:
    """Parse document text; `.json` files as JSON (AWS's contain tabs a YAML parser rejects)."""
    if path.endswith(".json"):
        content, lines = _parse_json(text, path)
    else:
        content, lines = _parse_yaml(text, path)
    return Document(path=path, content=content, text=text, lines=lines)


def find_document_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into document files, sorted within each folder."""
    found: list[Path] = []
    for entry in paths:
        entry = Path(entry)
        if entry.is_dir():
            found.extend(sorted(p for p in entry.rglob("*") if p.suffix in DOCUMENT_SUFFIXES and p.is_file()))
        elif entry.is_file():
            found.append(entry)
        else:
            raise DocumentError(f"{entry}: no such file or folder")
    return found


# --- YAML -----------------------------------------------------------------------------------------


def _parse_yaml(text: str, path: str) -> tuple[Any, dict[JsonPath, int]]:
    yaml = YAML(typ="rt", pure=True)
    try:
        loaded = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = error.problem or error.context or "invalid YAML"
        raise DocumentError(f"{path}:{line}: YAML does not parse: {problem}") from error
    except YAMLError as error:
        raise DocumentError(f"{path}:1: YAML does not parse: {error}") from error
    lines: dict[JsonPath, int] = {}
    return _plain(loaded, (), lines), lines


def _plain(node: Any, path: JsonPath, lines: dict[JsonPath, int]) -> Any:
    """Turn ruamel's round-trip types into plain Python, recording each key's and item's line."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            key = str(key) if not isinstance(key, str | int | float | bool) else key
            # A path names keys by str or int: a float key is named by its text.
            where = key if isinstance(key, str | int) else str(key)
            if isinstance(node, CommentedMap):
                with contextlib.suppress(AttributeError, KeyError, TypeError):
                    lines[(*path, where)] = node.lc.key(key)[0] + 1
            result[key] = _plain(value, (*path, where), lines)
        return result
    if isinstance(node, list):
        result_list = []
        for index, value in enumerate(node):
            if isinstance(node, CommentedSeq):
                with contextlib.suppress(AttributeError, KeyError, TypeError, IndexError):
                    lines[(*path, index)] = node.lc.item(index)[0] + 1
            result_list.append(_plain(value, (*path, index), lines))
        return result_list
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


# --- JSON -----------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# The json module's own string scanner: public in CPython's json.decoder, absent from typeshed's stub.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}


def _parse_json(text: str, path: str) -> tuple[Any, dict[JsonPath, int]]:
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentError(f"{path}:{error.lineno}: JSON does not parse: {error.msg}") from error
    lines: dict[JsonPath, int] = {}
    try:
        _JsonLines(text, lines).value(0, ())
    except (IndexError, ValueError):
        lines.clear()  # json accepted it, so only our line bookkeeping failed: fall back to line 1
    return content, lines


class _JsonLines:
    """A minimal JSON walker that records the line of every key and array item."""

    def __init__(self, text: str, lines: dict[JsonPath, int]):
        self.text = text
        self.lines = lines

    def _line(self, index: int) -> int:
        return self.text.count("\n", 0, index) + 1

    def _skip(self, index: int) -> int:
        match = _WHITESPACE.match(self.text, index)
        assert match is not None  # `*`: it matches, if only the empty string
        return match.end()

    def value(self, index: int, path: JsonPath) -> int:
        index = self._skip(index)
        char = self.text[index]
        if char == "{":
            return self._object(index + 1, path)
        if char == "[":
            return self._array(index + 1, path)
        if char == '"':
            return _scanstring(self.text, index + 1, False)[1]
        for literal in _LITERALS:
            if self.text.startswith(literal, index):
                return index + len(literal)
        match = _NUMBER.match(self.text, index)
        if not match:
            raise ValueError(index)
        return match.end()

    def _object(self, index: int, path: JsonPath) -> int:
        index = self._skip(index)
        if self.text[index] == "}":
            return index + 1
        while True:
            index = self._skip(index)
            key, end = _scanstring(self.text, index + 1, False)
            self.lines[(*path, key)] = self._line(index)
            index = self._skip(end) + 1  # past ':'
            index = self._skip(self.value(index, (*path, key)))
            if self.text[index] == "}":
                return index + 1
            index += 1  # past ','

    def _array(self, index: int, path: JsonPath) -> int:
        index = self._skip(index)
        if self.text[index] == "]":
            return index + 1
        item = 0
        while True:
            index = self._skip(index)
            self.lines[(*path, item)] = self._line(index)
            index = self._skip(self.value(index, (*path, item)))
            if self.text[index] == "]":
                return index + 1
            index += 1
            item += 1
