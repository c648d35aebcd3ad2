"""Command documents as SendCommand checks them and as the SSM agent plans them: parameters and plugins."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from releaseflow.errors import ReleaseflowError
from releaseflow.goregexp import match_string
from releaseflow.ssm import PRECONDITION_OPERATOR, PRECONDITION_SCHEMA, PRECONDITION_VARIABLE

# The agent's own placeholder syntax: Go's `\s` is ASCII whitespace only.
_GO_PLACEHOLDER = re.compile(r"\{\{[ \t\n\f\r]*([a-zA-Z0-9]+)[ \t\n\f\r]*\}\}")
_SSM_REFERENCE = re.compile(r"\{\{\s*ssm(?:-secure)?:")
# Go's regexp.Expand template syntax, which the agent's ReplaceAllString applies to parameter values.
_GO_TEMPLATE = re.compile(r"\$(?:\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))")

PARAMETER_TYPES = ("String", "StringList")
PLATFORM_TYPES = ("linux", "windows", "macos")


class InvalidParameters(ReleaseflowError):
    """SendCommand's parameters do not fit the document (SSM's InvalidParameters)."""


class InvalidDocument(ReleaseflowError):
    """The document cannot be run by the agent as written (SSM's InvalidDocument)."""


@dataclass(frozen=True)
class Plugin:
    """One step as the agent runs it: inputs interpolated, control flow and precondition decided."""

    name: str
    action: str
    inputs: dict[str, Any]
    # Set when the precondition is not met: the step is Skipped with this output.
    skip_reason: str | None = None
    # Set when the agent refuses the step before running it: the step Fails with this output.
    fail_reason: str | None = None
    on_failure: str = ""
    on_success: str = ""
    finally_step: bool = False
    environment: dict[str, str] = field(default_factory=dict)


def resolve_parameters(content: dict, parameters: dict[str, list[str]]) -> dict[str, str | list[str]]:
    """The values SendCommand would run the document with, after its checks and the defaults."""
    declared = content.get("parameters") or {}
    for name in parameters:
        if name not in declared:
            raise InvalidParameters(f'parameter "{name}" is not defined in the document')
    resolved: dict[str, str | list[str]] = {}
    for name, spec in declared.items():
        kind = spec.get("type")
        if kind not in PARAMETER_TYPES:
            raise InvalidDocument(
                f'parameter "{name}" has type {kind!r}: Command documents take String or StringList'
            )
        if name in parameters:
            value = _given_value(name, kind, parameters[name])
        elif "default" in spec:
            value = _default_value(name, kind, spec["default"])
            resolved[name] = value
            continue  # SSM validated the default when the document was created
        else:
            raise InvalidParameters(f'parameter "{name}" is required and has no default')
        _check_value(name, kind, spec, value)
        resolved[name] = value
    return resolved


def _given_value(name: str, kind: str, values: Any) -> str | list[str]:
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise InvalidParameters(f'parameter "{name}" must be given as a list of strings, got {values!r}')
    for item in values:
        if _SSM_REFERENCE.search(item):
            raise InvalidParameters(
                f'parameter "{name}" value "{item}" references Parameter Store, '
                "which the rehearsal cannot resolve"
            )
    if kind == "String":
        if len(values) != 1:
            raise InvalidParameters(
                f'parameter "{name}" is a String and takes exactly one value, got {len(values)}'
            )
        return values[0]
    return list(values)


def _default_value(name: str, kind: str, default: Any) -> str | list[str]:
    items = default if isinstance(default, list) else [default]
    if any(isinstance(item, str) and _SSM_REFERENCE.search(item) for item in items):
        raise InvalidParameters(
            f'parameter "{name}" default {default!r} references Parameter Store, '
            "which the rehearsal cannot resolve"
        )
    if kind == "StringList":
        return [_scalar(item) for item in items]
    return _scalar(default)


def _scalar(value: Any) -> str:
    # YAML turns `default: 5` or `default: true` into numbers and booleans; SSM stores the text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _check_value(name: str, kind: str, spec: dict, value: str | list[str]) -> None:
    items = value if isinstance(value, list) else [value]
    if kind == "StringList":
        if "minItems" in spec and len(items) < int(spec["minItems"]):
            raise InvalidParameters(
                f'parameter "{name}" has {len(items)} items, fewer than minItems {spec["minItems"]}'
            )
        if "maxItems" in spec and len(items) > int(spec["maxItems"]):
            raise InvalidParameters(
                f'parameter "{name}" has {len(items)} items, more than maxItems {spec["maxItems"]}'
            )
    allowed = spec.get("allowedValues")
    pattern = spec.get("allowedPattern")
    for item in items:
        if allowed is not None and item not in [_scalar(choice) for choice in allowed]:
            raise InvalidParameters(
                f'parameter "{name}" value "{item}" is not one of the allowedValues {allowed}'
            )
        # Go's regexp.MatchString, as SSM uses it, matches anywhere in the value: no implicit anchors.
        if pattern is not None and not match_string(pattern, item):
            raise InvalidParameters(
                f'parameter "{name}" value "{item}" does not match the allowedPattern {pattern}'
            )
        if "minChars" in spec and len(item) < int(spec["minChars"]):
            raise InvalidParameters(
                f'parameter "{name}" value "{item}" is shorter than minChars {spec["minChars"]}'
            )
        if "maxChars" in spec and len(item) > int(spec["maxChars"]):
            raise InvalidParameters(
                f'parameter "{name}" value "{item}" is longer than maxChars {spec["maxChars"]}'
            )


def plan_plugins(
    content: dict, resolved: dict[str, str | list[str]], platform: str = "Linux"
) -> list[Plugin]:
    """The plugins the agent runs, in order, for a document and its resolved parameters."""
    version = content.get("schemaVersion")
    environment = _environment(content, resolved)
    if version == "1.2":
        return _plan_runtime_config(content, resolved, environment)
    if version not in ("2.0", "2.2"):
        raise InvalidDocument(
            f"schemaVersion {version!r} is not a Command document schema the rehearsal runs"
        )
    steps = content.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        raise InvalidDocument("the document has no mainSteps")
    plugins = []
    for step in steps:
        inputs = substitute(step.get("inputs") or {}, resolved)
        skip, fail = _precondition(step, resolved, version, platform)
        plugins.append(
            Plugin(
                name=step.get("name", ""),
                action=step.get("action", ""),
                inputs=inputs,
                skip_reason=skip,
                fail_reason=fail,
                on_failure=_modifier(inputs.get("onFailure")),
                on_success=_modifier(inputs.get("onSuccess")),
                finally_step=_modifier(inputs.get("finallyStep")) == "true",
                environment=environment,
            )
        )
    return plugins


def _plan_runtime_config(content: dict, resolved: dict, environment: dict[str, str]) -> list[Plugin]:
    plugins = []
    for action, config in (content.get("runtimeConfig") or {}).items():
        properties = substitute((config or {}).get("properties"), resolved)
        for item in properties if isinstance(properties, list) else [properties]:
            name = item.get("id", action) if isinstance(item, dict) else action
            plugins.append(Plugin(name=name, action=action, inputs=item or {}, environment=environment))
    if not plugins:
        raise InvalidDocument("the schema 1.2 document has no runtimeConfig plugins")
    return plugins


def _modifier(value: Any) -> str:
    # The agent reads these as strings, and booleans as their Go text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else ""


def _precondition(step: dict, resolved: dict, version: str, platform: str) -> tuple[str | None, str | None]:
    """(skip reason, fail reason) as the agent's evaluatePreconditions decides them."""
    precondition = step.get("precondition")
    name = step.get("name", "")
    if not precondition:
        return None, None
    if version != PRECONDITION_SCHEMA:
        return (
            None,
            f"Precondition is not supported for document schema version prior to 2.2. Step name: {name}",
        )
    unmet, unrecognized = [], []
    for operator, arguments in precondition.items():
        if operator != PRECONDITION_OPERATOR:
            unrecognized.append(f'unrecognized operator: "{operator}"')
        elif not isinstance(arguments, list) or len(arguments) != 2:
            unrecognized.append(f'"{operator}": operator accepts exactly 2 arguments')
        elif PRECONDITION_VARIABLE not in arguments or arguments[0] == arguments[1]:
            # Parameter comparisons exist in newer agents; the rehearsal's documents only test the platform.
            unrecognized.append(f'"{operator}": {arguments}')
        else:
            wanted = arguments[1] if arguments[0] == PRECONDITION_VARIABLE else arguments[0]
            if substitute(wanted, resolved) != wanted:
                unrecognized.append(
                    f'"{operator}": the second argument for the platformType variable '
                    "can't contain document parameters"
                )
            elif str(wanted).lower() != platform.lower():
                unmet.append(f'"{operator}": [{arguments[0]}, {arguments[1]}]')
    if unmet:
        joined = ", ".join(unmet + unrecognized)
        return f"Step execution skipped due to unsatisfied preconditions: '{joined}'. Step name: {name}", None
    if unrecognized:
        joined = ", ".join(unrecognized)
        return None, (
            f"Unrecognized precondition(s): '{joined}', please update agent to latest version. "
            f"Step name: {name}"
        )
    return None, None


def substitute(value: Any, resolved: dict[str, str | list[str]]) -> Any:
    """Replace `{{ Name }}` the way the agent's ReplaceParameters does.

    A string that is exactly one placeholder becomes the raw value (a StringList stays a list).
    Inside a longer string the value goes in as text (lists as compact JSON) through Go's
    Regexp.ReplaceAllString, which expands the value as a template: `$$` becomes `$`, and
    `$name`, `${name}` or `$1` become empty (the pattern has no groups); `$0` is the placeholder itself.
    Placeholders of unknown names stay as written.
    """
    if isinstance(value, dict):
        return {key: substitute(item, resolved) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, resolved) for item in value]
    if not isinstance(value, str):
        return value
    whole = _GO_PLACEHOLDER.fullmatch(value)
    if whole and whole.group(1) in resolved:
        return resolved[whole.group(1)]

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in resolved:
            return match.group(0)
        found = resolved[name]
        text = found if isinstance(found, str) else _go_json(found)
        return _expand_go_template(text, match.group(0))

    return _GO_PLACEHOLDER.sub(replace, value)


def _go_json(value: Any) -> str:
    # Go's json.Marshal: compact, and it escapes <, > and & for HTML.
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _expand_go_template(template: str, whole_match: str) -> str:
    def expand(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        return whole_match if name.isdigit() and int(name) == 0 else ""

    return _GO_TEMPLATE.sub(expand, template)


def _environment(content: dict, resolved: dict[str, str | list[str]]) -> dict[str, str]:
    """SSM_<Name> for each parameter declared with interpolationType ENV_VAR."""
    environment = {}
    for name, spec in (content.get("parameters") or {}).items():
        if spec.get("interpolationType") == "ENV_VAR" and name in resolved:
            value = resolved[name]
            environment[f"SSM_{name}"] = value if isinstance(value, str) else _go_json(value)
    return environment
