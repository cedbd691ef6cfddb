"""Where an account is, for measuring: its effective location.

Accounts placed by their ZIP code or county (``placed_by = zip`` or
``county``) keep ``latitude`` and ``longitude`` empty: coordinates the user
did not give are never written back. Every measure that needs a place —
staffing distances, travel in the workload, compactness, maps — uses the
account's **effective location** instead:

1. its own coordinates (``located_by = coordinates``), else
2. the centroid of its ZIP unit in the store (``zip``; ZIP units are loaded
   with ``territory data load-us --level zip``), else
3. the centroid of its county unit in the store (``county``), else
4. none (``located_by`` null): the account adds no travel and no
   compactness, and the commands that measure say how many there are.

The centroids come from the ``geo_unit`` table, read once (only the units
of the accounts that need one) and joined in memory. A plan read by
:func:`territory.services.plan.load_plan` already carries the effective
location; frames from :func:`territory.services.plan.read_accounts` get it
from :func:`with_effective_location`.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from sqlalchemy import Connection, select

from territory.services.reading import read_frame
from territory.storage import tables as t

__all__ = [
    "LOCATED_BY",
    "LocatedBy",
    "describe_unlocated",
    "unit_centroids",
    "with_effective_location",
]

#: Where an effective location comes from, best first.
LOCATED_BY: tuple[str, ...] = ("coordinates", "zip", "county")
#: The dtype of the ``located_by`` column (null: no location at all).
LocatedBy = pl.Enum(list(LOCATED_BY))


def unit_centroids(
    conn: Connection, kind: str, unit_ids: Sequence[str]
) -> pl.DataFrame:
    """Return ``unit_id, c_lat, c_lon`` of the stored units of ``kind`` named.

    Ids the store does not hold are left out. Reads in chunks of 500 ids, so
    a few thousand accounts without coordinates cost a handful of lookups.
    """
    g = t.geo_unit
    schema = {"unit_id": pl.String, "c_lat": pl.Float64, "c_lon": pl.Float64}
    ids = sorted({u for u in unit_ids if u is not None})
    frames = [
        read_frame(
            conn,
            select(g.c.id, g.c.centroid_lat, g.c.centroid_lon).where(
                (g.c.kind == kind) & g.c.id.in_(ids[k : k + 500])
            ),
            schema,
        )
        for k in range(0, len(ids), 500)
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def with_effective_location(conn: Connection, frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with ``latitude, longitude`` as the effective location.

    ``frame`` holds ``latitude, longitude, county_id`` and, when known,
    ``zip_id`` (one row per account or per assignment, any order, which is
    kept). Rows without both coordinates take their ZIP unit's centroid,
    else their county unit's; ``located_by`` (:data:`LocatedBy`) says which,
    null where there is none. A frame whose rows all have coordinates is
    returned with only the ``located_by`` column added (nothing is read).
    """
    has = pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null()
    missing = frame.height - frame.select(has.sum()).item() if frame.height else 0
    if missing == 0:
        return frame.with_columns(
            pl.lit("coordinates", dtype=LocatedBy).alias("located_by")
        )
    need = frame.filter(~has)
    sources: list[tuple[str, str]] = []
    if "zip_id" in frame.columns:
        sources.append(("zip", "zip_id"))
    sources.append(("county", "county_id"))
    out = frame.with_columns(
        pl.when(has).then(pl.lit("coordinates")).cast(LocatedBy).alias("located_by")
    )
    for kind, column in sources:
        ids = need[column].drop_nulls().unique().to_list()
        centres = unit_centroids(conn, kind, ids) if ids else None
        if centres is None or centres.height == 0:
            continue
        out = (
            out.join(
                centres.rename({"unit_id": column}),
                on=column,
                how="left",
                maintain_order="left",
            )
            .with_columns(
                fill=pl.col("located_by").is_null() & pl.col("c_lat").is_not_null()
            )
            .with_columns(
                pl.when("fill")
                .then(pl.col("c_lat"))
                .otherwise(pl.col("latitude"))
                .alias("latitude"),
                pl.when("fill")
                .then(pl.col("c_lon"))
                .otherwise(pl.col("longitude"))
                .alias("longitude"),
                pl.when("fill")
                .then(pl.lit(kind, dtype=LocatedBy))
                .otherwise(pl.col("located_by"))
                .alias("located_by"),
            )
            .drop("c_lat", "c_lon", "fill")
        )
    return out


def describe_unlocated(frame: pl.DataFrame, what: str) -> str | None:
    """Return a note counting the accounts of ``frame`` without any location.

    ``frame`` carries ``account_id`` and ``located_by``; ``what`` says what
    they are left out of (for example ``"travel and compactness"``). None
    when every account has a location.
    """
    if "located_by" not in frame.columns or frame["located_by"].null_count() == 0:
        return None
    lost = frame.filter(pl.col("located_by").is_null())
    ids = lost["account_id"].unique(maintain_order=True)
    shown = ", ".join(ids.head(5).to_list()) + (" ..." if ids.len() > 5 else "")
    return (
        f"{ids.len():,} accounts have no location (no coordinates, and no ZIP or "
        f"county unit in the store with a centroid): they are left out of {what} "
        f"({shown}); give them coordinates or load their geo units"
    )
