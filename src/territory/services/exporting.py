"""Export entities to CSV, Parquet or GeoJSON files that import back unchanged.

Each export writes the columns :mod:`territory.io.schema` describes, in that
order, so ``territory export X f.csv`` then ``territory import X f.csv`` into
another store gives back the same records. Accounts add their custom fields
as columns (sorted by name) and the derived ``county_id``, ``zip_id`` and
``placed_by``; units add one column per metric after ``state``; opportunity
splits are written as ``REP_ID:PERCENT`` pairs (``R1:60;R2:40``), sorted by
rep. Territories, assignments, memberships and quotas are those of one model
(``--model``, default the active model), and so is each opportunity's
``territory_id`` (blank when no model is named or active); assignments are
the manual and imported account-territory links (rule and design results
are re-derived, not exported).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, null, select

from territory.errors import InputError, NotFound
from territory.io.schema import schema_of
from territory.io.tabular import write_table
from territory.services.importing import check_entity
from territory.services.models import resolve_model
from territory.storage.tables import (
    account,
    account_assignment,
    geo_unit,
    geo_unit_metric,
    metric_source,
    opportunity,
    opportunity_split,
    opportunity_territory,
    quota,
    rep,
    sales_history,
    territory,
    territory_membership,
    territory_model,
)

__all__ = ["LAYOUTS", "ExportReport", "export_file", "export_frame"]


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an export wrote."""

    entity: str
    file: str
    rows: int
    columns: tuple[str, ...]
    model: str | None = None

    def summary_lines(self) -> list[str]:
        """Return the report as short readable lines."""
        where = f" of model '{self.model}'" if self.model else ""
        return [f"{self.rows} {self.entity}{where} written to {self.file}"]


def _frame(conn: Connection, stmt: Any, schema: Mapping[str, Any]) -> pl.DataFrame:
    rows = conn.execute(stmt).all()
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame(
        [
            pl.Series(name, list(vals), dtype=dtype, strict=False)
            for (name, dtype), vals in zip(schema.items(), cols, strict=True)
        ]
    )


_DTYPES = {
    "float": pl.Float64,
    "nonnegative": pl.Float64,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "int": pl.Int64,
    "bool": pl.Boolean,
    "date": pl.Date,
}


def _schema_dtypes(entity: str, names: tuple[str, ...]) -> dict[str, pl.DataType]:
    schema = schema_of(entity)
    out: dict[str, pl.DataType] = {}
    for name in names:
        try:
            kind = schema.field(name).kind.value
        except KeyError:
            kind = "text"
        out[name] = _DTYPES.get(kind, pl.String)()
    return out


def _export_accounts(conn: Connection, model: str | None) -> pl.DataFrame:
    names = (*schema_of("accounts").names, "county_id", "zip_id", "placed_by")
    dtypes = _schema_dtypes("accounts", names) | {"custom_fields": pl.String()}
    stmt = select(*[account.c[n] for n in names], account.c.custom_fields).order_by(
        account.c.id
    )
    rows = conn.execute(stmt).all()
    if not rows:
        return pl.DataFrame(schema={n: dtypes[n] for n in names})
    cols = list(zip(*rows, strict=True))
    frame = pl.DataFrame(
        [
            pl.Series(n, list(vals), dtype=dtypes[n], strict=False)
            for n, vals in zip(names, cols[:-1], strict=True)
        ]
    )
    customs: list[Any] = list(cols[-1])
    keys = sorted({k for c in customs if c for k in c})
    if keys:

        def text(value: Any) -> str | None:
            if value is None or isinstance(value, str):
                return value
            return json.dumps(value)

        frame = frame.with_columns(
            pl.Series(
                k, [text(c.get(k)) if c else None for c in customs], dtype=pl.String
            )
            for k in keys
            if k not in frame.columns
        )
    return frame


def _export_simple(
    entity: str, table: Any, order: tuple[str, ...]
) -> Callable[[Connection, str | None], pl.DataFrame]:
    def run(conn: Connection, model: str | None) -> pl.DataFrame:
        names = schema_of(entity).names
        stmt = select(*[table.c[n] for n in names]).order_by(
            *[table.c[o] for o in order]
        )
        return _frame(conn, stmt, _schema_dtypes(entity, names))

    return run


def _export_units(conn: Connection, model: str | None) -> pl.DataFrame:
    base = _frame(
        conn,
        select(
            geo_unit.c.id,
            geo_unit.c.kind,
            geo_unit.c.name,
            geo_unit.c.state,
            geo_unit.c.centroid_lat,
            geo_unit.c.centroid_lon,
            geo_unit.c.parent_id,
            geo_unit.c.geometry,
        ).order_by(geo_unit.c.kind, geo_unit.c.id),
        {
            "id": pl.String(),
            "kind": pl.String(),
            "name": pl.String(),
            "state": pl.String(),
            "centroid_lat": pl.Float64(),
            "centroid_lon": pl.Float64(),
            "parent_id": pl.String(),
            "geometry": pl.Binary(),
        },
    )
    metrics = _frame(
        conn,
        select(
            geo_unit_metric.c.kind,
            geo_unit_metric.c.unit_id,
            geo_unit_metric.c.metric,
            geo_unit_metric.c.value,
        ),
        {
            "kind": pl.String(),
            "id": pl.String(),
            "metric": pl.String(),
            "value": pl.Float64(),
        },
    )
    registered = [
        r[0]
        for r in conn.execute(
            select(metric_source.c.metric).order_by(metric_source.c.metric)
        )
    ]
    found = sorted(set(metrics.get_column("metric").to_list()))
    order = [m for m in registered if m in found] + [
        m for m in found if m not in registered
    ]
    if order:
        wide = metrics.pivot(on="metric", index=["kind", "id"], values="value")
        base = base.join(wide, on=["kind", "id"], how="left", maintain_order="left")
    cols = [
        "id",
        "kind",
        "name",
        "state",
        *order,
        "centroid_lat",
        "centroid_lon",
        "parent_id",
    ]
    if base.get_column("geometry").is_not_null().any():
        cols.append("geometry")
    return base.select(cols)


def _model(conn: Connection, name: str | None) -> tuple[str, str]:
    m = resolve_model(conn, name)
    return str(m.id), m.name


def _export_territories(conn: Connection, model: str | None) -> pl.DataFrame:
    model_id, model_name = _model(conn, model)
    frame = _frame(
        conn,
        select(
            territory.c.id,
            territory.c.name,
            territory.c.parent_id,
            territory.c.type_id,
            territory_model.c.name,
            territory.c.description,
        )
        .join(territory_model, territory_model.c.id == territory.c.model_id)
        .where(territory.c.model_id == model_id)
        .order_by(territory.c.id),
        {n: pl.String() for n in schema_of("territories").names},
    )
    return frame.with_columns(
        pl.when(pl.col("description") == "")
        .then(None)
        .otherwise(pl.col("description"))
        .alias("description")
    )


def _export_assignments(conn: Connection, model: str | None) -> pl.DataFrame:
    model_id, _ = _model(conn, model)
    t = account_assignment
    names = schema_of("assignments").names
    return _frame(
        conn,
        select(*[t.c[n] for n in names])
        .where(t.c.model_id == model_id, t.c.cause.in_(("manual", "import")))
        .order_by(t.c.account_id, t.c.territory_id),
        _schema_dtypes("assignments", names),
    )


def _export_memberships(conn: Connection, model: str | None) -> pl.DataFrame:
    model_id, _ = _model(conn, model)
    t = territory_membership
    names = schema_of("memberships").names
    return _frame(
        conn,
        select(*[t.c[n] for n in names])
        .where(t.c.model_id == model_id)
        .order_by(t.c.territory_id, t.c.rep_id, t.c.role, t.c.start_date),
        _schema_dtypes("memberships", names),
    )


def _routing_model(conn: Connection, model: str | None) -> str | None:
    """The model whose territories an opportunity export gives: named, or active."""
    if model is not None:
        return _model(conn, model)[0]
    try:
        return _model(conn, None)[0]
    except NotFound:
        return None  # no model named or active: opportunities without territory


def _export_opportunities(conn: Connection, model: str | None) -> pl.DataFrame:
    names = tuple(n for n in schema_of("opportunities").names if n != "splits")
    model_id = _routing_model(conn, model)
    ot = opportunity_territory
    routed = opportunity.outerjoin(
        ot, (ot.c.model_id == model_id) & (ot.c.opportunity_id == opportunity.c.id)
    )
    base = _frame(
        conn,
        select(
            *[
                (ot.c.territory_id if model_id is not None else null()).label(n)
                if n == "territory_id"
                else opportunity.c[n]
                for n in names
            ]
        )
        .select_from(routed)
        .order_by(opportunity.c.id),
        _schema_dtypes("opportunities", names),
    )
    splits = _frame(
        conn,
        select(
            opportunity_split.c.opportunity_id,
            opportunity_split.c.rep_id,
            opportunity_split.c.percent,
        ).order_by(opportunity_split.c.opportunity_id, opportunity_split.c.rep_id),
        {"id": pl.String(), "rep_id": pl.String(), "percent": pl.Float64()},
    )
    cells = splits.group_by("id", maintain_order=True).agg(
        pl.concat_str(
            [pl.col("rep_id"), pl.lit(":"), pl.col("percent").cast(pl.String)]
        )
        .str.join(";")
        .alias("splits")
    )
    return base.join(cells, on="id", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("name") == "").then(None).otherwise(pl.col("name")).alias("name")
    )


def _export_quotas(conn: Connection, model: str | None) -> pl.DataFrame:
    model_id, _ = _model(conn, model)
    names = schema_of("quotas").names
    return _frame(
        conn,
        select(*[quota.c[n] for n in names])
        .where(quota.c.model_id == model_id)
        .order_by(quota.c.period, quota.c.territory_id, quota.c.rep_id),
        _schema_dtypes("quotas", names),
    )


_EXPORTERS: dict[str, Callable[[Connection, str | None], pl.DataFrame]] = {
    "accounts": _export_accounts,
    "reps": _export_simple("reps", rep, ("id",)),
    "units": _export_units,
    "territories": _export_territories,
    "assignments": _export_assignments,
    "memberships": _export_memberships,
    "opportunities": _export_opportunities,
    "sales": _export_simple("sales", sales_history, ("account_id", "period")),
    "quotas": _export_quotas,
}

_MODEL_ENTITIES = ("territories", "assignments", "memberships", "quotas")

#: Column layouts an export can write: territory's snake_case names, or the
#: API names of a Salesforce Data Loader file (accounts only).
LAYOUTS = ("territory", "salesforce")


def _check_layout(entity: str, layout: str) -> None:
    if layout not in LAYOUTS:
        raise InputError(
            f"Unknown export format '{layout}'; choose one of {', '.join(LAYOUTS)}.",
            code="unknown_export_format",
            details={"format": layout},
        )
    if layout == "salesforce" and entity != "accounts":
        raise InputError(
            f"Only accounts export in the Salesforce format, not {entity}; a "
            "Salesforce territory setup is written by `territory rules export` "
            "and its assignments by `territory rules export-assignments`.",
            code="unknown_export_format",
            details={"format": layout, "entity": entity},
        )


def _salesforce_accounts(frame: pl.DataFrame) -> pl.DataFrame:
    """Return accounts under Data Loader names, without territory's own columns.

    Coordinates of accounts placed by their ZIP code are that ZIP's centroid,
    not a geocode of the account, and are left blank.
    """
    schema = schema_of("accounts")
    standard = [f for f in schema.fields if f.salesforce is not None]
    customs = [
        c for c in frame.columns if c not in schema.names and c not in schema.derived
    ]
    taken = {str(f.salesforce).lower() for f in standard}
    clash = [c for c in customs if c.lower() in taken]
    if clash:
        raise InputError(
            f"Custom field(s) {', '.join(clash)} have the name of a Salesforce "
            "standard field, so a Data Loader file cannot hold them beside it; "
            "export with the territory format, or rename the custom field by "
            "importing it under another name.",
            code="salesforce_name_clash",
            details={"fields": clash},
        )
    measured = pl.col("placed_by") == "coordinates"
    return frame.select(
        *[
            (
                pl.when(measured).then(pl.col(f.name))
                if f.name in ("latitude", "longitude")
                else pl.col(f.name)
            ).alias(str(f.salesforce))
            for f in standard
        ],
        *customs,
    )


def export_frame(
    engine: Engine,
    entity: str,
    *,
    model: str | None = None,
    layout: str = "territory",
) -> pl.DataFrame:
    """Return ``entity`` as the typed frame an export would write.

    ``layout`` ``salesforce`` names the account columns as a Salesforce Data
    Loader file does (``Id``, ``BillingPostalCode``, custom fields as they
    are) and leaves out territory's own (``is_sample``, ``county_id``,
    ``zip_id``, ``placed_by``).

    Raises
    ------
    InputError
        When the entity or layout is unknown, or a model is needed and none
        is named or active (``NotFound``).
    """
    check_entity(entity)
    _check_layout(entity, layout)
    with engine.connect() as conn:
        frame = _EXPORTERS[entity](conn, model)
    return _salesforce_accounts(frame) if layout == "salesforce" else frame


def export_file(
    engine: Engine,
    entity: str,
    path: str | Path,
    *,
    model: str | None = None,
    layout: str = "territory",
) -> ExportReport:
    """Write ``entity`` to ``path`` (format by extension); return what was written.

    ``layout`` as for :func:`export_frame`.

    Raises
    ------
    InputError
        When the entity, layout or extension is unknown, the file cannot be
        written, or a model is needed and none is named or active
        (``NotFound``).
    """
    check_entity(entity)
    _check_layout(entity, layout)
    path = Path(path)
    with engine.connect() as conn:
        frame = _EXPORTERS[entity](conn, model)
        model_name = _model(conn, model)[1] if entity in _MODEL_ENTITIES else None
    if layout == "salesforce":
        frame = _salesforce_accounts(frame)
    write_table(frame, path)
    return ExportReport(
        entity, path.name, frame.height, tuple(frame.columns), model_name
    )
