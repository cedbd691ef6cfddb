"""Point-in-county search of account placement, on two unit squares::

lat 1 +---------+---------+
      |  01001  |  01003  |
lat 0 +---------+---------+
    lon 0     lon 1     lon 2
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import shapely

from territory.services.placement import PlacementSources, _counties_at

WEST = shapely.to_wkb(shapely.box(0, 0, 1, 1))
EAST = shapely.to_wkb(shapely.box(1, 0, 2, 1))


@pytest.mark.parametrize(
    ("ids", "wkb"),
    [(["01001", "01003"], [WEST, EAST]), (["01003", "01001"], [EAST, WEST])],
)
def test_counties_at_interior_border_and_outside_points(
    ids: list[str], wkb: list[bytes]
) -> None:
    sources = PlacementSources(pl.DataFrame(), ids, wkb, "none")
    # (lat, lon): inside west, inside east, shared border, shared corner,
    # west edge, beyond the east edge, south of both.
    lat = np.array([0.5, 0.25, 0.5, 1.0, 0.5, 0.5, -0.1])
    lon = np.array([0.5, 1.75, 1.0, 1.0, 0.0, 2.5, 0.5])
    got = _counties_at(lat, lon, sources).to_list()
    # A point on the border of both squares goes to the smaller id,
    # whatever order the polygons come in.
    assert got == ["01001", "01003", "01001", "01001", "01001", None, None]


def test_counties_at_without_polygons_or_points() -> None:
    none = PlacementSources(pl.DataFrame(), [], [], "none")
    assert _counties_at(np.array([0.5]), np.array([0.5]), none).to_list() == [None]
    two = PlacementSources(pl.DataFrame(), ["01001"], [WEST], "none")
    assert _counties_at(np.array([]), np.array([]), two).to_list() == []
