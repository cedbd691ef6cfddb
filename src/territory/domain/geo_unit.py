"""GeoUnit: the smallest geographic block (county, ZIP code or custom area)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from territory.domain.ids import UnitId
from territory.errors import InputError

__all__ = ["Contiguity", "GeoUnit", "UnitKind", "check_lat_lon"]


class UnitKind(StrEnum):
    """What a geo unit is."""

    COUNTY = "county"
    ZIP = "zip"
    CUSTOM = "custom"


class Contiguity(StrEnum):
    """How neighbours are defined: shared border length (rook) or any touch (queen)."""

    QUEEN = "queen"
    ROOK = "rook"
    NONE = "none"


def check_lat_lon(lat: float, lon: float, where: str = "") -> None:
    """Raise ``InputError`` for coordinates outside the valid WGS84 range.

    Raises
    ------
    InputError
        When ``lat`` is outside [-90, 90] or ``lon`` outside [-180, 180];
        values are never swapped or clamped.
    """
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InputError(
            f"Latitude {lat} {where}is outside -90..90; check that latitude and "
            "longitude are not swapped.",
            code="bad_latitude",
        )
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InputError(
            f"Longitude {lon} {where}is outside -180..180.", code="bad_longitude"
        )


@dataclass(frozen=True, slots=True)
class GeoUnit:
    """A geographic unit.

    ``id`` is a string that keeps leading zeros (FIPS ``01001``, ZIP
    ``02134``). ``geometry_wkb`` holds the polygon in lon/lat (EPSG:4269 for
    Census counties); ``metrics`` maps a metric name such as ``population`` to
    its value.
    """

    id: UnitId
    kind: UnitKind
    name: str
    state: str
    centroid_lat: float
    centroid_lon: float
    geometry_wkb: bytes | None = None
    parent_id: UnitId | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InputError(
                f"Geo unit id {self.id!r} must be a non-empty string so leading "
                "zeros survive.",
                code="unit_id",
            )
        check_lat_lon(self.centroid_lat, self.centroid_lon, f"of unit {self.id} ")
