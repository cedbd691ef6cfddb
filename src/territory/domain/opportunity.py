"""Opportunity, its splits, sales history and quota."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from territory.domain.ids import (
    AccountId,
    ModelId,
    OpportunityId,
    RepId,
    TerritoryId,
)
from territory.errors import InputError

__all__ = ["Opportunity", "OpportunitySplit", "Quota", "SalesHistory"]


@dataclass(frozen=True, slots=True)
class OpportunitySplit:
    """Credit of an opportunity to a rep, as a percentage (0-100)."""

    rep_id: RepId
    percent: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.percent <= 100.0:
            raise InputError(
                f"Split for rep '{self.rep_id}' is {self.percent}%; splits are "
                "percentages between 0 and 100.",
                code="split_percent",
            )


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A sales opportunity on an account (amount in USD)."""

    id: OpportunityId
    account_id: AccountId
    amount: float
    stage: str
    close_date: date | None = None
    name: str = ""
    is_closed: bool = False
    is_won: bool = False
    territory_id: TerritoryId | None = None
    excluded_from_territory_assignment: bool = False
    splits: tuple[OpportunitySplit, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        total = sum(s.percent for s in self.splits)
        if self.splits and total > 100.0 + 1e-9:
            raise InputError(
                f"Opportunity '{self.id}' splits add up to {total}%; they may "
                "not exceed 100%.",
                code="split_total",
            )


@dataclass(frozen=True, slots=True)
class SalesHistory:
    """Sales booked on an account in a period (``2027``, ``2027-Q1``, ``2027-03``)."""

    account_id: AccountId
    period: str
    amount: float


@dataclass(frozen=True, slots=True)
class Quota:
    """A quota for a territory or a rep in a model and period (USD)."""

    model_id: ModelId
    period: str
    amount: float
    territory_id: TerritoryId | None = None
    rep_id: RepId | None = None

    def __post_init__(self) -> None:
        if (self.territory_id is None) == (self.rep_id is None):
            raise InputError(
                "A quota belongs to exactly one territory or one rep; give "
                "territory_id or rep_id, not both or neither.",
                code="quota_owner",
            )
