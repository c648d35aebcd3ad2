"""Injection payloads and the documents' parameters, shared by the pure and the rehearsal security tests."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from releaseflow.documents import load_document
from releaseflow.goregexp import match_string

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = {path.stem: load_document(path).content for path in sorted((REPO / "documents").glob("*.yaml"))}
RUNBOOKS = {path.stem: load_document(path).content for path in sorted((REPO / "automation").glob("*.yaml"))}
# Unique per run: a marker an earlier run left cannot make this one fail, nor hide anything.
MARKER = f"/tmp/releaseflow-pwned-{uuid.uuid4().hex[:12]}"
# Each payload would create MARKER if a shell (or git, for the option) ever ran it.
PAYLOADS = {
    "semicolon": "{base};touch {marker}",
    "command substitution": "{base}$(touch {marker})",
    "backticks": "{base}`touch {marker}`",
    "newline": "{base}\ntouch {marker}",
    "and": "{base} && touch {marker}",
    "single quote": "{base}'; touch {marker}; '",
    "double quote": '{base}"; touch {marker}; "',
    "leading option": "--upload-pack=touch {marker}",
}
# Valid values for parameters without a default (each is checked to pass before it carries a payload);
# `local` is the rehearsal fleet's tag value.
SAMPLES = {
    "Revision": "0123456789abcdef0123456789abcdef01234567",
    "ExecutionId": "5f2c1f0e-0000-4000-8000-000000000001",
    "FleetTagValue": "local",
    "AutomationAssumeRole": "arn:aws:iam::123456789012:role/releaseflow-AutomationRole",
}
# Values no parameter pattern may admit: each would change a shell command's meaning.
HOSTILE_VALUES = ["main; rm -rf /", "$(id)", "`id`", "a\nb", "a && b", "'a'", '"a"', "a|b", "a > /etc/passwd"]
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9]+)\s*\}\}")


def payload(kind: str, base: str) -> str:
    return PAYLOADS[kind].format(base=base, marker=MARKER)


def base_value(spec: dict, name: str) -> str:
    default = spec.get("default")
    if isinstance(default, list):
        return str(default[0]) if default else "puma"
    return str(default) if default not in (None, "") else SAMPLES.get(name, "x")


def valid_values(content: dict) -> dict[str, list[str]]:
    """A value for every required parameter, so a refusal can only come from the value under test."""
    return {
        name: [SAMPLES[name]]
        for name, spec in (content.get("parameters") or {}).items()
        if "default" not in spec
    }


# Script inputs a step hands on to the host commands as they are: DrainBatch's Services and WorkerServices
# (the batch's role's, as the commands' Services).
HANDED_ON = {"DrainBatch": ("Services", "WorkerServices")}


def _run_command_inputs(steps: list) -> list[dict]:
    found = []
    for step in steps:
        if step.get("action") == "aws:runCommand":
            found.append(step["inputs"].get("Parameters") or {})
        payload = step.get("inputs", {}).get("InputPayload") or {}
        found.append(
            {name: payload[name] for name in HANDED_ON.get(step.get("name", ""), ()) if name in payload}
        )
        found += _run_command_inputs(step.get("inputs", {}).get("Steps") or [])
    return found


def host_parameters(content: dict) -> list[str]:
    """The runbook parameters that some aws:runCommand step hands to a host."""
    names = {
        name
        for inputs in _run_command_inputs(content["mainSteps"])
        for name in PLACEHOLDER.findall(str(inputs))
    }
    return sorted(names & set(content.get("parameters") or {}))


def assert_pattern_guards(pattern: str, realistic: list[str], document_type: str) -> None:
    """An anchored allowedPattern refuses every hostile value and admits every realistic one, as the
    checker of `document_type` (the agent's Go regexp, or Automation's) reads it."""
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    for value in HOSTILE_VALUES:
        assert not match_string(pattern, value, document_type), value
    for value in realistic:
        assert match_string(pattern, value, document_type), value
