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
from territory.services.models import resolve_model
from territory.services.plan import (
    Plan,
    balance_peers,
    load_plan,
    read_frame,
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
    "compute_metrics",
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
    #: the main territory type; empty: every row of ``table``).
    compared_ids: tuple[str, ...] = ()

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


def _quota_rows(conn: Connection, model_id: str, period: Period) -> pl.DataFrame:
    q = t.quota
    inside = read_frame(
        conn,
        select(q.c.territory_id, q.c.rep_id, q.c.amount).where(
            (q.c.model_id == model_id) & q.c.period.in_(period.members())
        ),
        {"territory_id": pl.String, "rep_id": pl.String, "amount": pl.Float64},
    )
    if inside.height:
        return inside
    months = {Grain.YEAR: 12.0, Grain.QUARTER: 3.0, Grain.MONTH: 1.0}
    for grain in (Grain.QUARTER, Grain.YEAR):
        if grain >= period.grain:
            continue
        outer = period.at(grain)
        assert outer is not None
        rows = read_frame(
            conn,
            select(q.c.territory_id, q.c.rep_id, q.c.amount).where(
                (q.c.model_id == model_id) & (q.c.period == str(outer))
            ),
            {"territory_id": pl.String, "rep_id": pl.String, "amount": pl.Float64},
        )
        if rows.height:
            share = months[period.grain] / months[grain]
            return rows.with_columns(pl.col("amount") * share)
    return inside


@dataclass(frozen=True, slots=True)
class _Pipeline:
    """Open pipeline, summed in the store.

    ``by_account``: ``account_id, pipe, pipe_unsplit`` for opportunities that
    name no territory of the model; ``named``: ``territory_id`` (then
    ``t_idx``), ``pipe, pipe_unsplit`` for those that do; ``split_credit``:
    ``rep_id, credit``.
    """

    by_account: pl.DataFrame
    named: pl.DataFrame
    split_credit: pl.DataFrame


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
    return _Pipeline(by_account=by_account, named=named_rows, split_credit=split_credit)


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
        ),
        pipeline.named.height - joined.height,
    )


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a period adds to a plan: sales, pipeline, quota rows."""

    sales: pl.DataFrame
    pipeline: _Pipeline
    quota_rows: pl.DataFrame


def _read_facts(
    engine: Engine | Connection, model_id: str, period: Period, with_splits: bool
) -> _Facts:
    if isinstance(engine, Connection):
        return _Facts(
            sales=sales_by_account(engine, period),
            pipeline=_open_pipeline(engine, model_id, period, with_splits=with_splits),
            quota_rows=_quota_rows(engine, model_id, period),
        )
    with engine.connect() as conn:
        return _read_facts(conn, model_id, period, with_splits)


def _on_own_connection(engine: Engine, read: Callable[..., _T], *args: object) -> _T:
    """Run ``read(conn, *args)`` on a connection of its own (for a worker)."""
    with engine.connect() as conn:
        return read(conn, *args)


def _pipeline_and_quota(
    conn: Connection, model_id: str, period: Period, with_splits: bool
) -> tuple[_Pipeline, pl.DataFrame]:
    return (
        _open_pipeline(conn, model_id, period, with_splits=with_splits),
        _quota_rows(conn, model_id, period),
    )


@dataclass(frozen=True, slots=True)
class _FactsJobs:
    """The facts of a period being read by workers."""

    sales: Future[pl.DataFrame]
    rest: Future[tuple[_Pipeline, pl.DataFrame]]

    def result(self) -> _Facts:
        pipeline, quota_rows = self.rest.result()
        return _Facts(self.sales.result(), pipeline, quota_rows)


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
                sales=pool.submit(_on_own_connection, engine, sales_by_account, per),
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
    pipeline_rows, unknown_named = _index_named(facts.pipeline, plan)
    n = plan.n_territories
    # Whether an account sits in two territories: decides cheap counting.
    duplicated = has_repeats(acc["account_id"])
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
            "owner": pl.Series(owner_names.tolist(), dtype=pl.String),
            "accounts": pl.Series(rolled["accounts"].astype(np.int64)),
            "potential": rolled["potential"],
            "sales": rolled["sales"],
            "quota": quota,
            "open_pipeline": pipeline,
            "workload_hours": workload,
            "capacity_hours": capacity,
            "diameter_km": pl.Series(diameter).fill_nan(None),
            "inertia_km": pl.Series(inertia).fill_nan(None),
            "pieces": pl.Series(pieces, dtype=pl.Int64)
            if pieces is not None
            else pl.Series([None] * n, dtype=pl.Int64),
        }
    )
    table = _ratios(table).with_columns((pl.col("pieces") <= 1).alias("contiguous"))
    if pieces is None:
        notes.append("contiguity not measured: the model has no unit assignments")
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
        )
    if level == "region":
        regions = table.filter(pl.col("depth") == 0)
        return MetricsResult(
            plan.model.name,
            level,
            str(per),
            regions,
            _balance(regions),
            "regions",
            tuple(notes),
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
    mem = plan.memberships.select("t_idx", "rep_id", "role").unique()
    node, anc = plan.hierarchy.closure()
    closure = pl.DataFrame({"t_idx": node, "anc": anc})
    # rep -> every territory covered (member territory and its descendants)
    covers = (
        mem.join(closure, left_on="t_idx", right_on="anc", how="inner")
        .select("rep_id", pl.col("t_idx_right").alias("t_idx"))
        .unique()
    )
    sums = [pl.col("potential").sum(), pl.col("sales").sum()]
    if duplicated:
        # An account in two covered territories counts once for the rep.
        per_acc = (
            acc.select("account_id", "t_idx", "potential", "sales")
            .join(covers, on="t_idx", how="inner")
            .unique(subset=["rep_id", "account_id"], keep="first")
            .group_by("rep_id")
            .agg(pl.len().alias("accounts"), *sums)
        )
    else:
        # Each account in one territory: sum the territories' own figures.
        n = plan.n_territories
        t_idx = acc["t_idx"].to_numpy()
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
            }
        )
        per_acc = (
            covers.join(own, on="t_idx", how="inner")
            .group_by("rep_id")
            .agg(pl.col("accounts").sum().alias("accounts"), *sums)
        )
    # workload and capacity: territories the rep owns (with descendants)
    owned = mem.filter(pl.col("role") == "owner")
    terr_vals = terr_table.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("t_idx"),
        "workload_hours",
        "quota",
    )
    own_work = (
        owned.join(terr_vals, on="t_idx", how="left")
        .group_by("rep_id")
        .agg(pl.col("workload_hours").sum())
    )
    # quota without rep rows: the territories the rep owns or manages
    led = mem.filter(pl.col("role").is_in(["owner", "manager"]))
    led_quota = (
        led.join(terr_vals, on="t_idx", how="left")
        .group_by("rep_id")
        .agg(pl.col("quota").sum().alias("owned_quota"))
    )
    # pipeline: split credit, else full credit to owners of covering territories
    # An account's unsplit pipeline goes in full to each owner covering it.
    via_account = (
        pipeline_rows.by_account.filter(pl.col("pipe_unsplit") != 0)
        .join(acc.select("account_id", "t_idx"), on="account_id")
        .join(owned.select("t_idx", "rep_id"), on="t_idx", how="inner")
        .unique(subset=["account_id", "rep_id"], keep="first")
        .select("rep_id", pl.col("pipe_unsplit").alias("credit"))
    )
    via_named = pipeline_rows.named.join(
        owned.select("t_idx", "rep_id"), on="t_idx", how="inner"
    ).select("rep_id", pl.col("pipe_unsplit").alias("credit"))
    split_credit = pipeline_rows.split_credit
    owner_credit = pl.concat([via_account, via_named])
    pipe = (
        pl.concat([split_credit, owner_credit])
        .group_by("rep_id")
        .agg(pl.col("credit").sum().alias("open_pipeline"))
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
        .join(own_work, on="rep_id", how="left")
        .join(led_quota, on="rep_id", how="left")
        .join(pipe, on="rep_id", how="left")
        .join(rep_quota, on="rep_id", how="left")
        .with_columns(
            pl.col("accounts").fill_null(0).cast(pl.Int64),
            pl.col("potential").fill_null(0.0),
            pl.col("sales").fill_null(0.0),
            pl.col("workload_hours").fill_null(0.0),
            pl.col("open_pipeline").fill_null(0.0),
            pl.coalesce("rep_quota", "owned_quota", pl.lit(0.0)).alias("quota"),
            pl.when(pl.col("roles").str.contains("owner"))
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


def write_metrics(result: MetricsResult, path: Path) -> Path:
    """Write the metrics table to ``path`` (.csv or .parquet); undefined is null.

    Raises
    ------
    InputError
        When the suffix is neither ``.csv`` nor ``.parquet``.
    """
    df = result.table.with_columns(
        pl.lit(result.model).alias("model"), pl.lit(result.period).alias("period")
    )
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.write_csv(path)
    elif suffix == ".parquet":
        df.write_parquet(path)
    else:
        raise InputError(
            f"Cannot write metrics to {path}: use a .csv or .parquet file name.",
            code="metrics_format",
        )
    return path
