"""The open readings: behaviours AWS's documentation leaves open, and which reading the engine plays.

docs/aws-semantics.md "Open readings" is the register; this table is the one the engine, the endpoint,
`local up --aws-readings` and `local status --json` use. `default` plays each row's first reading,
`strict` the one least favourable to a runbook that relies on the behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from releaseflow.errors import UsageError, not_utf8


@dataclass(frozen=True)
class OpenReading:
    """One behaviour the documentation leaves open: its readings (default first) and the strict one."""

    name: str
    question: str
    readings: tuple[str, ...]
    strict: str

    @property
    def default(self) -> str:
        return self.readings[0]


OPEN_READINGS: dict[str, OpenReading] = {
    row.name: row
    for row in (
        OpenReading(
            "loop_nested_continue",
            "a nested step with onFailure: Continue fails inside aws:loop",
            ("next-nested-step", "fail-loop"),
            "fail-loop",
        ),
        OpenReading(
            "loop_nested_jump",
            "a nested step's nextStep or onFailure: step:X names another nested step",
            ("jump", "refused"),
            "refused",
        ),
        OpenReading(
            "loop_nested_cancel_jump",
            "a nested step's onCancel: step:X names a step outside the aws:loop",
            ("jump", "ignored"),
            # `ignored` is the least favourable reading, but the runbooks' batch loops rely on the jump
            # (AWS allows no onCancel on aws:loop itself): strict plays `jump` until they do not, and
            # `releaseflow probe` flags an account that plays `ignored` (not proven).
            "jump",
        ),
        OpenReading(
            "wait_multiple_values",
            "the PropertySelector of aws:waitForAwsResourceProperty / aws:assertAwsResourceProperty "
            "selects several values",
            ("all", "any", "first"),
            "any",
        ),
        OpenReading(
            "failed_run_command_outputs",
            "the outputs of an aws:runCommand step that failed",
            ("all", "none"),
            "none",
        ),
        OpenReading(
            "output_selector_no_match",
            "a step output whose Selector matches nothing",
            ("absent", "step-fails"),
            "step-fails",
        ),
        OpenReading(
            "script_output_over_limit",
            "aws:executeScript returns more than 100 KB, or a list of more than 100 items",
            ("cut", "step-fails"),
            "step-fails",
        ),
        OpenReading(
            "run_command_document_version",
            "aws:runCommand with a DocumentVersion input",
            ("accepted", "refused"),
            "refused",
        ),
    )
}

DEFAULT: dict[str, str] = {name: row.default for name, row in OPEN_READINGS.items()}
STRICT: dict[str, str] = {name: row.strict for name, row in OPEN_READINGS.items()}

# The settings the suite proves the runbooks under: the failure scenarios run once on a fleet of each
# (tests/support/scenarios.py takes its EVERY_READING from here), so this is the one place that says it.
PROVEN_SETTINGS: dict[str, dict[str, str]] = {"default": DEFAULT, "strict": STRICT}
# Per behaviour, the readings some proving setting plays: what `releaseflow probe` holds an account's
# answers against. The runbooks use none of the constructs two rows could combine on (no nested jump
# or Continue, no multi-value wait), so each row is proven on its own.
PROVEN: dict[str, tuple[str, ...]] = {
    name: tuple(dict.fromkeys(setting[name] for setting in PROVEN_SETTINGS.values()))
    for name in OPEN_READINGS
}


def check(chosen: Mapping[str, str], source: str = "readings") -> dict[str, str]:
    """Every reading named, completed with the defaults; an unknown name or reading is a UsageError."""
    result = dict(DEFAULT)
    for name, reading in chosen.items():
        row = OPEN_READINGS.get(name)
        if row is None:
            raise UsageError(f"{source}: unknown open reading {name!r}; known: {', '.join(OPEN_READINGS)}")
        if reading not in row.readings:
            choices = ", ".join(row.readings)
            raise UsageError(f"{source}: {name} has no reading {reading!r}; choose one of {choices}")
        result[name] = reading
    return result


def choose(spec: str) -> dict[str, str]:
    """`default`, `strict`, or a JSON file {NAME: READING} (names left out keep their default)."""
    if spec == "default":
        return dict(DEFAULT)
    if spec == "strict":
        return dict(STRICT)
    path = Path(spec)
    try:
        chosen = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(
            f"--aws-readings {spec}: not default, strict or a readable file ({error.strerror})"
        ) from error
    except json.JSONDecodeError as error:
        raise UsageError(f"--aws-readings {spec}: not JSON ({error})") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"--aws-readings {spec}: not UTF-8 text: {not_utf8(error)}") from None
    if not isinstance(chosen, dict) or not all(isinstance(value, str) for value in chosen.values()):
        raise UsageError(f"--aws-readings {spec}: must be a JSON object {{NAME: READING}}")
    return check(chosen, spec)
