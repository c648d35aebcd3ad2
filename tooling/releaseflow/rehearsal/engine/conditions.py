"""aws:branch choices and aws:loop conditions: the comparison operators with And, Or and Not."""

from __future__ import annotations

from typing import Any

from releaseflow.rehearsal.engine.errors import StepFailed
from releaseflow.ssm import OPERATORS


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise StepFailed(f"{value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise StepFailed(f"{value!r} is not a number") from error


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise StepFailed(f"{value!r} is not a Boolean")


def _contains(variable: Any, expected: Any) -> bool:
    # A StringList variable contains a value when one of its items equals it; a string, as a substring.
    if isinstance(variable, list):
        return expected in variable or str(expected) in [str(item) for item in variable]
    return str(expected) in str(variable)


# How each of SSM's operators (releaseflow.ssm.OPERATORS) compares; a test holds the two names alike.
_COMPARE = {
    "StringEquals": lambda variable, expected: str(variable) == str(expected),
    "EqualsIgnoreCase": lambda variable, expected: str(variable).lower() == str(expected).lower(),
    "StartsWith": lambda variable, expected: str(variable).startswith(str(expected)),
    "EndsWith": lambda variable, expected: str(variable).endswith(str(expected)),
    "Contains": _contains,
    "NumericEquals": lambda variable, expected: _number(variable) == _number(expected),
    "NumericGreater": lambda variable, expected: _number(variable) > _number(expected),
    "NumericLesser": lambda variable, expected: _number(variable) < _number(expected),
    "NumericGreaterOrEquals": lambda variable, expected: _number(variable) >= _number(expected),
    "NumericLesserOrEquals": lambda variable, expected: _number(variable) <= _number(expected),
    "BooleanEquals": lambda variable, expected: _boolean(variable) == _boolean(expected),
}


def holds(condition: dict) -> bool:
    """Whether an already interpolated condition (Variable + one operator, or And/Or/Not) is true."""
    if not isinstance(condition, dict):
        raise StepFailed(f"condition {condition!r} is not a map")
    if "And" in condition:
        return all(holds(item) for item in condition["And"])
    if "Or" in condition:
        return any(holds(item) for item in condition["Or"])
    if "Not" in condition:
        negated = condition["Not"]
        return not holds(negated[0] if isinstance(negated, list) else negated)
    operators = [key for key in condition if key in OPERATORS]
    if len(operators) != 1 or "Variable" not in condition:
        raise StepFailed(f"condition {condition!r} needs a Variable and exactly one operator")
    return _COMPARE[operators[0]](condition["Variable"], condition[operators[0]])
