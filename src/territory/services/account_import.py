"""Import accounts: check them against the store and the map, place, upsert.

See :mod:`territory.services.importing` for the semantics every import
shares. On top of them an account import

* reads custom fields under the spelling the store already has (names
  ignore case, :func:`stored_custom_fields`) and names them in the report;
* refuses coordinates far from the account's postal place: more than
  :data:`~territory.services.placement.MAX_POSTAL_DISTANCE_KM` from its ZIP
  code's centroid, or, without a known ZIP, outside the box around its
  billing state's ZIP centroids by as much; the issue names both places and
  the distance, and says so when exchanging latitude and longitude would
  bring the point within the limit. Coordinates are never swapped silently;
* places every account (:mod:`territory.services.placement`), keeping an
  exported ``placed_by = zip`` when the coordinates are that ZIP's centroid,
  so an export imports back the same.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl
from sqlalchemy import Connection, select, text

from territory.errors import Issue
from territory.io.report import ImportReport
from territory.io.tabular import ROW_COLUMN
from territory.io.validation import BAD_COLUMN, Validated
from territory.services.import_support import (
    ImportContext,
    accept_rows,
    exists_mask,
    fill_defaults,
    stored_rows,
    write_rows,
)
from territory.services.placement import (
    MAX_POSTAL_DISTANCE_KM,
    PLACEMENT_COLUMNS,
    far_from_postal_place,
    load_placement_sources,
    place_accounts,
)
from territory.storage.tables import account

__all__ = ["import_accounts", "stored_custom_fields"]

#: Columns placement and its checks read: the file's, or the stored ones.
_PLACE_COLUMNS = {
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "billing_postal_code": pl.String,
    "billing_country": pl.String,
    "billing_state": pl.String,
}


def stored_custom_fields(conn: Connection) -> list[str]:
    """Return the names of the custom fields the store's accounts hold, sorted."""
    if conn.execute(select(account.c.id).limit(1)).first() is None:
        return []
    if conn.dialect.name == "postgresql":
        # The set-returning function in the select list runs on the rows the
        # WHERE keeps: twice as fast as a lateral join.
        keys = (
            "SELECT DISTINCT json_object_keys(custom_fields) FROM account "
            "WHERE json_typeof(custom_fields) = 'object'"
        )
    else:
        keys = (
            "SELECT DISTINCT j.key FROM account, json_each(account.custom_fields) "
            "AS j WHERE json_type(account.custom_fields) = 'object'"
        )
    return sorted(str(r[0]) for r in conn.execute(text(keys)))


def _effective(
    ctx: ImportContext, frame: pl.DataFrame, exists: pl.Series
) -> pl.DataFrame:
    """Return id and the placement columns each row will have after the import.

    The file's values, or the stored ones for columns the file leaves out.
    """
    have = [c for c in _PLACE_COLUMNS if c in frame.columns]
    missing = [c for c in _PLACE_COLUMNS if c not in frame.columns]
    effective = frame.select("id", *have)
    if not missing:
        return effective
    if bool(exists.any()):
        stored = stored_rows(
            ctx.conn,
            account,
            frame.filter(exists),
            ["id"],
            {c: _PLACE_COLUMNS[c] for c in missing},
        )
        return effective.join(stored, on="id", how="left", maintain_order="left")
    return effective.with_columns(
        pl.lit(None, dtype=_PLACE_COLUMNS[c]).alias(c) for c in missing
    )


def _far_issues(
    v: Validated, effective: pl.DataFrame, far: pl.DataFrame, zips: pl.Series
) -> Validated:
    """Refuse the rows whose coordinates lie far from their postal place."""
    if far.height == 0:
        return v
    at = far.get_column("row")
    picked = far.with_columns(
        v.frame.get_column(ROW_COLUMN).gather(at).alias(ROW_COLUMN),
        effective.get_column("latitude").gather(at).alias("_lat"),
        effective.get_column("longitude").gather(at).alias("_lon"),
        zips.gather(at).alias("_zip"),
    )
    limit = f"{MAX_POSTAL_DISTANCE_KM:,.0f} km"
    issues = []
    for r in picked.iter_rows(named=True):
        lat, lon = r["_lat"], r["_lon"]
        here = f"({lat:g}, {lon:g})"
        there = f"({r['ref_lat']:g}, {r['ref_lon']:g})"
        if r["against"] == "zip":
            problem = (
                f"latitude/longitude {here} lie {r['distance_km']:,.0f} km from the "
                f"centroid {there} of ZIP code {r['_zip']}, more than the {limit} "
                "a ZIP code may be from its account"
            )
            place = f"ZIP code {r['_zip']}"
        else:
            problem = (
                f"latitude/longitude {here} lie {r['distance_km']:,.0f} km outside "
                f"billing state {r['state']} (nearest point of the state's extent "
                f"{there}), more than the {limit} allowed"
            )
            place = f"state {r['state']}"
        swapped = r["swapped_km"]
        if swapped is not None and swapped <= MAX_POSTAL_DISTANCE_KM:
            hint = (
                f"latitude and longitude look swapped: ({lon:g}, {lat:g}) lies "
                f"{swapped:,.0f} km from {place}; put the latitude in the latitude "
                "column (GeoJSON points are [longitude, latitude]) and import "
                "again. territory never swaps them itself"
            )
        else:
            what = "ZIP code" if r["against"] == "zip" else "billing state"
            hint = (
                f"correct the coordinates or the {what}, or leave latitude and "
                "longitude blank to place the account by its postal code"
            )
        issues.append(
            Issue(
                problem=problem,
                hint=hint,
                file=v.file,
                row=r[ROW_COLUMN],
                field="latitude",
            )
        )
    bad = pl.repeat(False, v.n_rows, dtype=pl.Boolean, eager=True).scatter(at, True)
    frame = v.frame.with_columns((pl.col(BAD_COLUMN) | bad).alias(BAD_COLUMN))
    return replace(v, frame=frame, issues=[*v.issues, *issues])


def import_accounts(ctx: ImportContext) -> ImportReport:
    """Import the accounts of ``ctx``; see the module docstring."""
    v = ctx.validated
    if v.fatal:
        accept_rows(ctx)  # refuses the file
    frame = v.frame
    exists_all = exists_mask(ctx.conn, account, frame, ["id"])
    effective = _effective(ctx, frame, exists_all)
    has_coords = effective.select(
        (pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null()).any()
    ).item()
    need_zips = bool(
        effective.get_column("billing_postal_code").is_not_null().any()
        or (has_coords and effective.get_column("billing_state").is_not_null().any())
    )
    sources = load_placement_sources(
        ctx.conn, need_zips=need_zips, read_zip_directory=ctx.read_zip_directory
    )
    placed = place_accounts(
        effective.get_column("latitude"),
        effective.get_column("longitude"),
        effective.get_column("billing_postal_code"),
        effective.get_column("billing_country"),
        sources,
        zip_claimed=(
            frame.get_column("placed_by").str.to_lowercase() == "zip"
            if "placed_by" in frame.columns
            else None
        ),
    )
    if has_coords:
        checks = far_from_postal_place(
            effective.get_column("latitude"),
            effective.get_column("longitude"),
            placed,
            effective.get_column("billing_state"),
            effective.get_column("billing_country"),
            sources,
        )
        ctx.validated = v = _far_issues(v, effective, checks, placed["zip_id"])
    good, skipped = accept_rows(ctx)
    keep = ~v.frame.get_column(BAD_COLUMN)
    if not keep.all():
        placed = placed.filter(keep)
        exists = exists_all.filter(keep)
    else:
        exists = exists_all
    good = fill_defaults(good, v.schema)
    columns: dict[str, Any] = {name: good.get_column(name) for name in v.present}
    for name in PLACEMENT_COLUMNS:
        columns[name] = placed.get_column(name)
    if v.extras:
        columns["custom_fields"] = good.select(
            pl.struct(
                [pl.col(c).cast(pl.String) for c in v.extras]
            ).struct.json_encode()
        ).to_series()
    columns["created_at"] = ctx.now
    columns["updated_at"] = ctx.now
    update = [c for c in columns if c not in ("id", "created_at")]
    # A stored account keeps the custom fields the file does not name: the
    # stored objects are merged key by key, unless the file names every
    # custom field the store holds and replacing them is the same.
    others = {c.lower() for c in ctx.stored_custom} - {c.lower() for c in v.extras}
    merge = {"custom_fields": v.extras} if v.extras and others else None
    n_new, n_old = write_rows(
        ctx.conn,
        account,
        columns,
        exists,
        update=update,
        on_progress=ctx.on_progress,
        merge_keys=merge,
    )
    placement = dict(placed.get_column("placed_by").value_counts().iter_rows())
    unplaced = good.get_column("id").filter(
        placed.get_column("placed_by") == "unplaced"
    )
    notes = []
    if v.extras:
        notes.append("custom fields: " + ", ".join(v.extras))
    for written, stored in v.stored_spelling:
        notes.append(
            f"column '{written}' is the stored custom field '{stored}' (custom "
            "field names ignore case; the stored spelling is kept)"
        )
    if sources.zip_source != "none":
        notes.append(f"ZIP codes looked up in the {sources.zip_source}")
    if not sources.county_ids:
        notes.append(
            "no county polygons in the store: accounts with coordinates get the "
            "county of their ZIP code (load counties with `territory data load-us`)"
        )
    return ImportReport(
        entity="accounts",
        file=ctx.file,
        rows_read=v.n_rows,
        rows_inserted=n_new,
        rows_updated=n_old,
        rows_skipped=v.n_bad,
        skipped=skipped,
        placement=placement,
        unplaced=tuple(unplaced.sort().to_list()),
        notes=tuple(notes),
    )
