"""Performance tracking: the measures of every territory, rep and region.

For one model and one period this computes, per territory (a parent
including all its descendants), per rep or per region (top level):
accounts, potential, sales, quota, attainment, penetration, open pipeline
and pipeline coverage, workload and utilisation, compactness and
contiguity, plus balance indices across the compared rows. Definitions of
the ratios and their undefined cases are in :mod:`territory.metrics.performance`.

Counting rules:

* an account counts once in a parent even when it sits in two of its
  children; workload, however, is work done in each territory and adds up;
* sales are the account's sales-history rows inside the period (finer
  periods roll up; a coarser row is not split);
* an open opportunity counts for the territory it names when that territory
  is in the model, else for every territory its account is in. A rep is
  credited by split percentage where the opportunity has splits, else each
  owner of a territory the opportunity counts for gets it in full;
* quota is the sum of the model's quota rows inside the period; when there
  are none, a row of the period containing it is pro-rated by length
  (a year's quota ÷ 4 for a quarter). A territory without a row of its own
  gets the sum of its children's;
* rep figures cover every territory the rep is a member of (owner, overlay
  or manager), with descendants; a rep's workload and capacity are those of
  the territories the rep owns; a rep's quota is the sum of the rep's own
  quota rows, else of the quotas of the territories the rep owns or manages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl
from numba import njit
from sqlalchemy import Boolean, Connection, Engine, exists, func, literal, select

from territory.errors import InputError
from territory.io.tabular import os_reason
from territory.metrics.balance import BalanceIndices, balance_indices
from territory.metrics.compactness import (
    hull_candidates,
    inertia_from_moments,
    point_moments,
    points_diameter_km,
)
from territory.metrics.contiguity import count_pieces
from territory.metrics.performance import (
    attainment,
    penetration,
    pipeline_coverage,
    quota_met,
    utilisation,
)
from territory.metrics.period import Grain, Period, parse_period
from territory.services.location import describe_unlocated
from territory.services.models import resolve_model
from territory.services.output_path import check_output_file
from territory.services.plan import (
    Plan,
    balance_peers,
    load_plan,
    read_frame,
    region_roots,
    sales_by_account,
)
from territory.services.reading import is_memory_store
from territory.services.sorted_keys import has_repeats, left_join_sorted
from territory.services.workload import WorkloadConfig, account_measures
from territory.storage import tables as t

__all__ = [
    "BALANCE_MEASURES",
    "Level",
    "MetricsResult",
    "check_metrics_path",
    "compute_metrics",
    "metadata_path",
    "metrics_metadata",
    "resolve_period",
    "write_metrics",
]

_log = logging.getLogger(__name__)
Level = Literal["territory", "rep", "region"]
Progress = Callable[[str], None]
FloatArray = npt.NDArray[np.float64]
_T = TypeVar("_T")

#: Measures whose spread across territories (reps, regions) is reported.
BALANCE_MEASURES: tuple[str, ...] = (
    "accounts",
    "potential",
    "sales",
    "quota",
    "open_pipeline",
    "workload_hours",
)


@dataclass(frozen=True, slots=True)
class MetricsResult:
    """The metrics table of one model, level and period.

    ``table`` has one row per territory, rep or region (columns listed in
    docs/metrics.md); ``balance`` gives the indices of each measure in
    :data:`BALANCE_MEASURES` across ``compared`` rows (leaf territories,
    owning reps or regions). ``notes`` lists anything left out, with counts.
    """

    model: str
    level: Level
    period: str
    table: pl.DataFrame
    balance: tuple[BalanceIndices, ...]
    compared: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Ids of the rows the balance compares (territory level: the leaves of
    #: the main territory type; region level: the regions, not the
    #: overlays; empty: every row of ``table``).
    compared_ids: tuple[str, ...] = ()
    #: Distinct accounts in the model (an account in two territories, or in
    #: a region and an overlay, counts once).
    n_accounts: int = 0

    def compared_rows(self) -> pl.DataFrame:
        """Return the rows of ``table`` that the balance indices compare."""
        if not self.compared_ids:
            return self.table
        key = self.table.columns[0]
        return self.table.filter(pl.col(key).is_in(list(self.compared_ids)))


# --------------------------------------------------------------------------- #
# reading


def resolve_period(conn: Connection, model_id: str, period: str | None) -> Period:
    """Return ``period`` parsed, or the model's latest quota period, or the
    latest year with sales, or the current year.

    Raises
    ------
    InputError
        When ``period`` is not a valid period.
    """
    if period is not None:
        return parse_period(period)
    q = conn.execute(
        select(func.max(t.quota.c.period)).where(t.quota.c.model_id == model_id)
    ).scalar()
    if q:
        return parse_period(str(q)[:4])
    s = conn.execute(select(func.max(t.sales_history.c.period))).scalar()
    if s:
        return parse_period(str(s)[:4])
    from datetime import date

    return Period(date.today().year)


def _quota_rows(
    conn: Connection, model_id: str, period: Period
) -> tuple[pl.DataFrame, list[str]]:
    """Return the quota rows that count for ``period``, and notes on them.

    Rows inside the period are summed; without any, the quota of the
    quarter or year containing it is pro-rated by length. The notes say
    what was summed when it is not simply the period's own rows: a quota
    pro-rated from a coarser period, or rows that cover only part of the
    period (a quarter's quota for a year).
    """
    q = t.quota
    schema = {
        "territory_id": pl.String,
        "rep_id": pl.String,
        "period": pl.String,
        "amount": pl.Float64,
    }
    members, outer = period.members(), period.coarser()
    rows = read_frame(
        conn,
        select(q.c.territory_id, q.c.rep_id, q.c.period, q.c.amount).where(
            (q.c.model_id == model_id) & q.c.period.in_(members + outer)
        ),
        schema,
    )
    inside = rows.filter(pl.col("period").is_in(members))
    if inside.height:
        return inside.drop("period"), _partial_quota_note(inside, period)
    months = {Grain.YEAR: 12, Grain.QUARTER: 3, Grain.MONTH: 1}
    for text in outer:  # finest first
        found = rows.filter(pl.col("period") == text)
        if found.height:
            grain = parse_period(text).grain
            share = months[period.grain] / months[grain]
            note = (
                f"quota: no quota row lies inside {period}; the {text} quota is "
                f"pro-rated by length ({months[period.grain]} of "
                f"{months[grain]} months, {found.height:,} rows)"
            )
            return (
                found.drop("period").with_columns(pl.col("amount") * share),
                [note],
            )
    return inside.drop("period"), []


def _partial_quota_note(inside: pl.DataFrame, period: Period) -> list[str]:
    """Say when quota rows cover only part of ``period`` (e.g. one quarter)."""
    wanted = period.months()
    covered: dict[tuple[str | None, str | None], set[int]] = {}
    texts: dict[tuple[str | None, str | None], set[str]] = {}
    for tid, rid, text in inside.select("territory_id", "rep_id", "period").iter_rows():
        key = (tid, rid)
        covered.setdefault(key, set()).update(parse_period(text).months())
        texts.setdefault(key, set()).add(text)
    partial = [k for k, m in covered.items() if m != wanted]
    if not partial:
        return []
    shapes: dict[tuple[str, ...], int] = {}
    for k in partial:
        shape = tuple(sorted(texts[k]))
        shapes[shape] = shapes.get(shape, 0) + 1
    common = sorted(shapes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    n_months = len(set().union(*(parse_period(p).months() for p in common)))
    return [
        f"quota: {len(partial):,} of {len(covered):,} quota holders have rows for "
        f"only part of {period} (most often {', '.join(common)}: {n_months} of "
        f"{len(wanted)} months); those rows are summed as the quota of {period}, "
        "so attainment compares the whole period's sales with part of its quota"
    ]


@dataclass(frozen=True, slots=True)
class _Pipeline:
    """Open pipeline, summed in the store.

    ``by_account``: ``account_id, pipe, pipe_unsplit`` for opportunities that
    name no territory of the model; ``named``: ``territory_id`` (then
    ``t_idx``), ``pipe, pipe_unsplit`` for those that do; ``split_credit``:
    ``rep_id, credit``; ``manager_splits``: ``rep_id, account_id,
    territory_id, credit`` of the splits that name a rep who manages a
    territory of the model (a manager already holds the whole pipeline of
    the territories managed, so those splits must not count twice).
    """

    by_account: pl.DataFrame
    named: pl.DataFrame
    split_credit: pl.DataFrame
    manager_splits: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=_MANAGER_SPLITS)
    )


_MANAGER_SPLITS: dict[str, type[pl.DataType]] = {
    "rep_id": pl.String,
    "account_id": pl.String,
    "territory_id": pl.String,
    "credit": pl.Float64,
}


def _open_pipeline(
    conn: Connection, model_id: str, period: Period, *, with_splits: bool
) -> _Pipeline:
    """Sum open pipeline in the store; split columns only when asked (rep level).

    Open pipeline is what may still close within ``period``: open
    opportunities whose close date is on or before the period's last day
    (overdue ones included, still to be won) or not set.
    """
    o, s, ot = t.opportunity, t.opportunity_split, t.opportunity_territory
    # the opportunity's territory in this model (none without a row)
    routed = o.outerjoin(
        ot, (ot.c.model_id == model_id) & (ot.c.opportunity_id == o.c.id)
    )
    # SQLite keeps dates as ISO text; the raw cursor needs it spelled so.
    last: Any = period.last_day()
    if conn.dialect.name == "sqlite":
        last = last.isoformat()
    is_open = o.c.is_closed.is_(False) & (
        o.c.close_date.is_(None) | (o.c.close_date <= last)
    )
    # One scan of the open opportunities, summed here: grouping in the store
    # would walk the account index and look every opportunity up.
    split = (
        exists().where(s.c.opportunity_id == o.c.id)
        if with_splits
        else literal(False, type_=Boolean)
    )
    rows = read_frame(
        conn,
        select(
            o.c.account_id,
            ot.c.territory_id,
            o.c.amount,
            split,
        )
        .select_from(routed)
        .where(is_open),
        {
            "account_id": pl.String,
            "territory_id": pl.String,
            "amount": pl.Float64,
            "split": pl.Boolean,
        },
        large=True,
    )
    sums = [
        pl.col("amount").sum().alias("pipe"),
        (
            pl.when(pl.col("split")).then(0.0).otherwise(pl.col("amount")).sum()
            if with_splits
            else pl.lit(0.0)
        ).alias("pipe_unsplit"),
    ]
    is_named = pl.col("territory_id").is_not_null()
    by_account = (
        rows.filter(~is_named).group_by("account_id").agg(sums).sort("account_id")
    )
    named_rows = (
        rows.filter(is_named).group_by("territory_id").agg(sums).sort("territory_id")
    )
    split_credit = (
        read_frame(
            conn,
            select(s.c.rep_id, func.sum(o.c.amount * s.c.percent / 100.0))
            .select_from(s.join(o, o.c.id == s.c.opportunity_id))
            .where(is_open)
            .group_by(s.c.rep_id),
            {"rep_id": pl.String, "credit": pl.Float64},
        )
        if with_splits
        else pl.DataFrame(schema={"rep_id": pl.String, "credit": pl.Float64})
    )
    manager_splits = pl.DataFrame(schema=_MANAGER_SPLITS)
    if with_splits:
        manager_splits = _manager_splits(conn, model_id, is_open)
    return _Pipeline(
        by_account=by_account,
        named=named_rows,
        split_credit=split_credit,
        manager_splits=manager_splits,
    )


def _manager_splits(conn: Connection, model_id: str, is_open: Any) -> pl.DataFrame:
    """Return the open split credit of reps who manage a territory of the model.

    ``rep_id, account_id, territory_id, credit`` (the territory the
    opportunity names in the model, else null). Splits seldom name a
    manager: the managers named in any split are found first (one pass over
    the split keys), and only their splits are summed.
    """
    m, s, o = t.territory_membership, t.opportunity_split, t.opportunity
    ot = t.opportunity_territory
    managers = [
        r[0]
        for r in conn.execute(
            select(m.c.rep_id)
            .where((m.c.model_id == model_id) & (m.c.role == "manager"))
            .distinct()
        )
    ]
    named = (
        [
            r[0]
            for r in conn.execute(
                select(s.c.rep_id).where(s.c.rep_id.in_(managers)).distinct()
            )
        ]
        if managers
        else []
    )
    if not named:
        return pl.DataFrame(schema=_MANAGER_SPLITS)
    return read_frame(
        conn,
        select(
            s.c.rep_id,
            o.c.account_id,
            ot.c.territory_id,
            func.sum(o.c.amount * s.c.percent / 100.0),
        )
        .select_from(
            s.join(o, o.c.id == s.c.opportunity_id).outerjoin(
                ot, (ot.c.model_id == model_id) & (ot.c.opportunity_id == o.c.id)
            )
        )
        .where(is_open & s.c.rep_id.in_(named))
        .group_by(s.c.rep_id, o.c.account_id, ot.c.territory_id),
        _MANAGER_SPLITS,
    )


def _index_named(pipeline: _Pipeline, plan: Plan) -> tuple[_Pipeline, int]:
    """Replace named territory ids by indices; return how many are unknown."""
    joined = pipeline.named.join(
        plan.territories.select("territory_id", "t_idx"), on="territory_id", how="inner"
    )
    return (
        _Pipeline(
            by_account=pipeline.by_account,
            named=joined.select("t_idx", "pipe", "pipe_unsplit"),
            split_credit=pipeline.split_credit,
            manager_splits=pipeline.manager_splits,
        ),
        pipeline.named.height - joined.height,
    )


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a period adds to a plan: sales, pipeline, quota rows, and notes
    on what was summed (periods that could not be split or cover part)."""

    sales: pl.DataFrame
    pipeline: _Pipeline
    quota_rows: pl.DataFrame
    notes: tuple[str, ...] = ()


def _period_sales(conn: Connection, period: Period) -> tuple[pl.DataFrame, list[str]]:
    """Return ``account_id, sales`` of ``period`` and a note on coarser rows.

    A row of a coarser period (a quarter's sales when a month is asked)
    cannot be split, so it does not count; the same scan counts the
    accounts that hold one, so the note can say what was left out. A year
    has no coarser period: then this is :func:`sales_by_account`.
    """
    outer = period.coarser()
    if not outer:
        return sales_by_account(conn, period), []
    sh = t.sales_history
    members = period.members()
    stmt = (
        select(
            sh.c.account_id,
            # rows are members or coarser: "not coarser" is the cheaper test
            func.sum(sh.c.amount).filter(sh.c.period.not_in(outer)),
            *[func.count().filter(sh.c.period == p) for p in outer],
        )
        .where(sh.c.period.in_(members + outer))
        .group_by(sh.c.account_id)
        .order_by(sh.c.account_id)
    )
    counts = [f"coarser_{k}" for k in range(len(outer))]
    both = read_frame(
        conn,
        stmt,
        {
            "account_id": pl.String,
            "sales": pl.Float64,
            **dict.fromkeys(counts, pl.Int64),
        },
        large=True,
    )
    sales = both.filter(pl.col("sales").is_not_null()).drop(counts)
    held = [(p, int((both[c] > 0).sum())) for p, c in zip(outer, counts, strict=True)]
    held = [(p, n) for p, n in held if n]
    if not held:
        return sales, []
    named = " and ".join(f"{p} ({n:,} accounts)" for p, n in held)
    return sales, [
        f"sales: rows of {named} are coarser than {period} and cannot be split, "
        f"so none of them counts in {period}; summed: the rows of {period}"
        + (" and the months inside it" if len(members) > 1 else "")
        + f", found for {sales.height:,} accounts; ask for --period {held[0][0]} "
        "to count them"
    ]


def _years(values: list[str]) -> str:
    """Name the years of ``values`` (periods or dates as text), in ranges.

    Examples
    --------
    >>> _years(["2025", "2026-03", "2026Q1", "2027-01-15", "2030"])
    '2025–2027, 2030'
    """
    years = sorted({int(v[:4]) for v in values if v[:4].isdigit()})
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def _empty_period_note(conn: Connection, model_id: str, period: Period) -> str:
    """Say that ``period`` holds no sales, quota or open pipeline, and where data is.

    Called when all three came back empty, so a table of zeros is not
    mistaken for a period of no business.
    """
    sh, q, o = t.sales_history, t.quota, t.opportunity
    sales = [str(x) for x in conn.execute(select(sh.c.period).distinct()).scalars()]
    quota = [
        str(x)
        for x in conn.execute(
            select(q.c.period).where(q.c.model_id == model_id).distinct()
        ).scalars()
    ]
    due = conn.execute(
        select(func.min(o.c.close_date)).where(o.c.is_closed.is_(False))
    ).scalar()
    where = [
        f"sales history {_years(sales)}" if sales else "no sales history",
        f"the model's quota {_years(quota)}" if quota else "no quota",
        f"open opportunities due from {str(due)[:7]}"
        if due is not None
        else "no open pipeline",
    ]
    # The period metrics would pick by default: the latest quota year, else
    # the latest sales year (as resolve_period does).
    latest = _years(quota or sales)[-4:]
    ask = f"; ask for --period {latest}" if latest else ""
    return (
        f"{period}: the store has no sales history, quota or open pipeline in this "
        "period, so sales, quota, attainment and pipeline are 0 (potential and "
        f"workload do not depend on the period). Data is there for other periods: "
        f"{', '.join(where)}{ask}"
    )


def _read_facts(
    engine: Engine | Connection, model_id: str, period: Period, with_splits: bool
) -> _Facts:
    if isinstance(engine, Connection):
        sales, sales_notes = _period_sales(engine, period)
        quota_rows, quota_notes = _quota_rows(engine, model_id, period)
        return _Facts(
            sales=sales,
            pipeline=_open_pipeline(engine, model_id, period, with_splits=with_splits),
            quota_rows=quota_rows,
            notes=(*sales_notes, *quota_notes),
        )
    with engine.connect() as conn:
        return _read_facts(conn, model_id, period, with_splits)


def _on_own_connection(engine: Engine, read: Callable[..., _T], *args: object) -> _T:
    """Run ``read(conn, *args)`` on a connection of its own (for a worker)."""
    with engine.connect() as conn:
        return read(conn, *args)


def _pipeline_and_quota(
    conn: Connection, model_id: str, period: Period, with_splits: bool
) -> tuple[_Pipeline, tuple[pl.DataFrame, list[str]]]:
    return (
        _open_pipeline(conn, model_id, period, with_splits=with_splits),
        _quota_rows(conn, model_id, period),
    )


@dataclass(frozen=True, slots=True)
class _FactsJobs:
    """The facts of a period being read by workers."""

    sales: Future[tuple[pl.DataFrame, list[str]]]
    rest: Future[tuple[_Pipeline, tuple[pl.DataFrame, list[str]]]]

    def result(self) -> _Facts:
        pipeline, (quota_rows, quota_notes) = self.rest.result()
        sales, sales_notes = self.sales.result()
        return _Facts(sales, pipeline, quota_rows, (*sales_notes, *quota_notes))


def _unit_labels(
    conn: Connection, plan: Plan
) -> tuple[npt.NDArray[np.int64], object] | None:
    ua = t.unit_assignment
    units = read_frame(
        conn,
        select(ua.c.unit_kind, ua.c.unit_id, ua.c.territory_id).where(
            ua.c.model_id == plan.model.id
        ),
        {"kind": pl.String, "unit_id": pl.String, "territory_id": pl.String},
    )
    if units.height == 0:
        return None
    kind = (
        units.group_by("kind")
        .len()
        .sort(["len", "kind"], descending=[True, False])["kind"][0]
    )
    units = units.filter(pl.col("kind") == kind).sort("unit_id")
    ga = t.geo_adjacency
    edges = read_frame(
        conn,
        select(ga.c.contiguity, ga.c.a, ga.c.b).where(ga.c.kind == kind),
        {"contiguity": pl.String, "a": pl.String, "b": pl.String},
    )
    if edges.height:
        best = (
            "queen"
            if (edges["contiguity"] == "queen").any()
            else edges["contiguity"][0]
        )
        edges = edges.filter(pl.col("contiguity") == best)
    import scipy.sparse as sp

    index = (
        units.select("unit_id")
        .with_row_index("u")
        .with_columns(pl.col("u").cast(pl.Int64))
    )
    e = (
        edges.join(index, left_on="a", right_on="unit_id", how="inner")
        .rename({"u": "ia"})
        .join(index, left_on="b", right_on="unit_id", how="inner")
        .rename({"u": "ib"})
    )
    n = units.height
    ia, ib = e["ia"].to_numpy(), e["ib"].to_numpy()
    adj = sp.csr_array(
        (np.ones(2 * ia.size), (np.concatenate([ia, ib]), np.concatenate([ib, ia]))),
        shape=(n, n),
    )
    lab = (
        units.join(
            plan.territories.select("territory_id", "t_idx"),
            on="territory_id",
            how="left",
            maintain_order="left",
        )["t_idx"]
        .fill_null(-1)
        .to_numpy()
        .astype(np.int64)
    )
    return lab, adj


# --------------------------------------------------------------------------- #
# aggregation helpers


def _ancestor_levels(
    plan: Plan, t_idx: npt.NDArray[np.int64]
) -> list[npt.NDArray[np.int64]]:
    """Return, for each step up, the ancestor of every item (-1 past the top)."""
    parent = plan.hierarchy.parent
    levels = [t_idx]
    cur = t_idx
    while True:
        cur = np.where(cur >= 0, parent[np.maximum(cur, 0)], -1)
        if not (cur >= 0).any():
            return levels
        levels.append(cur)


def _rolled_sum(
    plan: Plan, t_idx: npt.NDArray[np.int64], weights: FloatArray
) -> FloatArray:
    n = plan.n_territories
    own = np.bincount(t_idx, weights=weights, minlength=n)
    return plan.hierarchy.roll_up(own)


def _rolled_distinct(
    plan: Plan, frame: pl.DataFrame, columns: list[str], duplicated: bool
) -> dict[str, FloatArray]:
    """Roll account-level columns up the hierarchy, each account once per node.

    ``duplicated`` says whether an account holds more than one row.
    """
    n = plan.n_territories
    t_idx = frame["t_idx"].to_numpy()
    if not duplicated:
        out = {c: _rolled_sum(plan, t_idx, frame[c].to_numpy()) for c in columns}
        out["accounts"] = _rolled_sum(plan, t_idx, np.ones(frame.height))
        return out
    node, anc = plan.hierarchy.closure()
    closure = pl.DataFrame({"t_idx": node, "anc": anc})
    expanded = (
        frame.select("account_id", "t_idx", *columns)
        .join(closure, on="t_idx", how="inner")
        .unique(subset=["account_id", "anc"], keep="first")
        .group_by("anc")
        .agg([pl.len().alias("accounts"), *[pl.col(c).sum() for c in columns]])
    )
    out = {}
    idx = expanded["anc"].to_numpy()
    for c in [*columns, "accounts"]:
        arr = np.zeros(n)
        arr[idx] = expanded[c].to_numpy().astype(np.float64)
        out[c] = arr
    return out


def _compactness(plan: Plan, acc: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
    n = plan.n_territories
    located = acc.filter(
        pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null()
    )
    lat = located["latitude"].to_numpy()
    lon = located["longitude"].to_numpy()
    t_idx = located["t_idx"].to_numpy()
    # Moments add up the hierarchy, so one pass over the accounts suffices.
    moments = point_moments(lat, lon, t_idx, n)
    inertia = inertia_from_moments(plan.hierarchy.roll_up(moments))
    # Diameter: hull candidates of each territory's own points, then merged
    # bottom-up, so a region never recomputes a hull over all its accounts.
    # Stable radix sort on 16-bit keys when the indices fit (same order).
    keys = t_idx.astype(np.uint16) if n <= np.iinfo(np.uint16).max else t_idx
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(t_idx, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)])
    cand_lat: list[FloatArray] = [np.empty(0)] * n
    cand_lon: list[FloatArray] = [np.empty(0)] * n
    diameter = np.full(n, np.nan)
    h = plan.hierarchy
    children: list[list[int]] = [[] for _ in range(n)]
    for c, p in enumerate(h.parent.tolist()):
        if p >= 0:
            children[p].append(c)
    lat_s, lon_s = lat[order], lon[order]
    maybe = _may_be_hull_vertex(lat_s, lon_s, starts)
    for k in np.argsort(-h.depth, kind="stable").tolist():
        a, b = starts[k], starts[k + 1]
        kids = children[k]
        every = np.concatenate([lat_s[a:b], *[cand_lat[c] for c in kids]])
        if every.size == 0:
            continue
        mine = maybe[a:b]
        la = np.concatenate([lat_s[a:b][mine], *[cand_lat[c] for c in kids]])
        lo = np.concatenate([lon_s[a:b][mine], *[cand_lon[c] for c in kids]])
        # The projection is centred on all the points, as without the filter.
        keep = hull_candidates(la, lo, ref_lat=float(every.mean()))
        cand_lat[k], cand_lon[k] = la[keep], lo[keep]
        diameter[k] = points_diameter_km(cand_lat[k], cand_lon[k])
    return diameter, inertia


@njit(cache=True)
def _may_be_hull_vertex(  # pragma: no cover - compiled
    lat: FloatArray, lon: FloatArray, starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Return which points can be convex-hull vertices of their territory.

    Points come grouped by territory (``starts``, shape ``(n + 1,)``). The
    points extreme in eight directions span a convex polygon; a point
    strictly inside it (by a relative hair) lies inside the hull in every
    projection that scales longitude, so it is no vertex (Akl & Toussaint,
    1978). Few points, or a degenerate polygon, keep every point.
    """
    out = np.ones(lat.size, dtype=np.bool_)
    sx = np.array([1.0, 1.0, 0.0, -1.0, -1.0, -1.0, 0.0, 1.0])
    sy = np.array([0.0, 1.0, 1.0, 1.0, 0.0, -1.0, -1.0, -1.0])
    best = np.empty(8)
    idx = np.empty(8, dtype=np.int64)
    for k in range(starts.size - 1):
        a, b = starts[k], starts[k + 1]
        if b - a <= 32:
            continue
        best[:] = -np.inf
        for i in range(a, b):
            for d in range(8):
                v = sx[d] * lon[i] + sy[d] * lat[i]
                if v > best[d]:
                    best[d] = v
                    idx[d] = i
        span = max(best[0] + best[4], best[2] + best[6])  # max − min of lon, lat
        tol = 1e-9 * span * span
        edges = 0
        for d in range(8):
            p, q = idx[d], idx[(d + 1) % 8]
            if lon[p] != lon[q] or lat[p] != lat[q]:
                edges += 1
        if edges < 3 or not span > 0:
            continue
        for i in range(a, b):
            inside = True
            for d in range(8):
                p, q = idx[d], idx[(d + 1) % 8]
                ex, ey = lon[q] - lon[p], lat[q] - lat[p]
                if ex == 0.0 and ey == 0.0:
                    continue
                if ex * (lat[i] - lat[p]) - ey * (lon[i] - lon[p]) <= tol:
                    inside = False
                    break
            if inside:
                out[i] = False
    return out


def _contiguity(conn: Connection, plan: Plan) -> npt.NDArray[np.int64] | None:
    got = _unit_labels(conn, plan)
    if got is None:
        return None
    lab, adj = got
    n = plan.n_territories
    pieces = np.zeros(n, dtype=np.int64)
    # Each node's pieces are counted among the units of all its descendants:
    # label every unit by its ancestor at the node's depth, one pass per depth.
    depth = plan.hierarchy.depth
    levels = _ancestor_levels(plan, lab)
    unit_depth = np.where(lab >= 0, depth[np.maximum(lab, 0)], -1)
    for d in range(int(depth.max()) + 1):
        steps = unit_depth - d
        at_d = np.full(lab.size, -1, dtype=np.int64)
        for s, anc in enumerate(levels):
            sel = steps == s
            at_d[sel] = anc[sel]
        counted = count_pieces(adj, at_d, n)
        nodes = depth == d
        pieces[nodes] = counted[nodes]
    return pieces


def _quota_by_territory(plan: Plan, rows: pl.DataFrame) -> FloatArray:
    n = plan.n_territories
    terr_rows = rows.filter(pl.col("territory_id").is_not_null()).join(
        plan.territories.select("territory_id", "t_idx"), on="territory_id", how="inner"
    )
    own = np.bincount(
        terr_rows["t_idx"].to_numpy(),
        weights=terr_rows["amount"].to_numpy(),
        minlength=n,
    )
    has = np.bincount(terr_rows["t_idx"].to_numpy(), minlength=n) > 0
    h = plan.hierarchy
    quota = own.astype(np.float64)
    for d in sorted(set(h.depth.tolist()), reverse=True):
        at = np.flatnonzero((h.depth == d) & ~has)
        if at.size == 0:
            continue
        child_sum = np.bincount(
            h.parent[h.parent >= 0], weights=quota[h.parent >= 0], minlength=n
        )
        quota[at] = child_sum[at]
    return quota


# --------------------------------------------------------------------------- #
# the table


def _ratios(df: pl.DataFrame) -> pl.DataFrame:
    sales = df["sales"].to_numpy()
    quota = df["quota"].to_numpy()
    return df.with_columns(
        pl.Series("attainment", attainment(sales, quota)).fill_nan(None),
        pl.Series(
            "penetration", penetration(sales, df["potential"].to_numpy())
        ).fill_nan(None),
        pl.Series(
            "coverage", pipeline_coverage(df["open_pipeline"].to_numpy(), quota, sales)
        ).fill_nan(None),
        pl.Series("quota_met", quota_met(sales, quota)),
        pl.Series(
            "utilisation",
            utilisation(
                df["workload_hours"].to_numpy(), df["capacity_hours"].to_numpy()
            ),
        ).fill_nan(None),
    )


def compute_metrics(
    engine: Engine,
    model: str | None,
    *,
    level: Level = "territory",
    period: str | None = None,
    config: WorkloadConfig | None = None,
    progress: Progress | None = None,
) -> MetricsResult:
    """Compute the metrics table of ``model`` (default: the active one).

    Raises
    ------
    InputError
        When ``level`` or ``period`` is not valid, or the model is empty.
    NotFound
        When the model does not exist.
    """
    if level not in ("territory", "rep", "region"):
        raise InputError(
            f"Level '{level}' is not known; use territory, rep or region.",
            code="metrics_level",
        )
    cfg = config or WorkloadConfig()
    step = progress or (lambda _msg: None)
    notes: list[str] = []
    with engine.connect() as conn:
        model_id = resolve_model(conn, model).id
        per = resolve_period(conn, model_id, period)
    step(f"reading the plan and {per}")
    # Sales, and pipeline with quota, are summed by the store in two workers
    # while this thread reads the accounts: the native reads and the store
    # work without holding the GIL.
    pool = None if is_memory_store(engine) else ThreadPoolExecutor(max_workers=3)
    try:
        splits = level == "rep"
        pending = (
            _FactsJobs(
                sales=pool.submit(_on_own_connection, engine, _period_sales, per),
                rest=pool.submit(
                    _on_own_connection,
                    engine,
                    _pipeline_and_quota,
                    model_id,
                    per,
                    splits,
                ),
            )
            if pool
            else None
        )
        with engine.connect() as conn:
            plan = load_plan(conn, model_id, potential_field=cfg.potential_field)
            # Compactness needs only the accounts' places: measured beside.
            shape = pool.submit(_compactness, plan, plan.assignments) if pool else None
            step("measuring accounts")
            acc = account_measures(conn, plan, cfg, travel_from="owner")
            step("contiguity")
            pieces = _contiguity(conn, plan)
            facts = (
                pending.result()
                if pending
                else _read_facts(conn, model_id, per, splits)
            )
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    sales, quota_rows = facts.sales, facts.quota_rows
    notes.extend(facts.notes)
    if (
        sales.height == 0
        and quota_rows.height == 0
        and facts.pipeline.by_account.height == 0
        and facts.pipeline.named.height == 0
    ):
        with engine.connect() as conn:
            notes.append(_empty_period_note(conn, model_id, per))
    pipeline_rows, unknown_named = _index_named(facts.pipeline, plan)
    n = plan.n_territories
    # Whether an account sits in two territories: decides cheap counting.
    duplicated = has_repeats(acc["account_id"])
    n_accounts = acc["account_id"].n_unique() if duplicated else acc.height
    acc = left_join_sorted(acc, sales, "account_id")
    if duplicated:
        matched = sales.join(acc.select("account_id"), on="account_id", how="semi")
        unmatched = sales.height - matched.height
    else:
        unmatched = sales.height - (acc.height - acc["sales"].null_count())
    acc = acc.with_columns(pl.col("sales").fill_null(0.0))
    # Open pipeline: to a named territory of this model, else via the account.
    named = pipeline_rows.named
    acc = left_join_sorted(
        acc, pipeline_rows.by_account.select("account_id", "pipe"), "account_id"
    ).with_columns(pl.col("pipe").fill_null(0.0))
    if unknown_named:
        notes.append(
            f"{unknown_named:,} territories named by open "
            "opportunities are not in this model; their pipeline is left out"
        )
    step("rolling up")
    rolled = _rolled_distinct(plan, acc, ["potential", "sales", "pipe"], duplicated)
    pipeline = rolled["pipe"] + _rolled_sum(
        plan, named["t_idx"].to_numpy(), named["pipe"].to_numpy()
    )
    t_idx = acc["t_idx"].to_numpy()
    workload = _rolled_sum(plan, t_idx, acc["workload_hours"].to_numpy())
    # Capacity: one rep per leaf (its owner's, else the default), summed upward.
    owners = plan.owners().join(
        plan.reps.select("rep_id", "capacity", "name"), on="rep_id", how="left"
    )
    cap_leaf = np.full(n, cfg.workload.capacity_hours)
    o_idx = owners["t_idx"].to_numpy()
    o_cap = owners["capacity"].to_numpy()
    has_cap = np.isfinite(o_cap) & (o_cap > 0)
    cap_leaf[o_idx[has_cap]] = o_cap[has_cap]
    is_leaf = plan.territories["is_leaf"].to_numpy()
    capacity = plan.hierarchy.roll_up(np.where(is_leaf, cap_leaf, 0.0))
    quota = _quota_by_territory(plan, quota_rows)
    step("compactness")
    diameter, inertia = shape.result() if shape else _compactness(plan, acc)
    terr = plan.territories
    owner_names = np.full(n, None, dtype=object)
    owner_names[o_idx] = owners["rep_id"].to_numpy()
    region_ids = terr["territory_id"].to_numpy()[plan.hierarchy.root]
    table = pl.DataFrame(
        {
            "territory_id": terr["territory_id"],
            "name": terr["name"],
            "parent_id": terr["parent_id"],
            "depth": terr["depth"],
            "region_id": pl.Series(region_ids.tolist(), dtype=pl.String),
            # which hierarchy the territory is in: a region's, or an overlay's
            "kind": pl.Series(
                np.where(region_roots(terr)[plan.hierarchy.root], "region", "overlay"),
                dtype=pl.String,
            ),
            "owner": pl.Series(owner_names.tolist(), dtype=pl.String),
            "accounts": pl.Series(rolled["accounts"].astype(np.int64)),
            "potential": rolled["potential"],
            "sales": rolled["sales"],
            "quota": quota,
            "open_pipeline": pipeline,
            "workload_hours": workload,
            "capacity_hours": capacity,
            "account_diameter_km": pl.Series(diameter).fill_nan(None),
            "inertia_km": pl.Series(inertia).fill_nan(None),
            "pieces": pl.Series(pieces, dtype=pl.Int64)
            if pieces is not None
            else pl.Series([None] * n, dtype=pl.Int64),
        }
    )
    table = _ratios(table).with_columns((pl.col("pieces") <= 1).alias("contiguous"))
    if pieces is None:
        notes.append("contiguity not measured: the model has no unit assignments")
    unlocated = describe_unlocated(acc, "travel and compactness")
    if unlocated:
        notes.append(unlocated)
    if unmatched:
        notes.append(
            f"{unmatched:,} accounts with sales in {per} are in no territory of "
            "this model"
        )
    if level == "territory":
        peers = balance_peers(plan.territories)
        others = plan.territories.filter(pl.Series(is_leaf & ~peers))
        if others.height:
            notes.append(
                f"balance compares the {int(peers.sum()):,} leaf territories of the "
                f"main type; {others.height:,} of other types (overlays) are left "
                f"out: {', '.join(others['territory_id'].head(5).to_list())}"
                + (" ..." if others.height > 5 else "")
            )
        compared = table.filter(pl.Series(peers))
        return MetricsResult(
            plan.model.name,
            level,
            str(per),
            table,
            _balance(compared),
            "leaf territories",
            tuple(notes),
            tuple(compared["territory_id"].to_list()),
            n_accounts=n_accounts,
        )
    if level == "region":
        # Regions are the roots of the main type's hierarchy; overlays (roots
        # of another type) cover their accounts again and are shown apart.
        tops = table.filter(pl.col("depth") == 0)
        tops = tops.sort(pl.col("kind") != "region", "territory_id")
        regions = tops.filter(pl.col("kind") == "region")
        overlays = tops.filter(pl.col("kind") == "overlay")
        if overlays.height:
            notes.append(
                f"balance compares the {regions.height:,} regions; "
                f"{overlays.height:,} overlays (top-level territories of another "
                "type) are shown apart and left out: "
                + ", ".join(overlays["territory_id"].head(5).to_list())
                + (" ..." if overlays.height > 5 else "")
            )
        return MetricsResult(
            plan.model.name,
            level,
            str(per),
            tops,
            _balance(regions),
            "regions",
            tuple(notes),
            tuple(regions["territory_id"].to_list()),
            n_accounts=n_accounts,
        )
    reps = _rep_table(plan, acc, table, quota_rows, pipeline_rows, cfg, duplicated)
    compared = reps.filter(pl.col("roles").str.contains("owner"))
    return MetricsResult(
        plan.model.name,
        level,
        str(per),
        reps,
        _balance(compared),
        "owning reps",
        tuple(notes),
        tuple(compared["rep_id"].to_list()),
        n_accounts=n_accounts,
    )


def _balance(df: pl.DataFrame) -> tuple[BalanceIndices, ...]:
    return tuple(
        balance_indices(m, df[m].cast(pl.Float64).to_numpy()) for m in BALANCE_MEASURES
    )


def _rep_table(
    plan: Plan,
    acc: pl.DataFrame,
    terr_table: pl.DataFrame,
    quota_rows: pl.DataFrame,
    pipeline_rows: _Pipeline,
    cfg: WorkloadConfig,
    duplicated: bool,
) -> pl.DataFrame:
    """One row per rep with a membership: what each role is credited with.

    A rep *covers* every territory it is a member of, with its descendants.
    Accounts, potential and sales are those of the covered accounts (each
    once); quota is the rep's own quota rows, else the quota of its top
    covered territories (a territory's quota includes its children's). Open
    pipeline: an opportunity without splits counts in full for every rep
    covering it; one with splits credits the reps it names by percentage,
    except in the territories a rep *manages*, where the manager holds the
    whole pipeline, split or not. Workload and capacity are those of the
    territories the rep works: the ones it owns, and overlay territories
    (another type, staffed by overlay memberships) it is an overlay on.
    """
    n = plan.n_territories
    mem = plan.memberships.select("t_idx", "rep_id", "role").unique()
    node, anc = plan.hierarchy.closure()
    closure = pl.DataFrame({"t_idx": node, "anc": anc})
    # rep -> every territory covered (member territory and its descendants),
    # and whether the rep manages it (a manager membership above or on it)
    covers = (
        mem.join(closure, left_on="t_idx", right_on="anc", how="inner")
        .group_by("rep_id", pl.col("t_idx_right").alias("t_idx"))
        .agg((pl.col("role") == "manager").any().alias("managed"))
        .sort("rep_id", "t_idx")
    )
    has_pipe = pipeline_rows.by_account.select(
        "account_id",
        pl.col("pipe_unsplit").alias("unsplit"),
        (pl.col("pipe") - pl.col("pipe_unsplit")).alias("split"),
    )
    sums = [pl.col("potential").sum(), pl.col("sales").sum()]
    if duplicated:
        # An account in two covered territories counts once for the rep.
        per_rep_acc = (
            acc.select("account_id", "t_idx", "potential", "sales")
            .join(covers, on="t_idx", how="inner")
            .group_by("rep_id", "account_id")
            .agg(
                pl.col("potential").first(),
                pl.col("sales").first(),
                pl.col("managed").any(),
            )
            .join(has_pipe, on="account_id", how="left")
        )
        per_acc = per_rep_acc.group_by("rep_id").agg(
            pl.len().alias("accounts"),
            *sums,
            (
                pl.col("unsplit").fill_null(0.0)
                + pl.when(pl.col("managed")).then(pl.col("split")).otherwise(0.0)
                .fill_null(0.0)
            ).sum().alias("pipe_accounts"),
        )  # fmt: skip
    else:
        # Each account in one territory: sum the territories' own figures.
        t_idx = acc["t_idx"].to_numpy()
        pipe = left_join_sorted(
            acc.select("account_id", "t_idx"), has_pipe, "account_id"
        )
        own = pl.DataFrame(
            {
                "t_idx": np.arange(n, dtype=np.int64),
                "accounts": np.bincount(t_idx, minlength=n).astype(np.int64),
                "potential": np.bincount(
                    t_idx, weights=acc["potential"].to_numpy(), minlength=n
                ),
                "sales": np.bincount(
                    t_idx, weights=acc["sales"].to_numpy(), minlength=n
                ),
                "unsplit": np.bincount(
                    t_idx,
                    weights=pipe["unsplit"].fill_null(0.0).to_numpy(),
                    minlength=n,
                ),
                "split": np.bincount(
                    t_idx, weights=pipe["split"].fill_null(0.0).to_numpy(), minlength=n
                ),
            }
        )
        per_acc = (
            covers.join(own, on="t_idx", how="inner")
            .group_by("rep_id")
            .agg(
                pl.col("accounts").sum().alias("accounts"),
                *sums,
                (
                    pl.col("unsplit")
                    + pl.when(pl.col("managed")).then(pl.col("split")).otherwise(0.0)
                ).sum().alias("pipe_accounts"),
            )
        )  # fmt: skip
    # Opportunities naming a territory count there once, as for accounts.
    named = pipeline_rows.named.select(
        "t_idx",
        pl.col("pipe_unsplit").alias("unsplit"),
        (pl.col("pipe") - pl.col("pipe_unsplit")).alias("split"),
    )
    pipe_named = (
        covers.join(named, on="t_idx", how="inner")
        .group_by("rep_id")
        .agg(
            (
                pl.col("unsplit")
                + pl.when(pl.col("managed")).then(pl.col("split")).otherwise(0.0)
            ).sum().alias("pipe_named")
        )
    )  # fmt: skip
    # Split credit, less what a manager already holds in full.
    inside = _managed_split_credit(plan, acc, covers, pipeline_rows.manager_splits)
    credit = pipeline_rows.split_credit.join(inside, on="rep_id", how="left").select(
        "rep_id",
        (pl.col("credit") - pl.col("inside").fill_null(0.0)).alias("pipe_split"),
    )
    # quota: the rep's own rows, else its top covered territories' quota
    terr_vals = terr_table.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("t_idx"),
        "workload_hours",
        "quota",
    )
    member_t = mem.select("rep_id", "t_idx").unique()
    below_other = (
        member_t.join(closure, on="t_idx", how="inner")
        .filter(pl.col("anc") != pl.col("t_idx"))
        .join(member_t.rename({"t_idx": "anc"}), on=["rep_id", "anc"], how="semi")
        .select("rep_id", "t_idx")
    )
    top_quota = (
        member_t.join(below_other, on=["rep_id", "t_idx"], how="anti")
        .join(terr_vals, on="t_idx", how="left")
        .group_by("rep_id")
        .agg(pl.col("quota").sum().alias("covered_quota"))
    )
    # workload and capacity: the territories the rep works
    overlay_team = ~region_roots(plan.territories)[plan.hierarchy.root]
    worked = (
        mem.filter(
            (pl.col("role") == "owner")
            | (
                (pl.col("role") == "overlay")
                & pl.col("t_idx").is_in(np.flatnonzero(overlay_team).tolist())
            )
        )
        .select("rep_id", "t_idx")
        .unique()
    )
    own_work = (
        worked.join(terr_vals, on="t_idx", how="left")
        .group_by("rep_id")
        .agg(pl.col("workload_hours").sum(), pl.len().alias("_works"))
    )
    rep_quota = (
        quota_rows.filter(pl.col("rep_id").is_not_null())
        .group_by("rep_id")
        .agg(pl.col("amount").sum().alias("rep_quota"))
    )
    roles = mem.group_by("rep_id").agg(
        pl.col("role").unique().sort().str.join(",").alias("roles"),
        pl.len().alias("territories"),
    )
    reps = plan.reps.select("rep_id", "name", "capacity")
    out = (
        roles.join(reps, on="rep_id", how="left")
        .join(per_acc, on="rep_id", how="left")
        .join(pipe_named, on="rep_id", how="left")
        .join(credit, on="rep_id", how="left")
        .join(own_work, on="rep_id", how="left")
        .join(top_quota, on="rep_id", how="left")
        .join(rep_quota, on="rep_id", how="left")
        .with_columns(
            pl.col("accounts").fill_null(0).cast(pl.Int64),
            pl.col("potential").fill_null(0.0),
            pl.col("sales").fill_null(0.0),
            pl.col("workload_hours").fill_null(0.0),
            (
                pl.col("pipe_accounts").fill_null(0.0)
                + pl.col("pipe_named").fill_null(0.0)
                + pl.col("pipe_split").fill_null(0.0)
            ).alias("open_pipeline"),
            pl.coalesce("rep_quota", "covered_quota", pl.lit(0.0)).alias("quota"),
            pl.when(pl.col("_works").is_not_null())
            .then(pl.col("capacity").fill_null(cfg.workload.capacity_hours))
            .otherwise(None)
            .alias("capacity_hours"),
        )
        .select(
            "rep_id",
            "name",
            "roles",
            "territories",
            "accounts",
            "potential",
            "sales",
            "quota",
            "open_pipeline",
            "workload_hours",
            "capacity_hours",
        )
        .sort("rep_id")
    )
    out = out.with_columns(pl.col("capacity_hours").fill_null(float("nan")))
    out = _ratios(out)
    return out.with_columns(pl.col("capacity_hours").fill_nan(None))


def _managed_split_credit(
    plan: Plan, acc: pl.DataFrame, covers: pl.DataFrame, splits: pl.DataFrame
) -> pl.DataFrame:
    """Return ``rep_id, inside``: split credit a manager holds in full already.

    ``splits`` (``rep_id, account_id, territory_id, credit``) are splits
    naming managers; one counts *inside* when its opportunity counts in a
    territory the rep manages (the territory it names, else any territory
    of its account).
    """
    empty = pl.DataFrame(schema={"rep_id": pl.String, "inside": pl.Float64})
    if splits.height == 0:
        return empty
    managed = covers.filter(pl.col("managed")).select("rep_id", "t_idx")
    ids = plan.territories.select("territory_id", "t_idx")
    by_named = (
        splits.filter(pl.col("territory_id").is_not_null())
        .join(ids, on="territory_id", how="inner")
        .join(managed, on=["rep_id", "t_idx"], how="semi")
        .select("rep_id", "credit")
    )
    by_account = (
        splits.filter(pl.col("territory_id").is_null())
        .join(
            acc.select("account_id", "t_idx").join(
                splits.select("account_id").unique(), on="account_id", how="semi"
            ),
            on="account_id",
            how="inner",
        )
        .join(managed, on=["rep_id", "t_idx"], how="semi")
        .unique(subset=["rep_id", "account_id"], keep="first")
        .select("rep_id", "credit")
    )
    both = pl.concat([by_named, by_account])
    if both.height == 0:
        return empty
    return both.group_by("rep_id").agg(pl.col("credit").sum().alias("inside"))


def metrics_metadata(result: MetricsResult) -> dict[str, str]:
    """Return what a metrics file carries beside its rows (all text).

    Keys: ``model``, ``level``, ``period``, ``compared`` (what the balance
    compares), ``accounts`` (distinct accounts) and ``notes`` (a JSON list:
    what was left out or summed, as printed under the terminal table).
    """
    return {
        "model": result.model,
        "level": result.level,
        "period": result.period,
        "compared": result.compared,
        "accounts": str(result.n_accounts),
        "notes": json.dumps(list(result.notes), ensure_ascii=False),
    }


def metadata_path(path: Path) -> Path:
    """Return the JSON file written beside a CSV metrics file (``X.csv.meta.json``)."""
    return path.with_name(path.name + ".meta.json")


def check_metrics_path(path: Path) -> Path:
    """Return ``path`` if :func:`write_metrics` can write there; write nothing.

    Raises
    ------
    InputError
        When the suffix is neither ``.csv`` nor ``.parquet`` (code
        ``metrics_format``), or the path is a folder, lies inside a file or
        cannot be written (``bad_output``).
    """
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(
            f"Cannot write metrics to {path}: use a .csv or .parquet file name.",
            code="metrics_format",
        )
    return check_output_file(path)


def write_metrics(result: MetricsResult, path: Path) -> Path:
    """Write the metrics table to ``path`` (.csv or .parquet); undefined is null.

    The notes (periods that could not be split or cover part, rows left
    out) travel with the file: in a Parquet file's key-value metadata
    (:func:`metrics_metadata`, keys prefixed ``territory.``), beside a CSV
    file as :func:`metadata_path` (``metrics.csv.meta.json``).

    Raises
    ------
    InputError
        When the suffix is neither ``.csv`` nor ``.parquet``, or the file
        cannot be written.
    """
    check_metrics_path(path)
    df = result.table.with_columns(
        pl.lit(result.model).alias("model"), pl.lit(result.period).alias("period")
    )
    meta = metrics_metadata(result)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            df.write_csv(path)
            side = {k: v for k, v in meta.items() if k != "notes"}
            metadata_path(path).write_text(
                json.dumps(
                    {**side, "notes": list(result.notes)}, ensure_ascii=False, indent=2
                )
                + "\n",
                encoding="utf-8",
            )
        else:
            df.write_parquet(
                path, metadata={f"territory.{k}": v for k, v in meta.items()}
            )
    except OSError as exc:
        raise InputError(
            f"Cannot write '{path}': {os_reason(exc, path)}; check the folder "
            "exists and is writable.",
            code="write_failed",
            details={"file": str(path)},
        ) from exc
    return path
