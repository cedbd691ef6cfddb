"""Assignments of geo units and accounts to territories, with their cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from territory.domain.ids import AccountId, ModelId, TerritoryId, UnitId

__all__ = ["AccountAssignment", "Cause", "UnitAssignment"]


class Cause(StrEnum):
    """Why an assignment exists."""

    RULE = "rule"
    MANUAL = "manual"
    DESIGN = "design"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class UnitAssignment:
    """A geo unit belongs to one territory within a model."""

    model_id: ModelId
    unit_kind: str
    unit_id: UnitId
    territory_id: TerritoryId
    cause: Cause = Cause.DESIGN
    source: str | None = None
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True, slots=True)
class AccountAssignment:
    """An account belongs to a territory within a model (one of possibly many).

    ``source`` is the rule id or design run id that made it.
    """

    model_id: ModelId
    account_id: AccountId
    territory_id: TerritoryId
    cause: Cause
    source: str | None = None
    start_date: date | None = None
    end_date: date | None = None
