"""Place accounts on the map: the county and ZIP unit each account lies in.

An account with coordinates is placed by them (``placed_by = coordinates``):
its county is the county polygon holding the point, found with a shapely
STRtree over the county geometries in the store. When the store has no
county geometries, or the point falls outside every polygon (offshore), the
county of the account's ZIP code is used instead.

An account without coordinates is placed by its postal code: at the ZIP
centroid when the ZIP directory knows it (``placed_by = zip``), else in the
ZIP's county when only that is known (``county``). Accounts that cannot be
placed are ``unplaced`` and reported by id, never dropped. Coordinates are
never written back: latitude and longitude stay what the user gave.

The ZIP directory comes from the store's ZIP units (``territory data load-us
--level zip``) when present, else from the packaged directory
(:func:`territory.io.usdata.read_zip_directory`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Connection, select

from territory.domain import Placement
from territory.storage.tables import geo_unit

__all__ = [
    "PlacementSources",
    "load_placement_sources",
    "place_accounts",
]

_log = logging.getLogger(__name__)

ZipDirectoryReader = Callable[[], pl.DataFrame]


@dataclass(frozen=True, slots=True)
class PlacementSources:
    """What placement looks accounts up in.

    ``zips`` has columns ``zip``, ``lat``, ``lon``, ``county_fips`` (one row
    per ZIP); ``county_ids`` and ``county_wkb`` hold the county polygons
    (lon/lat WKB), empty when the store has none. ``zip_source`` says where
    the ZIP directory came from.
    """

    zips: pl.DataFrame
    county_ids: list[str]
    county_wkb: list[bytes]
    zip_source: str


_ZIP_SCHEMA = {
    "zip": pl.String,
    "lat": pl.Float64,
    "lon": pl.Float64,
    "county_fips": pl.String,
}


def _default_zip_directory() -> pl.DataFrame:
    from territory.io.usdata import read_zip_directory

    return read_zip_directory()


def load_placement_sources(
    conn: Connection,
    *,
    need_zips: bool = True,
    read_zip_directory: ZipDirectoryReader | None = None,
) -> PlacementSources:
    """Read the ZIP directory and county polygons placement needs.

    ``read_zip_directory`` replaces the packaged directory reader (tests pass
    a small frame); it is called only when the store has no ZIP units and
    ``need_zips`` holds.
    """
    rows = conn.execute(
        select(
            geo_unit.c.id,
            geo_unit.c.centroid_lat,
            geo_unit.c.centroid_lon,
            geo_unit.c.parent_id,
        ).where(geo_unit.c.kind == "zip")
    ).all()
    if rows:
        ids, lats, lons, parents = zip(*rows, strict=True)
        zips = pl.DataFrame(
            {"zip": ids, "lat": lats, "lon": lons, "county_fips": parents},
            schema=_ZIP_SCHEMA,
        )
        source = "store ZIP units"
    elif need_zips:
        reader = read_zip_directory or _default_zip_directory
        raw = reader()
        zips = raw.select(
            pl.col("zip").cast(pl.String),
            pl.col("lat").cast(pl.Float64),
            pl.col("lon").cast(pl.Float64),
            pl.col("county_fips").cast(pl.String),
        ).unique("zip", keep="first", maintain_order=True)
        source = "packaged ZIP directory"
    else:
        zips = pl.DataFrame(schema=_ZIP_SCHEMA)
        source = "none"
    county_rows = conn.execute(
        select(geo_unit.c.id, geo_unit.c.geometry)
        .where(geo_unit.c.kind == "county", geo_unit.c.geometry.is_not(None))
        .order_by(geo_unit.c.id)
    ).all()
    return PlacementSources(
        zips=zips,
        county_ids=[r[0] for r in county_rows],
        county_wkb=[bytes(r[1]) for r in county_rows],
        zip_source=source,
    )


def _counties_at(
    lat: np.ndarray, lon: np.ndarray, sources: PlacementSources
) -> list[str | None]:
    """Return the county id holding each point (None outside every county)."""
    import shapely

    out: list[str | None] = [None] * len(lat)
    if not sources.county_ids or len(lat) == 0:
        return out
    polygons = shapely.from_wkb(sources.county_wkb)
    shapely.prepare(polygons)
    tree = shapely.STRtree(polygons)
    points = shapely.points(lon, lat)
    pairs = tree.query(points, predicate="intersects")
    if pairs.shape[1] == 0:
        return out
    # A point on a shared border touches two counties: the smaller id wins,
    # so placement does not depend on polygon order.
    ids = np.asarray(sources.county_ids, dtype=object)
    hit = (
        pl.DataFrame(
            {"point": pairs[0], "county": ids[pairs[1]].tolist()},
            schema={"point": pl.Int64, "county": pl.String},
        )
        .group_by("point")
        .agg(pl.col("county").min())
    )
    for p, c in hit.iter_rows():
        out[p] = c
    return out


def place_accounts(
    latitude: pl.Series,
    longitude: pl.Series,
    postal_code: pl.Series,
    country: pl.Series | None,
    sources: PlacementSources,
) -> pl.DataFrame:
    """Return ``county_id``, ``zip_id`` and ``placed_by`` for each account.

    Parameters
    ----------
    latitude, longitude
        Degrees (null when unknown), shape ``(n_accounts,)``.
    postal_code
        Billing postal codes as text; a US ZIP (``02134`` or ZIP+4
        ``02134-1234``) is looked up by its first five digits.
    country
        Billing countries; a postal code is read as a US ZIP only when the
        country is blank or the United States.
    """
    n = len(latitude)
    zip5 = postal_code.str.extract(r"^(\d{5})(?:-\d{4})?$")
    if country is not None:
        low = country.str.to_lowercase()
        us = low.is_null() | low.is_in(
            ["us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"]
        )
        zip5 = pl.select(pl.when(us).then(zip5).otherwise(None)).to_series()
    frame = (
        pl.DataFrame(
            {
                "_i": np.arange(n, dtype=np.int64),
                "lat": latitude.cast(pl.Float64),
                "lon": longitude.cast(pl.Float64),
                "zip5": zip5.cast(pl.String),
            }
        )
        .join(
            sources.zips.rename({"lat": "zip_lat", "lon": "zip_lon"}),
            left_on="zip5",
            right_on="zip",
            how="left",
            coalesce=False,
        )
        .sort("_i")
    )
    has_coords = (frame["lat"].is_not_null() & frame["lon"].is_not_null()).to_numpy()
    zip_known = frame["zip"].is_not_null().to_numpy()
    zip_centroid = (
        frame["zip_lat"].is_not_null() & frame["zip_lon"].is_not_null()
    ).to_numpy()
    zip_county = frame["county_fips"].to_list()
    county: list[str | None] = list(zip_county)
    if sources.county_ids:
        # Coordinates first; accounts placed at a ZIP centroid whose county the
        # directory does not know get the county holding that centroid.
        lat = np.where(has_coords, frame["lat"].to_numpy(), frame["zip_lat"].to_numpy())
        lon = np.where(has_coords, frame["lon"].to_numpy(), frame["zip_lon"].to_numpy())
        ask = has_coords | (zip_centroid & frame["county_fips"].is_null().to_numpy())
        idx = np.flatnonzero(ask)
        found = _counties_at(lat[idx], lon[idx], sources)
        for i, c in zip(idx.tolist(), found, strict=True):
            if c is not None:
                county[i] = c
    placed = np.where(
        has_coords,
        Placement.COORDINATES,
        np.where(
            zip_known & zip_centroid,
            Placement.ZIP,
            np.where(
                zip_known & frame["county_fips"].is_not_null().to_numpy(),
                Placement.COUNTY,
                Placement.UNPLACED,
            ),
        ),
    )
    unplaced = placed == Placement.UNPLACED
    county_out = [
        None if u else c for c, u in zip(county, unplaced.tolist(), strict=True)
    ]
    return pl.DataFrame(
        {
            "county_id": pl.Series(county_out, dtype=pl.String),
            "zip_id": frame["zip"].cast(pl.String),
            "placed_by": pl.Series(placed.tolist(), dtype=pl.String),
        }
    )
