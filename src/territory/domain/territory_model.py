"""TerritoryModel: a versioned territory plan and its lifecycle.

States follow Salesforce Enterprise Territory Management (planning, active,
archived) with one difference: archiving keeps every assignment, quota and
history row, so an archived model can still be compared and reported on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from territory.domain.ids import ModelId
from territory.errors import Conflict, InputError

__all__ = ["ModelState", "TerritoryModel", "check_transition"]


class ModelState(StrEnum):
    """Lifecycle state of a territory model."""

    PLANNING = "planning"
    ACTIVE = "active"
    ARCHIVED = "archived"


_ALLOWED: dict[ModelState, frozenset[ModelState]] = {
    ModelState.PLANNING: frozenset({ModelState.ACTIVE, ModelState.ARCHIVED}),
    ModelState.ACTIVE: frozenset({ModelState.ARCHIVED}),
    ModelState.ARCHIVED: frozenset(),
}


def check_transition(name: str, current: ModelState, target: ModelState) -> None:
    """Raise ``Conflict`` unless a model may move from ``current`` to ``target``.

    Raises
    ------
    Conflict
        When the transition is not allowed (for example, reactivating an
        archived model: clone it instead); code ``model_state_unchanged`` when
        the model is in ``target`` already.
    """
    if target in _ALLOWED[current]:
        return
    if target is current:
        now = "the active model" if current is ModelState.ACTIVE else current.value
        raise Conflict(
            f"Model '{name}' is already {now}; nothing to change.",
            code="model_state_unchanged",
            details={"model": name, "state": current.value, "target": target.value},
        )
    hint = {
        ModelState.ARCHIVED: (
            "clone it with `territory model clone` and activate the clone"
        ),
        ModelState.ACTIVE: "archive it instead",
        ModelState.PLANNING: "",
    }[current]
    raise Conflict(
        f"Model '{name}' is {current.value} and cannot become {target.value}"
        + (f"; {hint}." if hint else "."),
        code="model_state",
        details={"model": name, "state": current.value, "target": target.value},
    )


@dataclass(frozen=True, slots=True)
class TerritoryModel:
    """A versioned plan: territories, rules, assignments and quotas."""

    id: ModelId
    name: str
    state: ModelState = ModelState.PLANNING
    description: str = ""
    cloned_from: ModelId | None = None
    created_at: datetime | None = None
    activated_at: datetime | None = None
    archived_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise InputError(
                "A territory model needs a non-empty name.", code="model_name"
            )
