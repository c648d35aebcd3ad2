"""The Finding value that validation rules report, and how findings are ordered."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one document: `PATH:LINE: CODE message`. Codes starting with W are warnings."""

    path: str
    line: int
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return not self.code.startswith("W")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"
