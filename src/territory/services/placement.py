"""Place accounts on the map: the county and ZIP unit each account lies in.

An account with coordinates is placed by them (``placed_by = coordinates``):
its county is the county polygon holding the point (the smaller id on a
shared border), found by testing each prepared county geometry in the store
against the points of its bounding box. When the store has no county
geometries, or the point falls outside every polygon (offshore), the county
of the account's ZIP code is used instead.

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
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, select

from territory.domain import Placement
from territory.services.reading import read_frame
from territory.storage.tables import geo_unit

__all__ = [
    "MAX_POSTAL_DISTANCE_KM",
    "PLACEMENT_COLUMNS",
    "PlacementSources",
    "far_from_postal_place",
    "load_placement_sources",
    "place_accounts",
]

_log = logging.getLogger(__name__)

ZipDirectoryReader = Callable[[], pl.DataFrame]

#: Billing countries (lower case) under which a postal code is a US ZIP.
_US_NAMES = ["us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"]


@dataclass(frozen=True, slots=True)
class PlacementSources:
    """What placement looks accounts up in.

    ``zips`` has columns ``zip``, ``lat``, ``lon``, ``county_fips`` and
    ``state`` (postal code, null when unknown; one row per ZIP);
    ``county_ids`` and ``county_wkb`` hold the county polygons (lon/lat WKB),
    empty when the store has none. ``zip_source`` says where
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
    "state": pl.String,
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
    # Tens of thousands of ZIP units: read through the raw cursor.
    stored = read_frame(
        conn,
        select(
            geo_unit.c.id,
            geo_unit.c.centroid_lat,
            geo_unit.c.centroid_lon,
            geo_unit.c.parent_id,
            geo_unit.c.state,
        ).where(geo_unit.c.kind == "zip"),
        _ZIP_SCHEMA,
    )
    if stored.height:
        zips = stored
        source = "store ZIP units"
    elif need_zips:
        reader = read_zip_directory or _default_zip_directory
        raw = reader()
        zips = raw.select(
            pl.col("zip").cast(pl.String),
            pl.col("lat").cast(pl.Float64),
            pl.col("lon").cast(pl.Float64),
            pl.col("county_fips").cast(pl.String),
            (
                pl.col("state").cast(pl.String)
                if "state" in raw.columns
                else pl.lit(None, dtype=pl.String).alias("state")
            ),
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
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    sources: PlacementSources,
) -> pl.Series:
    """Return the county id holding each point (null outside every county).

    The points are sorted by longitude once; each prepared county polygon
    then tests, with ``shapely.intersects_xy``, only the points of its
    bounding box (a binary search for the longitude band, a comparison for
    the latitudes), so no point geometry is ever built. A point on a shared
    border touches two counties: the smaller id wins, so placement does not
    depend on polygon order. 800,000 accounts on the 3,142 US counties take
    about half a second.
    """
    import shapely

    n = len(lat)
    if not sources.county_ids or n == 0:
        return pl.repeat(None, n, dtype=pl.String, eager=True).alias("county")
    keys = pl.Series("county", sources.county_ids, dtype=pl.String)
    by_id = keys.arg_sort().to_numpy()
    ids = keys.gather(by_id)
    polygons = shapely.from_wkb(sources.county_wkb)[by_id]
    shapely.prepare(polygons)
    bounds = shapely.bounds(polygons)
    order = np.argsort(lon, kind="stable")
    xs, ys = lon[order], lat[order]
    first = np.searchsorted(xs, bounds[:, 0], side="left")
    last = np.searchsorted(xs, bounds[:, 2], side="right")
    m = len(polygons)
    # best[j]: the smallest polygon index holding sorted point j (m: none).
    best = np.full(n, m, dtype=np.int64)
    for k in np.flatnonzero(last > first).tolist():
        band = ys[first[k] : last[k]]
        idx = np.flatnonzero((band >= bounds[k, 1]) & (band <= bounds[k, 3]))
        if idx.size == 0:
            continue
        idx += first[k]
        inside = idx[shapely.intersects_xy(polygons[k], xs[idx], ys[idx])]
        best[inside] = np.minimum(best[inside], k)
    held = np.full(n, m, dtype=np.int64)
    held[order] = best
    found = np.flatnonzero(held < m)
    return (
        pl.repeat(None, n, dtype=pl.String, eager=True)
        .alias("county")
        .scatter(found, ids.gather(held[found]))
    )


def place_accounts(
    latitude: pl.Series,
    longitude: pl.Series,
    postal_code: pl.Series,
    country: pl.Series | None,
    sources: PlacementSources,
    *,
    zip_claimed: pl.Series | None = None,
) -> pl.DataFrame:
    """Return ``county_id``, ``zip_id`` and ``placed_by`` for each account.

    Also ``zip_lat`` and ``zip_lon``, the centroid of the account's ZIP code
    (null when the directory has none), for the checks of
    :func:`far_from_postal_place`. The ZIP codes are looked up with one join
    against the ZIP directory; only accounts whose county a polygon decides
    reach the point-in-polygon search.

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
    zip_claimed
        Accounts an earlier placement put at their ZIP centroid (an export's
        ``placed_by = zip``): when their coordinates are that centroid (to
        :data:`SAME_POINT_DEG`), they were filled in from the ZIP, not
        measured, and the account stays placed by its ZIP.
    """
    n = len(latitude)
    zip5 = pl.col("postal").str.extract(r"^(\d{5})(?:-\d{4})?$")
    if country is not None:
        low = pl.col("country").str.to_lowercase()
        zip5 = pl.when(low.is_null() | low.is_in(_US_NAMES)).then(zip5)
    frame = (
        pl.DataFrame(
            {
                "lat": latitude.cast(pl.Float64),
                "lon": longitude.cast(pl.Float64),
                "postal": postal_code.cast(pl.String),
                "country": (
                    country.cast(pl.String)
                    if country is not None
                    else pl.repeat(None, n, dtype=pl.String, eager=True)
                ),
            }
        )
        .with_columns(zip5.alias("zip5"))
        .join(
            sources.zips.rename({"lat": "zip_lat", "lon": "zip_lon"}),
            left_on="zip5",
            right_on="zip",
            how="left",
            coalesce=False,
            maintain_order="left",
        )
        .with_columns(
            (pl.col("lat").is_not_null() & pl.col("lon").is_not_null()).alias(
                "has_coords"
            ),
            (pl.col("zip_lat").is_not_null() & pl.col("zip_lon").is_not_null()).alias(
                "zip_centroid"
            ),
        )
    )
    if zip_claimed is not None:
        at_centroid = (
            pl.lit(zip_claimed.fill_null(False))
            & pl.col("zip_centroid")
            & ((pl.col("lat") - pl.col("zip_lat")).abs() <= SAME_POINT_DEG)
            & ((pl.col("lon") - pl.col("zip_lon")).abs() <= SAME_POINT_DEG)
        ).fill_null(False)
        frame = frame.with_columns(
            (pl.col("has_coords") & ~at_centroid).alias("has_coords")
        )
    county = frame.get_column("county_fips")
    if sources.county_ids:
        # Coordinates first; accounts placed at a ZIP centroid whose county the
        # directory does not know get the county holding that centroid.
        ask = frame.select(
            pl.col("has_coords")
            | (pl.col("zip_centroid") & pl.col("county_fips").is_null())
        ).to_series()
        asked = frame.filter(ask).select(
            pl.when(pl.col("has_coords")).then(pl.col("lat")).otherwise("zip_lat"),
            pl.when(pl.col("has_coords")).then(pl.col("lon")).otherwise("zip_lon"),
        )
        found = _counties_at(
            asked.to_series(0).to_numpy(), asked.to_series(1).to_numpy(), sources
        )
        polygon = pl.repeat(None, n, dtype=pl.String, eager=True).scatter(
            ask.arg_true(), found
        )
        county = pl.select(pl.coalesce(polygon, county)).to_series()
    zip_known = pl.col("zip").is_not_null()
    placed_by = (
        pl.when(pl.col("has_coords"))
        .then(pl.lit(Placement.COORDINATES))
        .when(zip_known & pl.col("zip_centroid"))
        .then(pl.lit(Placement.ZIP))
        .when(zip_known & pl.col("county_fips").is_not_null())
        .then(pl.lit(Placement.COUNTY))
        .otherwise(pl.lit(Placement.UNPLACED))
    )
    return frame.with_columns(
        county.alias("_county"), placed_by.alias("placed_by")
    ).select(
        pl.when(pl.col("placed_by") != Placement.UNPLACED)
        .then(pl.col("_county"))
        .cast(pl.String)
        .alias("county_id"),
        pl.col("zip").cast(pl.String).alias("zip_id"),
        pl.col("placed_by").cast(pl.String),
        pl.col("zip_lat"),
        pl.col("zip_lon"),
    )


#: Placement columns of :func:`place_accounts` that the account table stores.
PLACEMENT_COLUMNS = ("county_id", "zip_id", "placed_by")

#: Farthest an account's coordinates may lie from its ZIP code's centroid, or
#: outside the extent of its billing state, before the import refuses them.
#: A ZIP code is a few km across in cities and rarely over 100 km in the West;
#: swapped or mistyped coordinates land hundreds or thousands of km away.
MAX_POSTAL_DISTANCE_KM = 250.0

#: Coordinates this close (degrees, about 0.1 m) to a ZIP centroid are that
#: centroid.
SAME_POINT_DEG = 1e-6

_EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEGREE = math.pi * _EARTH_RADIUS_KM / 180


def _haversine_km(
    lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr
) -> pl.Expr:
    """Great-circle distance in km between two columns of points (degrees)."""
    p1, p2 = lat1.radians(), lat2.radians()
    dlat = p2 - p1
    dlon = (lon2 - lon1).radians()
    a = (dlat / 2).sin().pow(2) + p1.cos() * p2.cos() * (dlon / 2).sin().pow(2)
    return 2 * _EARTH_RADIUS_KM * a.sqrt().clip(upper_bound=1.0).arcsin()


def _state_extents(sources: PlacementSources) -> pl.DataFrame:
    """Return each state's box around its ZIP centroids (``state``, ``s_*``)."""
    return (
        sources.zips.filter(
            pl.col("state").is_not_null()
            & pl.col("lat").is_not_null()
            & pl.col("lon").is_not_null()
        )
        .group_by("state")
        .agg(
            pl.col("lat").min().alias("s_lat0"),
            pl.col("lat").max().alias("s_lat1"),
            pl.col("lon").min().alias("s_lon0"),
            pl.col("lon").max().alias("s_lon1"),
        )
        .with_columns(pl.col("state").str.to_uppercase())
    )


def far_from_postal_place(
    latitude: pl.Series,
    longitude: pl.Series,
    placed: pl.DataFrame,
    state: pl.Series | None,
    country: pl.Series | None,
    sources: PlacementSources,
    *,
    max_km: float = MAX_POSTAL_DISTANCE_KM,
) -> pl.DataFrame:
    """Return the accounts whose coordinates lie over ``max_km`` from their postcode.

    The postal place is the centroid of the account's ZIP code when the
    directory knows it (``zip_lat``/``zip_lon`` of ``placed``, from
    :func:`place_accounts`), else the box around the ZIP centroids of its
    billing state (a US postal code such as ``GA``, any case, for a US or
    blank country). One row per far account: ``row`` (its position in the
    input), ``against`` (``zip`` or ``state``), ``ref_lat``/``ref_lon`` (the
    centroid, or the point of the state's box nearest the account),
    ``state``, ``distance_km`` and ``swapped_km`` (the same distance with
    latitude and longitude exchanged; null when the longitude is no
    latitude). Accounts without coordinates in range, or with nothing to
    compare them with, are never far.

    Only accounts farther than a cheap bound from their ZIP centroid have
    their great-circle distance computed: within ``max_km / (111.195 km *
    sqrt 2)`` degrees of latitude and of longitude, a point is within
    ``max_km`` anywhere on Earth.
    """
    n = len(latitude)
    null_text = pl.repeat(None, n, dtype=pl.String, eager=True)
    frame = pl.DataFrame(
        {
            "lat": latitude.cast(pl.Float64),
            "lon": longitude.cast(pl.Float64),
            "zip_lat": placed.get_column("zip_lat"),
            "zip_lon": placed.get_column("zip_lon"),
        }
    ).with_row_index("row")
    lat, lon = pl.col("lat"), pl.col("lon")
    valid = (
        lat.is_not_null()
        & lon.is_not_null()
        & lat.is_between(-90, 90)
        & lon.is_between(-180, 180)
    )
    by_zip = pl.col("zip_lat").is_not_null() & pl.col("zip_lon").is_not_null()
    sure = max_km / (_KM_PER_DEGREE * math.sqrt(2.0)) * 0.999
    near = ((lat - pl.col("zip_lat")).abs() <= sure) & (
        (lon - pl.col("zip_lon")).abs() <= sure
    )
    flags = frame.select(
        (valid & by_zip & ~near).fill_null(False).alias("zip"),
        (valid & ~by_zip).fill_null(False).alias("other"),
    )
    zip_rows = frame.filter(flags.get_column("zip")).with_columns(
        pl.lit("zip").alias("against"),
        pl.col("zip_lat").alias("ref_lat"),
        pl.col("zip_lon").alias("ref_lon"),
        pl.col("zip_lat").alias("swap_lat"),
        pl.col("zip_lon").alias("swap_lon"),
        pl.lit(None, dtype=pl.String).alias("state"),
    )
    parts = [zip_rows]
    other = flags.get_column("other")
    if state is not None and bool(other.any()):
        us = pl.col("country").is_null() | pl.col("country").is_in(_US_NAMES)
        box = ("s_lat0", "s_lat1", "s_lon0", "s_lon1")
        states = (
            frame.filter(other)
            .with_columns(
                state.filter(other)
                .cast(pl.String)
                .str.strip_chars()
                .str.to_uppercase()
                .alias("state"),
                (country if country is not None else null_text)
                .filter(other)
                .cast(pl.String)
                .str.to_lowercase()
                .alias("country"),
            )
            .filter(us & pl.col("state").is_not_null())
            .join(_state_extents(sources), on="state", how="inner")
            .with_columns(
                pl.lit("state").alias("against"),
                lat.clip(pl.col(box[0]), pl.col(box[1])).alias("ref_lat"),
                lon.clip(pl.col(box[2]), pl.col(box[3])).alias("ref_lon"),
                lon.clip(pl.col(box[0]), pl.col(box[1])).alias("swap_lat"),
                lat.clip(pl.col(box[2]), pl.col(box[3])).alias("swap_lon"),
            )
            .drop("country", *box)
        )
        parts.append(states.select(zip_rows.columns))
    rows = pl.concat(parts)
    return (
        rows.with_columns(
            _haversine_km(lat, lon, pl.col("ref_lat"), pl.col("ref_lon")).alias(
                "distance_km"
            ),
            # Swapped, the longitude must still be a latitude.
            pl.when(lon.is_between(-90, 90))
            .then(_haversine_km(lon, lat, pl.col("swap_lat"), pl.col("swap_lon")))
            .alias("swapped_km"),
        )
        .filter(pl.col("distance_km") > max_km)
        .sort("row")
        .select(
            pl.col("row").cast(pl.Int64),
            "against",
            "ref_lat",
            "ref_lon",
            "state",
            "distance_km",
            "swapped_km",
        )
    )
