"""The exception hierarchy of territory.

Every error carries a stable ``code``, a human ``message`` that says what is
wrong, where, and how to fix it, and machine-readable ``details``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Conflict",
    "ConvergenceError",
    "InfeasibleError",
    "InputError",
    "InternalError",
    "Issue",
    "NotFound",
    "TerritoryError",
    "ValidationFailed",
]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in user input.

    ``file`` and ``row`` locate it (row numbers count the header as row 1, as
    a spreadsheet shows them; ``line`` is the line of a text file such as a
    YAML rule file), ``field`` names the column or key, ``problem`` says what
    is wrong and ``hint`` what to do about it.
    """

    problem: str
    hint: str = ""
    file: str | None = None
    row: int | None = None
    field: str | None = None
    line: int | None = None

    def render(self) -> str:
        """Return the issue as one readable line."""
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        text = f"{prefix}: {self.problem}" if prefix else self.problem
        if self.hint:
            text += f" — {self.hint}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Return the issue as a JSON-friendly mapping."""
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "line": self.line,
            "problem": self.problem,
            "hint": self.hint,
        }


class TerritoryError(Exception):
    """Base of every error territory raises on purpose."""

    code: str = "territory_error"
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})


class InputError(TerritoryError):
    """The user can fix it: bad file, bad argument, unknown name."""

    code = "input_error"
    exit_code = 2


class ValidationFailed(InputError):
    """Input failed validation; ``issues`` lists every problem found."""

    code = "validation_failed"

    def __init__(
        self,
        message: str,
        issues: list[Issue],
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        merged.setdefault("issues", [i.as_dict() for i in issues])
        super().__init__(message, code=code, details=merged)
        self.issues = list(issues)

    def __str__(self) -> str:
        lines = [self.message]
        shown = self.issues[:50]
        lines.extend(f"  - {i.render()}" for i in shown)
        if len(self.issues) > len(shown):
            lines.append(f"  ... and {len(self.issues) - len(shown)} more")
        return "\n".join(lines)


class NotFound(InputError):
    """A named object does not exist."""

    code = "not_found"


class Conflict(InputError):
    """The request clashes with existing state (duplicate id, wrong state)."""

    code = "conflict"


class InfeasibleError(TerritoryError):
    """Constraints cannot all hold; ``details`` carries the diagnosis."""

    code = "infeasible"
    exit_code = 3


class ConvergenceError(TerritoryError):
    """A solver stopped early; ``details`` carries the best result found."""

    code = "convergence"
    exit_code = 3


class InternalError(TerritoryError):
    """Our bug or an infrastructure failure."""

    code = "internal"
    exit_code = 1
