"""Account: a customer or prospect that territories cover."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from territory.domain.geo_unit import check_lat_lon
from territory.domain.ids import AccountId, UnitId
from territory.errors import InputError

__all__ = ["ACCOUNT_FIELDS", "Account", "Placement"]

#: Snake-case field names, as used in files and rules.
ACCOUNT_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_postal_code",
    "billing_country",
    "industry",
    "annual_revenue",
    "employees",
    "latitude",
    "longitude",
    "county_id",
    "zip_id",
    "excluded_from_realign",
)


class Placement:
    """How an account was placed on the map (values of ``placed_by``)."""

    COORDINATES = "coordinates"
    ZIP = "zip"
    COUNTY = "county"
    UNPLACED = "unplaced"


@dataclass(frozen=True, slots=True)
class Account:
    """An account. ``billing_postal_code`` is always a string (``02134``).

    ``county_id`` and ``zip_id`` are the geo units the account lies in;
    ``placed_by`` says whether they came from its coordinates, its ZIP
    centroid or only its county, or that it could not be placed.
    """

    id: AccountId
    name: str
    billing_street: str | None = None
    billing_city: str | None = None
    billing_state: str | None = None
    billing_postal_code: str | None = None
    billing_country: str | None = None
    industry: str | None = None
    annual_revenue: float | None = None
    employees: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    county_id: UnitId | None = None
    zip_id: UnitId | None = None
    placed_by: str = Placement.UNPLACED
    excluded_from_realign: bool = False
    is_sample: bool = False
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("An account needs a non-empty id.", code="account_id")
        if self.billing_postal_code is not None and not isinstance(
            self.billing_postal_code, str
        ):
            raise InputError(
                f"Account '{self.id}': postal code must be text, got "
                f"{type(self.billing_postal_code).__name__}; keep leading zeros "
                "by reading it as a string.",
                code="postal_code_type",
            )
        if (self.latitude is None) != (self.longitude is None):
            raise InputError(
                f"Account '{self.id}' has only one of latitude and longitude; "
                "give both or neither.",
                code="partial_coordinates",
            )
        if self.latitude is not None and self.longitude is not None:
            check_lat_lon(self.latitude, self.longitude, f"of account {self.id} ")
