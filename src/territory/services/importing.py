"""Import entity files (CSV, Parquet, GeoJSON) into the store.

``import_file`` reads the file as text, types and checks every row
(:mod:`territory.io.validation`), checks references against the store, and
writes in **one transaction**:

* By default the import is all or nothing: any issue raises
  :class:`~territory.errors.ValidationFailed` listing every issue (file, row,
  field, problem, hint) and the store is left exactly as it was.
* With ``skip_invalid=True`` the valid rows are imported and every skipped
  row is reported, with each of its issues, in the :class:`ImportReport`.
  Problems with the file as a whole (a required column missing) still
  refuse it.

Re-importing a record that already exists updates it (upsert): the columns
present in the file replace the stored values (a blank cell clears an
optional field), columns absent from the file keep their stored values, and
nothing is ever deleted by an import. The keys are: accounts, reps and
opportunities by ``id``; units by ``(kind, id)``; territories by model and
``id``; assignments by model, account and territory; memberships by model,
territory, rep, role and start date; sales by account and period; quotas by
model, territory or rep, and period. An opportunity's ``splits`` cell, when
the column is present, replaces all of its splits.

Accounts are placed on import (:mod:`territory.services.placement`);
``county_id``, ``zip_id`` and ``placed_by`` in a file are recomputed, not
read. Assignments and memberships write an audit row for every link they
add or change, in the same transaction; imported account-territory links
are ``manual`` (unless the file says ``import``) with source
``import:<file name>`` unless the file gives one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table, and_, bindparam, select

from territory.domain import check_hierarchy
from territory.errors import InputError, Issue, ValidationFailed
from territory.io.report import ImportReport
from territory.io.schema import ENTITIES, EntitySchema, schema_of
from territory.io.tabular import ROW_COLUMN, read_table
from territory.io.validation import (
    BAD_COLUMN,
    Validated,
    check_references,
    flag_rows,
    validate,
)
from territory.services.models import resolve_model
from territory.services.placement import (
    ZipDirectoryReader,
    load_placement_sources,
    place_accounts,
)
from territory.storage.bulk import insert_columns, upsert_columns
from territory.storage.tables import (
    account,
    account_assignment,
    audit_log,
    geo_unit,
    geo_unit_metric,
    opportunity,
    opportunity_split,
    quota,
    rep,
    sales_history,
    territory,
    territory_membership,
    territory_type,
)

__all__ = ["ImportReport", "import_file"]

_log = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass(slots=True)
class _Context:
    conn: Connection
    validated: Validated
    model: str | None
    skip_invalid: bool
    actor: str
    now: datetime
    read_zip_directory: ZipDirectoryReader | None
    on_progress: Progress | None

    @property
    def file(self) -> str:
        return self.validated.file


# ------------------------------------------------------------------ helpers


def _accept(ctx: _Context) -> tuple[pl.DataFrame, tuple[Issue, ...]]:
    """Return the rows to import and the issues of skipped rows, or refuse."""
    v = ctx.validated
    if v.fatal:
        raise ValidationFailed(
            f"{v.file} cannot be imported as {v.schema.entity}: "
            f"{len(v.fatal)} problem(s) with its columns; nothing was imported.",
            v.all_issues(),
            code="import_invalid",
        )
    if v.issues and not ctx.skip_invalid:
        good = v.n_rows - v.n_bad
        raise ValidationFailed(
            f"{v.file}: {len(v.issues)} problem(s) in {v.n_bad} of {v.n_rows} "
            "rows; nothing was imported. Fix them and import again, or run with "
            f"--skip-invalid to import the {good} valid row(s) and skip the rest.",
            v.all_issues(),
            code="import_invalid",
        )
    return v.good(), tuple(v.all_issues())


def _fill_defaults(frame: pl.DataFrame, schema: EntitySchema) -> pl.DataFrame:
    """Replace blanks in columns that have a default (booleans, name, role)."""
    fills = [
        pl.col(f.name).fill_null(f.default)
        for f in schema.fields
        if f.default is not None and f.name in frame.columns
    ]
    return frame.with_columns(fills) if fills else frame


def _store_frame(
    conn: Connection, stmt: Any, schema: Mapping[str, Any]
) -> pl.DataFrame:
    rows = conn.execute(stmt).all()
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame(
        {
            name: pl.Series(name, list(vals), dtype=dtype, strict=False)
            for (name, dtype), vals in zip(schema.items(), cols, strict=True)
        }
    )


def _exists_mask(
    conn: Connection,
    table: Table,
    frame: pl.DataFrame,
    key: Sequence[str],
    *,
    where: Any = None,
    rename: Mapping[str, str] | None = None,
) -> pl.Series:
    """Return, for each row of ``frame``, whether ``table`` already holds its key.

    ``rename`` maps frame column -> table column where their names differ.
    """
    rename = dict(rename or {})
    probe = select(table.c[rename.get(key[0], key[0])]).limit(1)
    if where is not None:
        probe = probe.where(where)
    if frame.height == 0 or conn.execute(probe).first() is None:
        return pl.Series("_exists", [False] * frame.height, dtype=pl.Boolean)
    stmt = select(*[table.c[rename.get(k, k)] for k in key])
    if where is not None:
        stmt = stmt.where(where)
    stored = (
        _store_frame(conn, stmt, {k: frame.schema[k] for k in key})
        .unique()
        .with_columns(pl.lit(True).alias("_exists"))
    )
    joined = frame.select(key).join(
        stored, on=list(key), how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.get_column("_exists").fill_null(False)


def _known_ids(conn: Connection, column: Any, where: Any = None) -> pl.Series:
    stmt = select(column).distinct()
    if where is not None:
        stmt = stmt.where(where)
    return pl.Series([r[0] for r in conn.execute(stmt)], dtype=pl.String)


def _write(
    conn: Connection,
    table: Table,
    columns: Mapping[str, Any],
    exists: pl.Series,
    *,
    update: Sequence[str],
    on_progress: Progress | None = None,
    key: Sequence[str] | None = None,
) -> tuple[int, int]:
    """Insert the new rows and upsert the existing ones; return (new, updated)."""
    n_new = int((~exists).sum())
    n_old = int(exists.sum())

    def part(mask: pl.Series) -> dict[str, Any]:
        return {
            k: (v.filter(mask) if isinstance(v, pl.Series) else v)
            for k, v in columns.items()
        }

    if n_new:
        insert_columns(conn, table, part(~exists), on_progress=on_progress)
    if n_old:
        upsert_columns(
            conn,
            table,
            part(exists),
            key=key,
            update=list(update),
            on_progress=on_progress,
        )
    return n_new, n_old


def _model_id(ctx: _Context) -> tuple[str, str]:
    """Return (id, name) of ``--model`` or the active model."""
    model = resolve_model(ctx.conn, ctx.model)
    return str(model.id), model.name


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _audit(
    ctx: _Context,
    entity: str,
    model_id: str,
    entity_ids: list[str],
    actions: list[str],
    old: list[dict[str, Any] | None],
    new: list[dict[str, Any] | None],
    causes: list[str],
    sources: list[str | None],
) -> None:
    if not entity_ids:
        return
    insert_columns(
        ctx.conn,
        audit_log,
        {
            "at": ctx.now,
            "actor": ctx.actor,
            "entity": entity,
            "entity_id": entity_ids,
            "model_id": model_id,
            "action": actions,
            "old_value": [
                None if o is None else {k: _jsonable(v) for k, v in o.items()}
                for o in old
            ],
            "new_value": [
                None if n is None else {k: _jsonable(v) for k, v in n.items()}
                for n in new
            ],
            "cause": causes,
            "source": sources,
        },
    )


# ----------------------------------------------------------------- accounts


def _import_accounts(ctx: _Context) -> ImportReport:
    good, skipped = _accept(ctx)
    v = ctx.validated
    good = _fill_defaults(good, v.schema)
    present = v.present
    exists = _exists_mask(ctx.conn, account, good, ["id"])
    # Placement uses the values the account will have after the import:
    # the file's, or the stored ones for columns the file leaves out.
    place_cols = ("latitude", "longitude", "billing_postal_code", "billing_country")
    effective = good.select([c for c in ("id", *place_cols) if c in good.columns])
    missing = [c for c in place_cols if c not in good.columns]
    if missing:
        if bool(exists.any()):
            stored = _store_frame(
                ctx.conn,
                select(account.c.id, *[account.c[c] for c in missing]),
                {"id": pl.String}
                | {
                    c: (pl.Float64 if c in ("latitude", "longitude") else pl.String)
                    for c in missing
                },
            )
            effective = effective.join(
                stored, on="id", how="left", maintain_order="left"
            )
        else:
            effective = effective.with_columns(
                pl.lit(
                    None,
                    dtype=pl.Float64 if c in ("latitude", "longitude") else pl.String,
                ).alias(c)
                for c in missing
            )
    need_zips = bool(effective.get_column("billing_postal_code").is_not_null().any())
    sources = load_placement_sources(
        ctx.conn, need_zips=need_zips, read_zip_directory=ctx.read_zip_directory
    )
    placed = place_accounts(
        effective.get_column("latitude"),
        effective.get_column("longitude"),
        effective.get_column("billing_postal_code"),
        effective.get_column("billing_country"),
        sources,
    )
    columns: dict[str, Any] = {name: good.get_column(name) for name in present}
    for name in placed.columns:
        columns[name] = placed.get_column(name)
    if v.extras:
        columns["custom_fields"] = good.select(
            pl.struct(list(v.extras)).struct.json_encode()
        ).to_series()
    columns["created_at"] = ctx.now
    columns["updated_at"] = ctx.now
    update = [c for c in columns if c not in ("id", "created_at")]
    n_new, n_old = _write(
        ctx.conn, account, columns, exists, update=update, on_progress=ctx.on_progress
    )
    counts = placed.get_column("placed_by").value_counts()
    placement = dict(counts.iter_rows())
    unplaced = good.get_column("id").filter(
        placed.get_column("placed_by") == "unplaced"
    )
    notes = []
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


# --------------------------------------------------------------------- reps


def _import_reps(ctx: _Context) -> ImportReport:
    good, skipped = _accept(ctx)
    v = ctx.validated
    good = _fill_defaults(good, v.schema)
    columns = {name: good.get_column(name) for name in v.present}
    exists = _exists_mask(ctx.conn, rep, good, ["id"])
    n_new, n_old = _write(
        ctx.conn, rep, columns, exists, update=[c for c in v.present if c != "id"]
    )
    return ImportReport("reps", ctx.file, v.n_rows, n_new, n_old, v.n_bad, skipped)


# -------------------------------------------------------------------- units


def _check_unit_geometry(ctx: _Context) -> Validated:
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


def _import_units(ctx: _Context) -> ImportReport:
    import shapely

    ctx.validated = _check_unit_geometry(ctx)
    good, skipped = _accept(ctx)
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
    exists = _exists_mask(ctx.conn, geo_unit, good, ["kind", "id"])
    n_new, n_old = _write(
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


# -------------------------------------------------------------- territories


def _import_territories(ctx: _Context) -> ImportReport:
    conn = ctx.conn
    v = ctx.validated
    frame = v.frame
    # Resolve the model of each row: its own column, else --model/active.
    model_col = (
        frame.get_column("model")
        if "model" in frame.columns
        else pl.Series("model", [None] * frame.height, dtype=pl.String)
    )
    names = sorted(set(model_col.drop_nulls().to_list()))
    resolved: dict[str, str] = {}
    for name in names:
        try:
            resolved[name] = str(resolve_model(conn, name).id)
        except InputError:
            continue
    v = check_references(
        v,
        "model",
        list(resolved),
        what="territory model",
        hint="create the model with `territory model create NAME` or fix the name",
    )
    default_id: str | None = None
    default_name: str | None = None
    if bool(model_col.is_null().any()) and frame.height:
        default_id, default_name = _model_id(ctx)
    model_ids = model_col.replace_strict(resolved, default=None, return_dtype=pl.String)
    if default_id is not None:
        model_ids = model_ids.fill_null(default_id)
    frame = v.frame.with_columns(model_ids.alias("_model_id"))
    v = replace(v, frame=frame)
    # Types by id or name.
    types = conn.execute(select(territory_type.c.id, territory_type.c.name)).all()
    type_map = {t.id: t.id for t in types} | {t.name: t.id for t in types}
    if "type" in frame.columns:
        v = check_references(
            v,
            "type",
            list(type_map),
            what="territory type",
            hint="use the id or name of an existing territory type",
        )
    # Parents: in the same model, in the file or already in the store.
    model_list = sorted({m for m in model_ids.to_list() if m is not None})
    stored = _store_frame(
        conn,
        select(territory.c.model_id, territory.c.id, territory.c.parent_id).where(
            territory.c.model_id.in_(model_list)
        ),
        {"_model_id": pl.String, "id": pl.String, "parent": pl.String},
    )
    if "parent" in frame.columns:
        known = (
            pl.concat(
                [stored.select("_model_id", "id"), frame.select("_model_id", "id")]
            )
            .select(pl.concat_str(["_model_id", "id"], separator="\x1f"))
            .to_series()
        )
        key = frame.select(
            pl.concat_str(["_model_id", "parent"], separator="\x1f")
        ).to_series()
        missing = frame.get_column("parent").is_not_null() & ~key.is_in(known)
        v = flag_rows(
            v,
            missing,
            "parent",
            "unknown parent territory '{v}'",
            "the parent must be a territory of the same model, in this file or "
            "already imported; leave it blank for a top-level territory",
        )
    ctx.validated = v
    good, skipped = _accept(ctx)
    good = good.with_columns(
        pl.col("type").replace_strict(type_map, default=None, return_dtype=pl.String)
        if "type" in good.columns
        else pl.lit(None, dtype=pl.String).alias("type")
    )
    # Cycles over the stored and the imported parent links of each model.
    for model_id in model_list:
        links = {
            r[0]: r[1]
            for r in stored.filter(pl.col("_model_id") == model_id)
            .select("id", "parent")
            .iter_rows()
        }
        mine = good.filter(pl.col("_model_id") == model_id)
        parents = (
            mine.get_column("parent").to_list()
            if "parent" in mine.columns
            else [links.get(i) for i in mine.get_column("id").to_list()]
        )
        links.update(zip(mine.get_column("id").to_list(), parents, strict=True))
        check_hierarchy(links)
    columns: dict[str, Any] = {
        "model_id": good.get_column("_model_id"),
        "id": good.get_column("id"),
        "name": good.get_column("name"),
    }
    if "parent" in good.columns:
        columns["parent_id"] = good.get_column("parent")
    if "type" in v.present:
        columns["type_id"] = good.get_column("type")
    if "description" in good.columns:
        columns["description"] = good.get_column("description").fill_null("")
    exists = _exists_mask(
        conn, territory, good.rename({"_model_id": "model_id"}), ["model_id", "id"]
    )
    n_new, n_old = _write(
        conn,
        territory,
        columns,
        exists,
        update=[c for c in columns if c not in ("model_id", "id")],
    )
    model_label = default_name or (", ".join(names) if names else None)
    return ImportReport(
        "territories",
        ctx.file,
        v.n_rows,
        n_new,
        n_old,
        v.n_bad,
        skipped,
        model=model_label,
    )


# -------------------------------------------------------------- assignments


def _import_assignments(ctx: _Context) -> ImportReport:
    conn = ctx.conn
    model_id, model_name = _model_id(ctx)
    v = ctx.validated
    v = check_references(
        v,
        "account_id",
        _known_ids(conn, account.c.id),
        what="account",
        hint="import the account first (territory import accounts FILE)",
    )
    v = check_references(
        v,
        "territory_id",
        _known_ids(conn, territory.c.id, territory.c.model_id == model_id),
        what=f"territory in model '{model_name}'",
        hint="import the territory first, or pick its model with --model",
    )
    ctx.validated = v
    good, skipped = _accept(ctx)
    good = _fill_defaults(good, v.schema)
    n = good.height
    default_source = f"import:{ctx.file}"
    rows = good.with_columns(
        (pl.col("cause") if "cause" in good.columns else pl.lit("manual")).alias(
            "cause"
        ),
        (
            pl.col("source")
            if "source" in good.columns
            else pl.lit(None, dtype=pl.String)
        ).alias("source"),
        *[
            pl.lit(None, dtype=pl.Date).alias(c)
            for c in ("start_date", "end_date")
            if c not in good.columns
        ],
    )
    stored = _store_frame(
        conn,
        select(
            account_assignment.c.account_id,
            account_assignment.c.territory_id,
            account_assignment.c.cause,
            account_assignment.c.source,
            account_assignment.c.start_date,
            account_assignment.c.end_date,
        ).where(account_assignment.c.model_id == model_id),
        {
            "account_id": pl.String,
            "territory_id": pl.String,
            "old_cause": pl.String,
            "old_source": pl.String,
            "old_start_date": pl.Date,
            "old_end_date": pl.Date,
        },
    ).with_columns(pl.lit(True).alias("_exists"))
    joined = rows.join(
        stored, on=["account_id", "territory_id"], how="left", maintain_order="left"
    ).with_columns(
        pl.col("_exists").fill_null(False),
        # A link re-imported without a source keeps the one it has.
        pl.coalesce("source", "old_source", pl.lit(default_source)).alias("source"),
    )
    fields = ("cause", "source", "start_date", "end_date")
    changed = pl.any_horizontal(
        [pl.col(f).ne_missing(pl.col(f"old_{f}")) for f in fields]
    )
    new = joined.filter(~pl.col("_exists"))
    upd = joined.filter(pl.col("_exists") & changed)
    if new.height:
        insert_columns(
            conn,
            account_assignment,
            {
                "model_id": model_id,
                "account_id": new.get_column("account_id"),
                "territory_id": new.get_column("territory_id"),
                "cause": new.get_column("cause"),
                "source": new.get_column("source"),
                "start_date": new.get_column("start_date"),
                "end_date": new.get_column("end_date"),
            },
        )
    if upd.height:
        stmt = (
            account_assignment.update()
            .where(
                and_(
                    account_assignment.c.model_id == model_id,
                    account_assignment.c.account_id == bindparam("b_account"),
                    account_assignment.c.territory_id == bindparam("b_territory"),
                )
            )
            .values(
                cause=bindparam("b_cause"),
                source=bindparam("b_source"),
                start_date=bindparam("b_start"),
                end_date=bindparam("b_end"),
            )
        )
        conn.execute(
            stmt,
            [
                {
                    "b_account": r["account_id"],
                    "b_territory": r["territory_id"],
                    "b_cause": r["cause"],
                    "b_source": r["source"],
                    "b_start": r["start_date"],
                    "b_end": r["end_date"],
                }
                for r in upd.iter_rows(named=True)
            ],
        )
    audited = pl.concat([new, upd]) if upd.height else new
    recs = list(audited.iter_rows(named=True))
    _audit(
        ctx,
        "account_assignment",
        model_id,
        [f"{r['account_id']}->{r['territory_id']}" for r in recs],
        ["update" if r["_exists"] else "insert" for r in recs],
        [
            {f: r[f"old_{f}"] for f in fields} | {"territory_id": r["territory_id"]}
            if r["_exists"]
            else None
            for r in recs
        ],
        [{f: r[f] for f in fields} | {"territory_id": r["territory_id"]} for r in recs],
        [r["cause"] for r in recs],
        [r["source"] for r in recs],
    )
    return ImportReport(
        "assignments",
        ctx.file,
        v.n_rows,
        new.height,
        n - new.height,
        v.n_bad,
        skipped,
        model=model_name,
        notes=(f"{len(recs)} audit row(s) written",),
    )


# -------------------------------------------------------------- memberships


def _import_memberships(ctx: _Context) -> ImportReport:
    conn = ctx.conn
    model_id, model_name = _model_id(ctx)
    v = ctx.validated
    v = check_references(
        v,
        "territory_id",
        _known_ids(conn, territory.c.id, territory.c.model_id == model_id),
        what=f"territory in model '{model_name}'",
        hint="import the territory first, or pick its model with --model",
    )
    v = check_references(
        v,
        "rep_id",
        _known_ids(conn, rep.c.id),
        what="rep",
        hint="import the rep first (territory import reps FILE)",
    )
    ctx.validated = v
    good, skipped = _accept(ctx)
    good = _fill_defaults(good, v.schema).with_columns(
        [
            pl.lit(default, dtype=dtype).alias(c)
            for c, default, dtype in (
                ("role", "owner", pl.String),
                ("start_date", None, pl.Date),
                ("end_date", None, pl.Date),
            )
            if c not in good.columns
        ]
    )
    key = ["territory_id", "rep_id", "role", "start_date"]
    stored = _store_frame(
        conn,
        select(
            territory_membership.c.id,
            territory_membership.c.territory_id,
            territory_membership.c.rep_id,
            territory_membership.c.role,
            territory_membership.c.start_date,
            territory_membership.c.end_date,
        ).where(territory_membership.c.model_id == model_id),
        {
            "_id": pl.Int64,
            "territory_id": pl.String,
            "rep_id": pl.String,
            "role": pl.String,
            "start_date": pl.Date,
            "old_end_date": pl.Date,
        },
    )
    joined = good.join(
        stored, on=key, how="left", nulls_equal=True, maintain_order="left"
    )
    new = joined.filter(pl.col("_id").is_null())
    old = joined.filter(pl.col("_id").is_not_null())
    upd = old.filter(pl.col("end_date").ne_missing(pl.col("old_end_date")))
    if new.height:
        insert_columns(
            conn,
            territory_membership,
            {"model_id": model_id} | {c: new.get_column(c) for c in (*key, "end_date")},
        )
    if upd.height:
        conn.execute(
            territory_membership.update()
            .where(territory_membership.c.id == bindparam("b_id"))
            .values(end_date=bindparam("b_end")),
            [
                {"b_id": r["_id"], "b_end": r["end_date"]}
                for r in upd.iter_rows(named=True)
            ],
        )
    fields = ("territory_id", "rep_id", "role", "start_date", "end_date")
    recs = [(r, False) for r in new.iter_rows(named=True)] + [
        (r, True) for r in upd.iter_rows(named=True)
    ]
    _audit(
        ctx,
        "territory_membership",
        model_id,
        [f"{r['rep_id']}@{r['territory_id']}:{r['role']}" for r, _ in recs],
        ["update" if u else "insert" for _, u in recs],
        [
            ({f: r[f] for f in fields} | {"end_date": r["old_end_date"]}) if u else None
            for r, u in recs
        ],
        [{f: r[f] for f in fields} for r, _ in recs],
        ["manual"] * len(recs),
        [f"import:{ctx.file}"] * len(recs),
    )
    return ImportReport(
        "memberships",
        ctx.file,
        v.n_rows,
        new.height,
        old.height,
        v.n_bad,
        skipped,
        model=model_name,
    )


# ------------------------------------------------------------ opportunities


def _import_opportunities(ctx: _Context) -> ImportReport:
    conn = ctx.conn
    v = ctx.validated
    v = check_references(
        v,
        "account_id",
        _known_ids(conn, account.c.id),
        what="account",
        hint="import the account first (territory import accounts FILE)",
    )
    model_id: str | None = None
    model_name: str | None = None
    frame = v.frame
    if "territory_id" in frame.columns and bool(
        frame.get_column("territory_id").is_not_null().any()
    ):
        model_id, model_name = _model_id(ctx)
        v = check_references(
            v,
            "territory_id",
            _known_ids(conn, territory.c.id, territory.c.model_id == model_id),
            what=f"territory in model '{model_name}'",
            hint="import the territory first, or pick its model with --model",
        )
    if "splits" in frame.columns:
        reps = _known_ids(conn, rep.c.id)
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
    good, skipped = _accept(ctx)
    good = _fill_defaults(good, v.schema)
    columns: dict[str, Any] = {
        name: good.get_column(name) for name in v.present if name != "splits"
    }
    if "territory_id" in good.columns:
        columns["territory_model_id"] = pl.select(
            pl.when(good.get_column("territory_id").is_not_null())
            .then(pl.lit(model_id))
            .otherwise(None)
        ).to_series()
    exists = _exists_mask(conn, opportunity, good, ["id"])
    n_new, n_old = _write(
        conn, opportunity, columns, exists, update=[c for c in columns if c != "id"]
    )
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


# -------------------------------------------------------------------- sales


def _import_sales(ctx: _Context) -> ImportReport:
    conn = ctx.conn
    v = check_references(
        ctx.validated,
        "account_id",
        _known_ids(conn, account.c.id),
        what="account",
        hint="import the account first (territory import accounts FILE)",
    )
    ctx.validated = v
    good, skipped = _accept(ctx)
    good = _fill_defaults(good, v.schema)
    columns = {name: good.get_column(name) for name in v.present}
    exists = _exists_mask(conn, sales_history, good, ["account_id", "period"])
    n_new, n_old = _write(
        conn,
        sales_history,
        columns,
        exists,
        update=[c for c in columns if c not in ("account_id", "period")],
    )
    return ImportReport("sales", ctx.file, v.n_rows, n_new, n_old, v.n_bad, skipped)


# ------------------------------------------------------------------- quotas


def _import_quotas(ctx: _Context) -> ImportReport:
    conn = ctx.conn
    model_id, model_name = _model_id(ctx)
    v = ctx.validated
    v = check_references(
        v,
        "territory_id",
        _known_ids(conn, territory.c.id, territory.c.model_id == model_id),
        what=f"territory in model '{model_name}'",
        hint="import the territory first, or pick its model with --model",
    )
    v = check_references(
        v,
        "rep_id",
        _known_ids(conn, rep.c.id),
        what="rep",
        hint="import the rep first (territory import reps FILE)",
    )
    ctx.validated = v
    good, skipped = _accept(ctx)
    good = good.with_columns(
        pl.lit(None, dtype=pl.String).alias(c)
        for c in ("territory_id", "rep_id")
        if c not in good.columns
    )
    replaced = 0
    for owner in ("territory_id", "rep_id"):
        part = good.filter(pl.col(owner).is_not_null())
        if part.height == 0:
            continue
        result = conn.execute(
            quota.delete().where(
                and_(
                    quota.c.model_id == model_id,
                    quota.c[owner] == bindparam("b_owner"),
                    quota.c.period == bindparam("b_period"),
                )
            ),
            [
                {"b_owner": o, "b_period": p}
                for o, p in part.select(owner, "period").iter_rows()
            ],
        )
        replaced += max(result.rowcount or 0, 0)
    if good.height:
        insert_columns(
            conn,
            quota,
            {
                "model_id": model_id,
                "territory_id": good.get_column("territory_id"),
                "rep_id": good.get_column("rep_id"),
                "period": good.get_column("period"),
                "amount": good.get_column("amount"),
            },
        )
    updated = min(replaced, good.height)
    return ImportReport(
        "quotas",
        ctx.file,
        v.n_rows,
        good.height - updated,
        updated,
        v.n_bad,
        skipped,
        model=model_name,
    )


_IMPORTERS: dict[str, Callable[[_Context], ImportReport]] = {
    "accounts": _import_accounts,
    "reps": _import_reps,
    "units": _import_units,
    "territories": _import_territories,
    "assignments": _import_assignments,
    "memberships": _import_memberships,
    "opportunities": _import_opportunities,
    "sales": _import_sales,
    "quotas": _import_quotas,
}


def check_entity(entity: str) -> str:
    """Return ``entity`` if territory can import and export it.

    Raises
    ------
    InputError
        Naming the entities that exist.
    """
    if entity not in ENTITIES:
        raise InputError(
            f"Cannot import or export '{entity}'; choose one of {', '.join(ENTITIES)}.",
            code="unknown_entity",
            details={"entity": entity},
        )
    return entity


def import_file(
    engine: Engine,
    entity: str,
    path: str | Path,
    *,
    model: str | None = None,
    skip_invalid: bool = False,
    encoding: str | None = None,
    actor: str = "unknown",
    read_zip_directory: ZipDirectoryReader | None = None,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Import ``path`` as ``entity`` in one transaction; return what happened.

    Parameters
    ----------
    model
        Name or id of the territory model for territories, assignments,
        memberships, quotas and opportunity territories; ``None`` means the
        active model.
    skip_invalid
        Import the valid rows and report the others instead of refusing
        the whole file.
    encoding
        The CSV file's encoding when it is not UTF-8.
    read_zip_directory
        Replaces the packaged ZIP directory used to place accounts when the
        store has no ZIP units.
    on_progress
        Called with the number of rows written after each batch.

    Raises
    ------
    ValidationFailed
        Listing every issue, when any row is invalid (and ``skip_invalid``
        is false) or the file's columns are wrong; nothing is written.
    InputError
        When the file cannot be read, the entity is unknown, or a model is
        needed and none is named or active (``NotFound``).
    """
    schema = schema_of(check_entity(entity))
    raw = read_table(path, encoding=encoding)
    validated = validate(raw, schema)
    with engine.begin() as conn:
        ctx = _Context(
            conn=conn,
            validated=validated,
            model=model,
            skip_invalid=skip_invalid,
            actor=actor,
            now=datetime.now(UTC),
            read_zip_directory=read_zip_directory,
            on_progress=on_progress,
        )
        report = _IMPORTERS[entity](ctx)
    _log.info("imported %s", report.summary_lines()[0])
    return report
