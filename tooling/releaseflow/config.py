"""The checked-in deploy configuration (releaseflow.yaml): runbook parameters per environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from releaseflow.errors import UsageError

DEFAULT_PATH = "releaseflow.yaml"
DEFAULT_RUNBOOK = "releaseflow-Deploy"


@dataclass(frozen=True)
class Environment:
    """One environment: where its runbook lives and the runbook parameters it deploys with."""

    name: str
    runbook: str = DEFAULT_RUNBOOK
    region: str | None = None
    parameters: dict[str, list[str]] = field(default_factory=dict)
    scheduler_role_arn: str | None = None
    schedule_group: str = "default"


def load_environment(path: str | Path, name: str | None) -> Environment:
    """Read `path` and return environment `name`, or the only one when the file names one."""
    path = Path(path)
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"{path}: cannot read the deploy configuration: {error.strerror}") from error
    except YAMLError as error:
        raise UsageError(f"{path}: the deploy configuration does not parse: {error}") from error
    environments = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(environments, dict) or not environments:
        raise UsageError(f"{path}: expected `environments:` mapping names to settings")
    if name is None:
        if len(environments) != 1:
            raise UsageError(f"{path}: choose an environment with --environment: {', '.join(environments)}")
        name = next(iter(environments))
    if name not in environments:
        raise UsageError(f"{path}: no environment {name!r}; known: {', '.join(environments)}")
    settings = environments[name] or {}
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: environment {name!r} must be a mapping")
    return Environment(
        name=name,
        runbook=str(settings.get("runbook", DEFAULT_RUNBOOK)),
        region=settings.get("region"),
        parameters={
            key: parameter_values(value) for key, value in (settings.get("parameters") or {}).items()
        },
        scheduler_role_arn=settings.get("scheduler_role_arn"),
        schedule_group=str(settings.get("schedule_group", "default")),
    )


def parameter_values(value: Any) -> list[str]:
    """A runbook parameter as SSM wants it: a list of strings (booleans as true/false)."""
    if isinstance(value, list):
        return [item for entry in value for item in parameter_values(entry)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]
