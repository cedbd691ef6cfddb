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


def test_far_points_are_found_whatever_the_shortcut_skips() -> None:
    """Every point over 250 km from its ZIP centroid is reported, no other.

    The search computes distances only outside a box of 250 / (111.195 *
    sqrt 2) degrees around the centroid; here 4,000 seeded points up to 4
    degrees off centroids from the equator to 85 degrees north are checked
    against the great-circle distance of every one of them.
    """
    from territory.services.placement import far_from_postal_place

    rng = np.random.default_rng(11)
    n = 4_000
    zip_lat = rng.uniform(-85, 85, n)
    zip_lon = rng.uniform(-170, 170, n)
    lat = np.clip(zip_lat + rng.uniform(-4, 4, n), -90, 90)
    lon = zip_lon + rng.uniform(-4, 4, n)
    placed = pl.DataFrame({"zip_lat": zip_lat, "zip_lon": zip_lon})
    sources = PlacementSources(pl.DataFrame(), [], [], "none")
    far = far_from_postal_place(
        pl.Series(lat), pl.Series(lon), placed, None, None, sources
    )
    p1, p2 = np.radians(lat), np.radians(zip_lat)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(zip_lon - lon) / 2) ** 2
    )
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(a))
    assert far.get_column("row").to_list() == np.flatnonzero(km > 250).tolist()
    assert np.allclose(far.get_column("distance_km").to_numpy(), km[km > 250])
    assert 0 < far.height < n  # both kinds are drawn
