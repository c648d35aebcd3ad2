"""Every document's and runbook's `parameters:` block, from the one catalogue (parameters.yaml).

A source (documents-src/NAME.yaml, automation-src/NAME.yaml) reads `parameters: <<catalogue A B C?>>`,
the names in the order the block declares them (the marker may go on over indented lines: it stays
a YAML scalar, so the source still parses). Each name becomes its catalogue entry as NAME declares it:
the entry's fields, with what its `in: NAME:` sets over them; a name written `C?` is the entry's
"empty means the deploy's" variant (RollbackFleet's overrides of the deploy's values). The header of
parameters.yaml says what an entry holds. `make documents` and `make runbooks` write the blocks; the
text is written as the hand-written documents were, so that a generated document is the same bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from releaseflow.errors import ReleaseflowError

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "parameters.yaml"
MARKER = re.compile(r"^parameters: <<catalogue(?P<names>[^>]*)>>$", re.MULTILINE)
# The fields SSM reads, in the order every document writes them.
FIELDS = ("type", "description", "default", "allowedPattern", "allowedValues", "maxChars", "minItems")
# The catalogue's own keys, beside the fields.
IN, EMPTY_MEANS_THE_DEPLOYS = "in", "emptyMeansTheDeploys"
# Read by the agent alone (it sets the step's timeoutSeconds), never by a script: not an environment
# variable (tests/unit/test_documents.py says why).
AGENT_PARAMETERS = frozenset({"executionTimeout"})
COMMAND_SCHEMA = "2.2"


class ParametersError(ReleaseflowError):
    """The catalogue or a source's marker names what the other does not hold."""


class Quoted(str):
    """A string the catalogue writes in double quotes: the document writes it so too."""

    __slots__ = ()


class _Loader(yaml.SafeLoader):
    """YAML as yaml.safe_load reads it, but a double-quoted string stays Quoted."""


def _string(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    value = loader.construct_scalar(node)
    return Quoted(value) if node.style == '"' else value


_Loader.add_constructor("tag:yaml.org,2002:str", _string)


def load_catalogue(path: Path = CATALOGUE) -> dict[str, dict]:
    """Parameter name -> entry, as parameters.yaml writes them."""
    catalogue = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    for name, entry in catalogue.items():
        unknown = set(entry) - {*FIELDS, IN, EMPTY_MEANS_THE_DEPLOYS}
        unknown |= {key for override in (entry.get(IN) or {}).values() for key in override} - set(FIELDS)
        if unknown:
            raise ParametersError(f"{path.name}: {name}: unknown field {', '.join(sorted(unknown))}")
    return catalogue


def optional(pattern: str) -> str:
    """`^X$` made to accept the empty string too: `^(X)?$`, or `^X?$` when X is already one group."""
    core = pattern.removeprefix("^").removesuffix("$")
    one_group = re.fullmatch(r"\((?:[^()]|\([^()]*\))*\)", core)
    return f"^{core}?$" if one_group else f"^({core})?$"


def empty_means_the_deploys(spec: dict, description: str) -> dict:
    """RollbackFleet's variant of a deploy parameter: empty by default, and then the deploy's value."""
    variant = {**spec, "description": Quoted(description)}
    variant["default"] = [] if spec["type"] == "StringList" else Quoted("")
    variant.pop("minItems", None)
    pattern = spec.get("allowedPattern")
    # A StringList's pattern checks each item, and an empty list has none; a String's must take "".
    if spec["type"] == "String" and pattern and not re.fullmatch(pattern, ""):
        variant["allowedPattern"] = Quoted(optional(pattern))
    return variant


def declaration(entry: dict, document: str, variant: bool = False) -> dict:
    """The fields `document` declares for the entry: the entry's, its `in` for the document over them."""
    spec = {key: entry[key] for key in FIELDS if key in entry}
    for key, value in ((entry.get(IN) or {}).get(document) or {}).items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    if variant:
        spec = empty_means_the_deploys(spec, entry[EMPTY_MEANS_THE_DEPLOYS])
    return {key: spec[key] for key in FIELDS if key in spec}


def _scalar(value: Any) -> str:
    """A value as the catalogue writes it: double-quoted if it is there, plain otherwise."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, Quoted) else str(value)


def render(declarations: dict[str, dict], command: bool) -> str:
    """The `parameters:` block, every parameter at two spaces, its fields at four, list items at six."""
    lines = ["parameters:"]
    for name, spec in declarations.items():
        lines.append(f"  {name}:")
        for key, value in spec.items():
            if isinstance(value, list) and value:
                lines += [f"    {key}:", *(f"      - {_scalar(item)}" for item in value)]
            else:
                lines.append(f"    {key}: {'[]' if value == [] else _scalar(value)}")
        if command and name not in AGENT_PARAMETERS:
            lines.append("    interpolationType: ENV_VAR")
    return "\n".join(lines)


def named(marker: str) -> list[tuple[str, bool]]:
    """The marker's names in order, each with whether it is written `Name?` (the variant)."""
    return [(word.removesuffix("?"), word.endswith("?")) for word in marker.split()]


def block(catalogue: dict[str, dict], document: str, names: list[tuple[str, bool]], command: bool) -> str:
    """The `parameters:` block the document declares: the named entries as it declares them."""
    missing = [name for name, _ in names if name not in catalogue]
    if missing:
        raise ParametersError(f"{document}: {', '.join(missing)} not in {CATALOGUE.name}")
    no_variant = [
        name for name, variant in names if variant and EMPTY_MEANS_THE_DEPLOYS not in catalogue[name]
    ]
    if no_variant:
        raise ParametersError(f"{document}: {', '.join(no_variant)} has no {EMPTY_MEANS_THE_DEPLOYS} variant")
    return render({name: declaration(catalogue[name], document, variant) for name, variant in names}, command)


def expand(source: str, document: str, catalogue: dict[str, dict]) -> str:
    """A source with its `parameters: <<catalogue ...>>` marker replaced by the block (or as it is)."""
    command = yaml.safe_load(source).get("schemaVersion") == COMMAND_SCHEMA
    return MARKER.sub(lambda match: block(catalogue, document, named(match["names"]), command), source)


def markers(source: str) -> list[tuple[str, bool]]:
    """The names a source's marker lists (none without one)."""
    return [pair for match in MARKER.finditer(source) for pair in named(match["names"])]
