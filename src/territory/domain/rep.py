"""Rep (a user who works territories) and their membership in territories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from territory.domain.geo_unit import check_lat_lon
from territory.domain.ids import ModelId, RepId, TerritoryId
from territory.errors import InputError

__all__ = ["Membership", "Rep", "Role"]


class Role(StrEnum):
    """A rep's role in a territory."""

    OWNER = "owner"
    OVERLAY = "overlay"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Rep:
    """A sales rep; ``capacity`` is in hours per year (or a relative FTE share)."""

    id: RepId
    name: str
    email: str | None = None
    home_lat: float | None = None
    home_lon: float | None = None
    capacity: float | None = None
    active: bool = True

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("A rep needs a non-empty id.", code="rep_id")
        if self.home_lat is not None and self.home_lon is not None:
            check_lat_lon(self.home_lat, self.home_lon, f"of rep {self.id} ")
        if self.capacity is not None and self.capacity < 0:
            raise InputError(
                f"Rep '{self.id}' has negative capacity {self.capacity}.",
                code="rep_capacity",
            )


@dataclass(frozen=True, slots=True)
class Membership:
    """A rep attached to a territory in a model with a role and effective dates."""

    model_id: ModelId
    territory_id: TerritoryId
    rep_id: RepId
    role: Role = Role.OWNER
    start_date: date | None = None
    end_date: date | None = None

    def __post_init__(self) -> None:
        if (
            self.start_date is not None
            and self.end_date is not None
            and self.end_date < self.start_date
        ):
            raise InputError(
                f"Membership of rep '{self.rep_id}' in '{self.territory_id}' ends "
                f"({self.end_date}) before it starts ({self.start_date}).",
                code="membership_dates",
            )
