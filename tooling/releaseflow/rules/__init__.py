"""The validation rules: one module per rule, each exposing CODE, SUMMARY, WHY, SOURCE and check()."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Rule:
    """A loaded rule module. `check(document, context)` yields Findings.

    `source`: the one AWS page (user guide, API reference) or SSM agent source file the rule's facts
    come from; empty when the module lacks SOURCE, which the registry test refuses.
    """

    code: str
    summary: str
    why: str
    source: str
    module: ModuleType

    def check(self, document, context) -> Iterator:
        return self.module.check(document, context)


def all_rules() -> list[Rule]:
    """Every rule module in this package (modules starting with `_` are helpers), by code."""
    rules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rules.append(Rule(module.CODE, module.SUMMARY, module.WHY, getattr(module, "SOURCE", ""), module))
    return sorted(rules, key=lambda rule: rule.code)
