"""Read one territory model into columnar frames for measuring and allocating.

A :class:`Plan` holds the model's territories (indexed ``0..n-1`` in id
order, with their hierarchy), every account assignment joined to the
account's firmographics, the memberships and the reps. Sizing, staffing,
quota and metrics all start from it, so they read the store the same way.
Reads use plain ``SELECT`` statements and build polars frames column by
column; nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, Float, String, and_, case, func, literal, or_, select

from territory.domain import TerritoryModel
from territory.errors import InputError
from territory.metrics.hierarchy import Hierarchy, build_hierarchy
from territory.metrics.period import Period
from territory.services.location import with_effective_location
from territory.services.models import resolve_model
from territory.services.reading import fetch_columns, read_frame
from territory.storage import tables as t

__all__ = [
    "Plan",
    "balance_peers",
    "fetch_columns",
    "load_plan",
    "read_accounts",
    "read_frame",
    "region_roots",
    "sales_by_account",
    "unit_metric_frame",
]


@dataclass(frozen=True, slots=True)
class Plan:
    """A territory model as frames.

    ``territories``: ``t_idx, territory_id, name, parent_id, parent_idx,
    depth, root_idx, is_leaf`` (one row per territory, ``t_idx`` = row).
    ``assignments``: one row per account assignment, ordered by account id
    as the store orders it — ``account_id, t_idx,
    annual_revenue, employees, industry, county_id, zip_id, latitude,
    longitude, imported_potential, located_by`` — ``latitude, longitude``
    are the account's *effective location* (its coordinates, else its ZIP
    unit's centroid, else its county unit's; ``located_by`` says which, null
    for none: see :mod:`territory.services.location`). ``memberships``:
    ``t_idx, rep_id, role, start_date, end_date`` (those in force on
    ``as_of``). ``reps``: ``rep_id, name, home_lat, home_lon, capacity,
    active``.
    """

    model: TerritoryModel
    territories: pl.DataFrame
    hierarchy: Hierarchy
    assignments: pl.DataFrame
    memberships: pl.DataFrame
    reps: pl.DataFrame
    as_of: date

    @property
    def n_territories(self) -> int:
        """Return the number of territories in the model."""
        return self.territories.height

    def owners(self) -> pl.DataFrame:
        """Return ``t_idx, rep_id`` of each territory's owner (first by rep id)."""
        return (
            self.memberships.filter(pl.col("role") == "owner")
            .sort(["t_idx", "rep_id"])
            .unique(subset="t_idx", keep="first", maintain_order=True)
            .select("t_idx", "rep_id")
        )


def _territories(conn: Connection, model_id: str) -> pl.DataFrame:
    df = read_frame(
        conn,
        select(
            t.territory.c.id,
            t.territory.c.name,
            t.territory.c.parent_id,
            t.territory.c.type_id,
        )
        .where(t.territory.c.model_id == model_id)
        .order_by(t.territory.c.id),
        {
            "territory_id": pl.String,
            "name": pl.String,
            "parent_id": pl.String,
            "type_id": pl.String,
        },
    )
    return df.with_row_index("t_idx").with_columns(pl.col("t_idx").cast(pl.Int64))


def balance_peers(territories: pl.DataFrame) -> np.ndarray:
    """Return which territories are compared for balance: the leaves of the
    plan's main territory type.

    Overlay territories (another type, e.g. an industry overlay) cover the
    same accounts a second time and are not peers of the geographic
    territories, so balance indices, charts and comparisons use the leaves of
    the type most leaves have (no type counts as a type; a tie goes to no
    type, then to the smallest type id).

    Examples
    --------
    >>> frame = pl.DataFrame({
    ...     "is_leaf": [True, True, True, False],
    ...     "type_id": [None, None, "overlay", None],
    ... })
    >>> balance_peers(frame).tolist()
    [True, True, False, False]
    """
    leaf: npt.NDArray[np.bool_] = territories["is_leaf"].to_numpy().astype(bool)
    types = territories["type_id"].to_list()
    counts: dict[str | None, int] = {}
    for k in np.flatnonzero(leaf):
        counts[types[k]] = counts.get(types[k], 0) + 1
    if not counts:
        return leaf
    main = min(counts, key=lambda ty: (-counts[ty], ty is not None, ty or ""))
    of_main: npt.NDArray[np.bool_] = np.array([ty == main for ty in types], dtype=bool)
    return leaf & of_main


def region_roots(territories: pl.DataFrame) -> np.ndarray:
    """Return which territories are regions: roots of the main type's hierarchy.

    A region is a top-level territory whose tree holds a leaf of the main
    territory type (:func:`balance_peers`). Other top-level territories are
    **overlays** (an industry overlay, a named-account team): they cover the
    regions' accounts a second time, so region figures, balance and
    headcount leave them out and show them apart. ``territories`` needs the
    columns of :attr:`Plan.territories` (``root_idx``, ``depth``, ``is_leaf``,
    ``type_id``).

    Examples
    --------
    >>> frame = pl.DataFrame({
    ...     "t_idx": [0, 1, 2, 3], "depth": [0, 1, 1, 0], "root_idx": [0, 0, 0, 3],
    ...     "is_leaf": [False, True, True, True],
    ...     "type_id": [None, None, None, "overlay"],
    ... })
    >>> region_roots(frame).tolist()
    [True, False, False, False]
    """
    peers = balance_peers(territories)
    root = territories["root_idx"].to_numpy()
    is_region = np.zeros(territories.height, dtype=bool)
    is_region[root[peers]] = True
    top: npt.NDArray[np.bool_] = territories["depth"].to_numpy() == 0
    return is_region & top


def _hierarchy(territories: pl.DataFrame) -> tuple[pl.DataFrame, Hierarchy]:
    index = dict(
        zip(
            territories["territory_id"].to_list(),
            territories["t_idx"].to_list(),
            strict=True,
        )
    )
    parents: list[int] = []
    for tid, pid in zip(
        territories["territory_id"].to_list(),
        territories["parent_id"].to_list(),
        strict=True,
    ):
        if pid is None:
            parents.append(-1)
        elif pid in index:
            parents.append(index[pid])
        else:
            raise InputError(
                f"Territory '{tid}' names parent '{pid}', which is not in the "
                "model; fix the parent or create it.",
                code="territory_parent_missing",
                details={"territory": tid, "parent": pid},
            )
    h = build_hierarchy(np.asarray(parents, dtype=np.int64))
    has_child = np.zeros(h.n, dtype=bool)
    has_child[h.parent[h.parent >= 0]] = True
    frame = territories.with_columns(
        pl.Series("parent_idx", h.parent, dtype=pl.Int64),
        pl.Series("depth", h.depth, dtype=pl.Int64),
        pl.Series("root_idx", h.root, dtype=pl.Int64),
        pl.Series("is_leaf", ~has_child, dtype=pl.Boolean),
    )
    return frame, h


def _imported_columns(conn: Connection, potential_field: str) -> tuple[Any, Any]:
    """Return an account's imported potential as two expressions: number, text.

    SQLite's ``json_extract`` gives a JSON number as an SQL number and a JSON
    string as text; reading them as two typed columns keeps the read
    columnar. PostgreSQL's ``->>`` always gives text. Parameters are spelled
    plainly so the raw cursor can bind them.
    """
    a = t.account
    if conn.dialect.name == "sqlite":
        path = literal(f'$."{potential_field}"', type_=String)
        kind = func.json_type(a.c.custom_fields, path)
        value = func.json_extract(a.c.custom_fields, path)
        # Most accounts have no custom fields: skip the JSON functions then.
        none = a.c.custom_fields.is_(None)
        number = case(
            (none, None),
            (kind.in_(["integer", "real", "true", "false"]), value),
            else_=None,
        )
        return number, case((none, None), (kind == "text", value), else_=None)
    text = a.c.custom_fields.op("->>")(literal(potential_field, type_=String))
    return literal(None, type_=Float), text


_IMPORTED_SCHEMA = {"imported_number": pl.Float64, "imported_text": pl.String}


def _parse_imported(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``imported_potential`` from the two imported columns (then dropped).

    Text must read as a number ("1 000" does not: it stays null); values
    that are not finite are null too.
    """
    value = pl.coalesce(
        pl.col("imported_number"),
        pl.col("imported_text").str.strip_chars().cast(pl.Float64, strict=False),
    )
    return df.with_columns(
        pl.when(value.is_finite())
        .then(value)
        .otherwise(None)
        .alias("imported_potential")
    ).drop("imported_number", "imported_text")


def _assignments(
    conn: Connection, model_id: str, territories: pl.DataFrame, potential_field: str
) -> pl.DataFrame:
    a, aa = t.account, t.account_assignment
    imported = _imported_columns(conn, potential_field)
    stmt = (
        select(
            aa.c.territory_id,
            a.c.id,
            a.c.annual_revenue,
            a.c.employees,
            a.c.industry,
            a.c.county_id,
            a.c.zip_id,
            a.c.latitude,
            a.c.longitude,
            *imported,
        )
        .select_from(aa.join(a, a.c.id == aa.c.account_id))
        .where(aa.c.model_id == model_id)
        # The key's order (free on the primary key): sorted joins downstream.
        .order_by(aa.c.account_id, aa.c.territory_id)
    )
    df = read_frame(
        conn,
        stmt,
        {
            "territory_id": pl.String,
            "account_id": pl.String,
            "annual_revenue": pl.Float64,
            "employees": pl.Float64,
            "industry": pl.String,
            "county_id": pl.String,
            "zip_id": pl.String,
            "latitude": pl.Float64,
            "longitude": pl.Float64,
            **_IMPORTED_SCHEMA,
        },
        large=True,
    )
    df = with_effective_location(conn, _parse_imported(df))
    idx = territories.select("territory_id", "t_idx")
    return (
        df.join(idx, on="territory_id", how="left", maintain_order="left")
        .drop("territory_id")
        .select("account_id", "t_idx", pl.exclude("account_id", "t_idx"))
    )


def read_accounts(
    conn: Connection,
    potential_field: str = "potential",
    *,
    account_ids: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Return the stored accounts with the columns the measures read.

    Columns: ``account_id, annual_revenue, employees, industry, county_id,
    zip_id, latitude, longitude, imported_potential`` (one row per account,
    by id), read as :func:`load_plan` reads a model's assignments, so a
    design balances the same potential that quota and metrics measure.
    ``account_ids`` limits the read to those accounts (default: all).
    ``latitude, longitude`` are the stored coordinates (null for an account
    placed by ZIP or county); measures take the effective location from
    :func:`territory.services.location.with_effective_location`, as
    :func:`load_plan` does.
    """
    a = t.account
    stmt = select(
        a.c.id,
        a.c.annual_revenue,
        a.c.employees,
        a.c.industry,
        a.c.county_id,
        a.c.zip_id,
        a.c.latitude,
        a.c.longitude,
        *_imported_columns(conn, potential_field),
    ).order_by(a.c.id)
    schema = {
        "account_id": pl.String,
        "annual_revenue": pl.Float64,
        "employees": pl.Float64,
        "industry": pl.String,
        "county_id": pl.String,
        "zip_id": pl.String,
        "latitude": pl.Float64,
        "longitude": pl.Float64,
        **_IMPORTED_SCHEMA,
    }
    if account_ids is None:
        return _parse_imported(read_frame(conn, stmt, schema, large=True))
    ids = sorted(set(account_ids))
    frames = [
        read_frame(conn, stmt.where(a.c.id.in_(ids[k : k + 500])), schema)
        for k in range(0, len(ids), 500)
    ]
    if not frames:
        return _parse_imported(pl.DataFrame(schema=schema))
    return _parse_imported(pl.concat(frames))


def _memberships(
    conn: Connection, model_id: str, territories: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    m = t.territory_membership
    # SQLite stores dates as ISO text; the raw cursor needs it spelled so.
    day: Any = as_of.isoformat() if conn.dialect.name == "sqlite" else as_of
    df = read_frame(
        conn,
        select(m.c.territory_id, m.c.rep_id, m.c.role, m.c.start_date, m.c.end_date)
        .where(m.c.model_id == model_id)
        .where(or_(m.c.end_date.is_(None), m.c.end_date >= day))
        .where(or_(m.c.start_date.is_(None), m.c.start_date <= day))
        .order_by(m.c.territory_id, m.c.role, m.c.rep_id),
        {
            "territory_id": pl.String,
            "rep_id": pl.String,
            "role": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )
    idx = territories.select("territory_id", "t_idx")
    return df.join(idx, on="territory_id", how="inner").select(
        "t_idx", "rep_id", "role", "start_date", "end_date"
    )


def _reps(conn: Connection) -> pl.DataFrame:
    r = t.rep
    return read_frame(
        conn,
        select(
            r.c.id, r.c.name, r.c.home_lat, r.c.home_lon, r.c.capacity, r.c.active
        ).order_by(r.c.id),
        {
            "rep_id": pl.String,
            "name": pl.String,
            "home_lat": pl.Float64,
            "home_lon": pl.Float64,
            "capacity": pl.Float64,
            "active": pl.Boolean,
        },
    )


def load_plan(
    conn: Connection,
    model_name: str | None,
    *,
    as_of: date | None = None,
    potential_field: str = "potential",
) -> Plan:
    """Read the model named ``model_name`` (default: the active one).

    ``potential_field`` names the account custom field that, when it holds a
    number, replaces the potential formula for that account.

    Raises
    ------
    NotFound
        When the model does not exist (or none is active).
    InputError
        When the model has no territories or a parent link is broken.
    """
    model = resolve_model(conn, model_name)
    territories = _territories(conn, model.id)
    if territories.height == 0:
        raise InputError(
            f"Model '{model.name}' has no territories; design or import them "
            "first (for example `territory design`).",
            code="model_empty",
            details={"model": model.name},
        )
    territories, hierarchy = _hierarchy(territories)
    when = as_of or date.today()
    return Plan(
        model=model,
        territories=territories,
        hierarchy=hierarchy,
        assignments=_assignments(conn, model.id, territories, potential_field),
        memberships=_memberships(conn, model.id, territories, when),
        reps=_reps(conn),
        as_of=when,
    )


def sales_by_account(
    conn: Connection, period: Period, account_ids: Sequence[str] | None = None
) -> pl.DataFrame:
    """Return ``account_id, sales`` summed over every stored period inside ``period``.

    Finer periods roll up (``2027-03`` counts in ``2027-Q1`` and ``2027``);
    coarser rows never split, so a yearly row does not count in a quarter.
    """
    sh = t.sales_history
    stmt = (
        select(sh.c.account_id, func.sum(sh.c.amount))
        .where(sh.c.period.in_(period.members()))
        .group_by(sh.c.account_id)
        .order_by(sh.c.account_id)
    )
    if account_ids is not None:
        stmt = stmt.where(sh.c.account_id.in_(list(account_ids)))
    return read_frame(
        conn, stmt, {"account_id": pl.String, "sales": pl.Float64}, large=True
    )


def unit_metric_frame(
    conn: Connection, kind: str, metrics: Sequence[str]
) -> pl.DataFrame:
    """Return ``unit_id`` and one column per metric for geo units of ``kind``."""
    gm = t.geo_unit_metric
    long = read_frame(
        conn,
        select(gm.c.unit_id, gm.c.metric, gm.c.value).where(
            and_(gm.c.kind == kind, gm.c.metric.in_(list(metrics)))
        ),
        {"unit_id": pl.String, "metric": pl.String, "value": pl.Float64},
    )
    out = pl.DataFrame(schema={"unit_id": pl.String})
    if long.height:
        out = long.pivot(on="metric", index="unit_id", values="value")
    for m in metrics:
        if m not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(m))
    return out.select("unit_id", *metrics)
