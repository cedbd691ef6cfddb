"""Importers of the catalogue: reps, units, opportunities and sales.

See :mod:`territory.services.importing` for the semantics every import shares;
accounts are imported by :mod:`territory.services.account_import`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl
from sqlalchemy import Connection

from territory.errors import Issue
from territory.io.report import ImportReport
from territory.io.tabular import ROW_COLUMN
from territory.io.validation import (
    BAD_COLUMN,
    Validated,
    check_references,
    flag_rows,
)
from territory.services.import_support import (
    ImportContext,
    accept_rows,
    exists_mask,
    file_values,
    fill_defaults,
    known_ids,
    model_of,
    write_rows,
)
from territory.storage.bulk import insert_columns, upsert_columns
from territory.storage.tables import (
    account,
    geo_unit,
    geo_unit_metric,
    opportunity,
    opportunity_split,
    opportunity_territory,
    rep,
    sales_history,
    territory,
)

__all__ = [
    "import_opportunities",
    "import_reps",
    "import_sales",
    "import_units",
]

# --------------------------------------------------------------------- reps


def import_reps(ctx: ImportContext) -> ImportReport:
    good, skipped = accept_rows(ctx)
    v = ctx.validated
    good = fill_defaults(good, v.schema)
    columns = {name: good.get_column(name) for name in v.present}
    exists = exists_mask(ctx.conn, rep, good, ["id"])
    n_new, n_old = write_rows(
        ctx.conn, rep, columns, exists, update=[c for c in v.present if c != "id"]
    )
    return ImportReport("reps", ctx.file, v.n_rows, n_new, n_old, v.n_bad, skipped)


# -------------------------------------------------------------------- units


def _check_unit_geometry(ctx: ImportContext) -> Validated:
    import shapely

    v = ctx.validated
    frame = v.frame
    has_geom = "geometry" in frame.columns
    has_centroid = "centroid_lat" in frame.columns and "centroid_lon" in frame.columns
    centroid_given = (
        frame.get_column("centroid_lat").is_not_null()
        if has_centroid
        else pl.Series([False] * frame.height)
    )
    geom_given = (
        frame.get_column("geometry").is_not_null()
        if has_geom
        else pl.Series([False] * frame.height)
    )
    v = flag_rows(
        v,
        ~centroid_given & ~geom_given,
        "centroid_lat",
        "the unit has neither a centroid nor a geometry",
        "give centroid_lat and centroid_lon, or a geometry",
    )
    if has_geom and bool(geom_given.any()):
        geoms = shapely.from_wkb(frame.get_column("geometry").to_list())
        bounds = shapely.bounds(geoms)
        with_geom = geom_given.to_numpy()
        out = with_geom & (
            (bounds[:, 0] < -180)
            | (bounds[:, 2] > 180)
            | (bounds[:, 1] < -90)
            | (bounds[:, 3] > 90)
        )
        v = flag_rows(
            v,
            pl.Series(out),
            "geometry",
            "geometry coordinates are outside the longitude/latitude range",
            "the geometry must be in longitude/latitude degrees (EPSG:4326 or "
            "EPSG:4269); reproject it before importing, territory never does",
        )
    return v


def import_units(ctx: ImportContext) -> ImportReport:
    import shapely

    ctx.validated = _check_unit_geometry(ctx)
    good, skipped = accept_rows(ctx)
    v = ctx.validated
    columns: dict[str, Any] = {name: good.get_column(name) for name in v.present}
    if "geometry" in good.columns:
        wkb = good.get_column("geometry")
        columns["geometry"] = wkb
        geoms = shapely.from_wkb(wkb.to_list())
        cents = shapely.centroid(geoms)
        cx = pl.Series(shapely.get_x(cents)).fill_nan(None)
        cy = pl.Series(shapely.get_y(cents)).fill_nan(None)
        lat = columns.get("centroid_lat")
        lon = columns.get("centroid_lon")
        columns["centroid_lat"] = cy if lat is None else lat.fill_null(cy)
        columns["centroid_lon"] = cx if lon is None else lon.fill_null(cx)
    exists = exists_mask(ctx.conn, geo_unit, good, ["kind", "id"])
    n_new, n_old = write_rows(
        ctx.conn,
        geo_unit,
        columns,
        exists,
        update=[c for c in columns if c not in ("kind", "id")],
    )
    for metric in v.extras:
        values = good.select("kind", "id", metric).filter(pl.col(metric).is_not_null())
        if values.height:
            upsert_columns(
                ctx.conn,
                geo_unit_metric,
                {
                    "kind": values.get_column("kind"),
                    "unit_id": values.get_column("id"),
                    "metric": metric,
                    "value": values.get_column(metric),
                },
            )
    notes = (f"metrics: {', '.join(v.extras)}",) if v.extras else ()
    return ImportReport(
        "units", ctx.file, v.n_rows, n_new, n_old, v.n_bad, skipped, notes=notes
    )


def import_opportunities(ctx: ImportContext) -> ImportReport:
    conn = ctx.conn
    v = ctx.validated
    v = check_references(
        v,
        "account_id",
        known_ids(conn, account.c.id, among=file_values(v, "account_id")),
        what="account",
        hint="import the account first (territory import accounts FILE)",
    )
    model_id: str | None = None
    model_name: str | None = None
    frame = v.frame
    # territories route opportunities within one model: --model, or the
    # active one; blank territories clear the routing there
    if "territory_id" in frame.columns and (
        ctx.model is not None
        or bool(frame.get_column("territory_id").is_not_null().any())
    ):
        model_id, model_name = model_of(ctx, action="route opportunities")
        v = check_references(
            v,
            "territory_id",
            known_ids(
                conn,
                territory.c.id,
                territory.c.model_id == model_id,
                among=file_values(v, "territory_id"),
            ),
            what="territory",
            within=f"model '{model_name}'",
            hint="import the territory first, or pick its model with --model",
        )
    if "splits" in frame.columns:
        reps = known_ids(conn, rep.c.id)
        split_reps = (
            v.frame.select(ROW_COLUMN, "splits")
            .explode("splits")
            .filter(pl.col("splits").is_not_null())
            .with_columns(pl.col("splits").struct.field("rep_id"))
        )
        unknown_rows = split_reps.filter(~pl.col("rep_id").is_in(reps))
        if unknown_rows.height:
            bad_rows = unknown_rows.get_column(ROW_COLUMN)
            mask = v.frame.get_column(ROW_COLUMN).is_in(bad_rows)
            reps_of_row = dict(
                unknown_rows.group_by(ROW_COLUMN)
                .agg(pl.col("rep_id").str.join(", "))
                .iter_rows()
            )
            new_issues = [
                Issue(
                    problem=f"splits name unknown rep(s) {reps_of_row[r]}",
                    hint="import the reps first (territory import reps FILE)",
                    file=v.file,
                    row=r,
                    field="splits",
                )
                for r in sorted(reps_of_row)
            ]
            v = replace(
                v,
                frame=v.frame.with_columns(
                    (pl.col(BAD_COLUMN) | mask).alias(BAD_COLUMN)
                ),
                issues=[*v.issues, *new_issues],
            )
    ctx.validated = v
    good, skipped = accept_rows(ctx)
    good = fill_defaults(good, v.schema)
    columns: dict[str, Any] = {
        name: good.get_column(name)
        for name in v.present
        if name not in ("splits", "territory_id")
    }
    exists = exists_mask(conn, opportunity, good, ["id"])
    n_new, n_old = write_rows(
        conn, opportunity, columns, exists, update=[c for c in columns if c != "id"]
    )
    if model_id is not None:
        _route_opportunities(conn, model_id, good, exists)
    if "splits" in good.columns:
        if n_old:
            conn.execute(
                opportunity_split.delete().where(
                    opportunity_split.c.opportunity_id.in_(
                        good.get_column("id").filter(exists).to_list()
                    )
                )
            )
        splits = (
            good.select("id", "splits")
            .explode("splits")
            .filter(pl.col("splits").is_not_null())
            .unnest("splits")
        )
        if splits.height:
            insert_columns(
                conn,
                opportunity_split,
                {
                    "opportunity_id": splits.get_column("id"),
                    "rep_id": splits.get_column("rep_id"),
                    "percent": splits.get_column("percent"),
                },
            )
    return ImportReport(
        "opportunities",
        ctx.file,
        v.n_rows,
        n_new,
        n_old,
        v.n_bad,
        skipped,
        model=model_name,
    )


def _route_opportunities(
    conn: Connection, model_id: str, good: pl.DataFrame, exists: pl.Series
) -> None:
    """Write the file's territories as the opportunities' routing in ``model_id``.

    A row with a territory sets it; a row without clears the opportunity's
    territory in that model. Other models keep theirs.
    """
    ot = opportunity_territory
    stored = good.get_column("id").filter(exists).to_list()
    for start in range(0, len(stored), 10_000):
        conn.execute(
            ot.delete().where(
                (ot.c.model_id == model_id)
                & ot.c.opportunity_id.in_(stored[start : start + 10_000])
            )
        )
    routed = good.filter(pl.col("territory_id").is_not_null())
    if routed.height:
        insert_columns(
            conn,
            ot,
            {
                "model_id": model_id,
                "opportunity_id": routed.get_column("id"),
                "territory_id": routed.get_column("territory_id"),
            },
        )


# -------------------------------------------------------------------- sales


def import_sales(ctx: ImportContext) -> ImportReport:
    conn = ctx.conn
    v = check_references(
        ctx.validated,
        "account_id",
        known_ids(conn, account.c.id, among=file_values(ctx.validated, "account_id")),
        what="account",
        hint="import the account first (territory import accounts FILE)",
    )
    ctx.validated = v
    good, skipped = accept_rows(ctx)
    good = fill_defaults(good, v.schema)
    columns = {name: good.get_column(name) for name in v.present}
    exists = exists_mask(conn, sales_history, good, ["account_id", "period"])
    n_new, n_old = write_rows(
        conn,
        sales_history,
        columns,
        exists,
        update=[c for c in columns if c not in ("account_id", "period")],
    )
    return ImportReport("sales", ctx.file, v.n_rows, n_new, n_old, v.n_bad, skipped)
