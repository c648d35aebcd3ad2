"""The checked-in deploy configuration (releaseflow.yaml): runbook parameters per environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from releaseflow.errors import UsageError, not_utf8

DEFAULT_PATH = "releaseflow.yaml"
# What a command reads without --config / --environment (the workflows and `releaseflow local env` set them).
CONFIG_VARIABLE = "RELEASEFLOW_CONFIG"
ENVIRONMENT_VARIABLE = "RELEASEFLOW_ENVIRONMENT"
DEFAULT_RUNBOOK = "releaseflow-Deploy"
SCHEMA_FILE = Path(__file__).with_name("config.schema.json")
# The runbook parameter `migrate:` sets; the runbook must declare it (String, "true"|"false").
MIGRATE_PARAMETER = "Migrate"


def configured_path() -> str:
    """The configuration a command reads without --config: $RELEASEFLOW_CONFIG, else releaseflow.yaml."""
    return os.environ.get(CONFIG_VARIABLE, DEFAULT_PATH)


@dataclass(frozen=True)
class Environment:
    """One environment: where its runbook lives and the runbook parameters it deploys with."""

    name: str
    runbook: str = DEFAULT_RUNBOOK
    region: str | None = None
    parameters: dict[str, list[str]] = field(default_factory=dict)
    scheduler_role_arn: str | None = None
    schedule_group: str = "default"
    # The CloudWatch alarm Automation watches (AlarmConfiguration); None: no alarm.
    alarm: str | None = None
    ignore_alarm_poll_failure: bool = False
    # `documents:` in the file, resolved against the file's folder; None: the packaged documents.
    documents: Path | None = None


@cache
def schema() -> dict:
    """The JSON Schema releaseflow.yaml is checked against (`releaseflow config schema` prints it)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def load_config(path: str | Path) -> dict:
    """Read and check `path` against the schema; refuse unknown keys and wrong types with file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"{path}: cannot read the deploy configuration: {error.strerror}; "
            "name it with --config or $RELEASEFLOW_CONFIG"
        ) from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: the deploy configuration is not UTF-8 text: {not_utf8(error)}") from None
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UsageError(f"{where}: the deploy configuration does not parse: {problem}") from error
    validator = jsonschema.Draft202012Validator(schema())
    # Outermost first, a missing key before the others: the first error is the one to fix first.
    errors = sorted(
        validator.iter_errors(_plain(data)),
        key=lambda e: (len(e.path), e.validator != "required", list(map(str, e.path))),
    )
    if errors:
        raise UsageError(_describe(path, data, errors[0]))
    return _plain(data)


def load_environment(path: str | Path, name: str | None) -> Environment:
    """Read `path` and return environment `name`, or the only one when the file names one."""
    path = Path(path)
    data = load_config(path)
    environments = data["environments"]
    if name is None:
        if len(environments) != 1:
            raise UsageError(f"{path}: choose an environment with --environment: {', '.join(environments)}")
        name = next(iter(environments))
    if name not in environments:
        raise UsageError(f"{path}: no environment {name!r}; known: {', '.join(environments)}")
    settings = environments[name] or {}
    parameters = {key: parameter_values(value) for key, value in (settings.get("parameters") or {}).items()}
    if "migrate" in settings:
        parameters[MIGRATE_PARAMETER] = parameter_values(settings["migrate"])
    return Environment(
        name=name,
        runbook=str(settings.get("runbook", DEFAULT_RUNBOOK)),
        region=settings.get("region"),
        parameters=parameters,
        scheduler_role_arn=settings.get("scheduler_role_arn"),
        schedule_group=str(settings.get("schedule_group", "default")),
        alarm=settings.get("alarm"),
        ignore_alarm_poll_failure=bool(settings.get("ignore_alarm_poll_failure", False)),
        documents=configured_documents(path, data),
    )


def configured_documents(path: str | Path, data: dict | None = None) -> Path | None:
    """The `documents:` folder of the configuration at `path` (None when absent, or no file there)."""
    path = Path(path)
    if data is None:
        if not path.is_file():
            return None
        data = load_config(path)
    folder = data.get("documents")
    return (path.parent / folder) if folder else None


def parameter_values(value: Any) -> list[str]:
    """A runbook parameter as SSM wants it: a list of strings (booleans as true/false)."""
    if isinstance(value, list):
        return [item for entry in value for item in parameter_values(entry)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (the schema checker wants JSON types)."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _line(data: Any, keys: list) -> int:
    """The 1-based line of the node at `keys` in the round-trip tree (its key's line for a mapping entry)."""
    line = 0
    node = data
    for key in keys:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0]
        else:
            break
        node = node[key]
    return line + 1


def _describe(path: Path, data: Any, error: jsonschema.ValidationError) -> str:
    """One line: file:line, the setting's dotted name, what is wrong and what to write instead."""
    keys = list(error.path)
    where = ".".join(map(str, keys)) or "the file"
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        instance = error.instance if isinstance(error.instance, dict) else {}
        unknown = [key for key in instance if key not in known]
        key = unknown[0] if unknown else "?"
        expected = f"known keys: {', '.join(known)}" if known else "no keys allowed"
        return f"{path}:{_line(data, [*keys, key])}: unknown key {key!r} in {where}; {expected}"
    line = _line(data, keys)
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        hints = {"parameters": "; write one `Name: value` line per parameter"}
        hint = (
            hints.get(keys[-1], "")
            if keys
            else "; it starts with `environments:` (releaseflow config schema)"
        )
        return f"{path}:{line}: {where} must be {_article(wanted)}, not {_json_type(error.instance)}{hint}"
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in (error.instance or {})]
        return f"{path}:{line}: {where} lacks the required key {missing[0]!r}"
    if error.validator == "anyOf" and keys and keys[-2:-1] == ["parameters"]:
        return (
            f"{path}:{line}: {where} must be a string, number, boolean or a list of them, "
            f"not {_json_type(error.instance)}"
        )
    if error.validator == "pattern":
        return f"{path}:{line}: {where} {error.instance!r} does not match {error.validator_value}"
    return f"{path}:{line}: {where}: {error.message}"


def _article(kind: str) -> str:
    words = {"object": "a mapping", "array": "a list", "null": "empty"}
    return " or ".join(words.get(word, f"a {word}") for word in kind.split(" or "))


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r}"
