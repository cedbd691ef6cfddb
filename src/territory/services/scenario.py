"""Model B of a comparison as a delta of model A.

A scenario is usually a clone of the plan with a share of its assignments
changed, so reading and measuring B from scratch would repeat A's work. The
differences are found inside the database (an anti-join each way over the
assignment primary key); B's :class:`Plan` is A's with them applied, and
B's account measures are A's except where they can differ (see
:func:`scenario_measures`). Tests pin both against full reads of B.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, or_, select

from territory.domain import TerritoryModel
from territory.errors import InputError, InternalError
from territory.metrics.hierarchy import build_hierarchy
from territory.services.plan import Plan, read_accounts, read_frame
from territory.services.sorted_keys import (
    has_repeats,
    is_in_sorted,
    left_join_sorted,
)
from territory.services.workload import (
    WorkloadConfig,
    account_measures,
    territory_centres,
)
from territory.storage import tables as t

__all__ = [
    "Scenario",
    "assignment_diff",
    "has_duplicates_among",
    "scenario_measures",
    "scenario_plan",
    "with_sales",
]


def assignment_diff(conn: Connection, id_a: str, id_b: str) -> pl.DataFrame:
    """Return ``side, account_id, territory_id``: pairs held by one model only.

    Computed inside the database, so only the differences travel: one
    ``EXCEPT`` each way, ordered like the primary key, which SQLite runs as a
    merge of the two models' key ranges (no lookup per assignment).
    """
    aa = t.account_assignment
    frames = []
    for side, mine, other in (("a", id_a, id_b), ("b", id_b, id_a)):
        stmt = (
            select(aa.c.account_id, aa.c.territory_id)
            .where(aa.c.model_id == mine)
            .except_(
                select(aa.c.account_id, aa.c.territory_id).where(aa.c.model_id == other)
            )
            .order_by("account_id", "territory_id")
        )
        frames.append(
            read_frame(
                conn,
                stmt,
                {"account_id": pl.String, "territory_id": pl.String},
                large=True,
            ).with_columns(pl.lit(side).alias("side"))
        )
    return pl.concat(frames).select("side", "account_id", "territory_id")


@dataclass(frozen=True, slots=True)
class Scenario:
    """Model B as A's assignments with the differences applied.

    ``plan.assignments`` holds A's rows that B keeps (``kept``, shape
    ``(n_assignments_a,)``, True where B holds the same pair), in A's order
    and indexed by B's territories, followed by the ``n_added`` pairs only B
    holds.
    """

    plan: Plan
    kept: npt.NDArray[np.bool_]
    n_added: int


def _only_a_rows(plan_a: Plan, only_a: pl.DataFrame) -> npt.NDArray[np.bool_]:
    """Return which of A's assignment rows are among the pairs ``only_a``."""
    rows = plan_a.assignments
    pairs = only_a.join(
        plan_a.territories.select("territory_id", "t_idx"), on="territory_id"
    ).select("account_id", "t_idx")
    # The accounts first (one merge over A's sorted ids), then the exact pairs.
    maybe = np.flatnonzero(is_in_sorted(rows["account_id"], pairs["account_id"]))
    out = np.zeros(rows.height, dtype=bool)
    if maybe.size:
        hit = (
            rows[maybe]
            .select("account_id", "t_idx")
            .with_columns(pl.Series("_row", maybe))
            .join(pairs, on=["account_id", "t_idx"], how="semi")
        )
        out[hit["_row"].to_numpy()] = True
    return out


def scenario_plan(
    conn: Connection,
    plan_a: Plan,
    model_b: TerritoryModel,
    diff: pl.DataFrame,
    a_has_duplicates: bool,
    potential_field: str = "potential",
) -> Scenario:
    """Build model B's :class:`Plan` from A's and the assignment differences.

    Reading B's million assignments again would double the cost of a
    comparison; B's territories, hierarchy and memberships are small and are
    read, its assignments are A's with the differences applied. Accounts
    only B holds are read as :func:`load_plan` would read them
    (``potential_field`` names the imported potential).
    """
    terr = read_frame(
        conn,
        select(
            t.territory.c.id,
            t.territory.c.name,
            t.territory.c.parent_id,
            t.territory.c.type_id,
        )
        .where(t.territory.c.model_id == model_b.id)
        .order_by(t.territory.c.id),
        {
            "territory_id": pl.String,
            "name": pl.String,
            "parent_id": pl.String,
            "type_id": pl.String,
        },
    )
    if terr.height == 0:
        raise InputError(
            f"Model '{model_b.name}' has no territories; design or import them "
            "first (for example `territory design`).",
            code="model_empty",
            details={"model": model_b.name},
        )
    terr = terr.with_row_index("t_idx").with_columns(pl.col("t_idx").cast(pl.Int64))
    index = dict(
        zip(terr["territory_id"].to_list(), terr["t_idx"].to_list(), strict=True)
    )
    parents = []
    for tid, pid in zip(
        terr["territory_id"].to_list(), terr["parent_id"].to_list(), strict=True
    ):
        if pid is not None and pid not in index:
            raise InputError(
                f"Territory '{tid}' of model '{model_b.name}' names parent '{pid}', "
                "which is not in the model; fix the parent or create it.",
                code="territory_parent_missing",
                details={"territory": tid, "parent": pid},
            )
        parents.append(-1 if pid is None else index[pid])
    h = build_hierarchy(np.asarray(parents, dtype=np.int64))
    has_child = np.zeros(h.n, dtype=bool)
    has_child[h.parent[h.parent >= 0]] = True
    terr = terr.with_columns(
        pl.Series("parent_idx", h.parent, dtype=pl.Int64),
        pl.Series("depth", h.depth, dtype=pl.Int64),
        pl.Series("root_idx", h.root, dtype=pl.Int64),
        pl.Series("is_leaf", ~has_child, dtype=pl.Boolean),
    )
    b_index = terr.select("territory_id", pl.col("t_idx").alias("t_b"))
    # B's index of each of A's territories (-1 where B lacks it)
    a_to_b = (
        plan_a.territories.select("territory_id")
        .join(b_index, on="territory_id", how="left", maintain_order="left")["t_b"]
        .fill_null(-1)
        .to_numpy()
    )
    rows = plan_a.assignments
    t_b = a_to_b[rows["t_idx"].to_numpy()]
    kept = ~_only_a_rows(plan_a, diff.filter(pl.col("side") == "a")) & (t_b >= 0)
    kept_rows = rows.filter(pl.Series(kept)).with_columns(
        pl.Series("t_idx", t_b[kept], dtype=pl.Int64)
    )
    added = (
        diff.filter(pl.col("side") == "b")
        .select("account_id", "territory_id")
        .join(b_index, on="territory_id", how="inner", maintain_order="left")
        .select("account_id", pl.col("t_b").alias("t_idx"))
    )
    firmo = rows.drop("t_idx")
    if a_has_duplicates:
        firmo = firmo.unique(subset="account_id", keep="first", maintain_order=True)
    matched = left_join_sorted(
        added, firmo.with_columns(pl.lit(True).alias("_known")), "account_id"
    )
    known = matched.filter(pl.col("_known").is_not_null()).drop("_known")
    new_ids = matched.filter(pl.col("_known").is_null()).select("account_id", "t_idx")
    if new_ids.height:
        # Accounts only in B: read as load_plan reads them (a few at most).
        extra = read_accounts(
            conn, potential_field, account_ids=new_ids["account_id"].to_list()
        ).select(firmo.columns)
        known = pl.concat(
            [known, new_ids.join(extra, on="account_id", how="inner")],
            how="vertical_relaxed",
        )
    columns = rows.columns
    assignments = pl.concat([kept_rows, known.select(columns)], how="vertical_relaxed")
    m = t.territory_membership
    day: object = (
        plan_a.as_of.isoformat() if conn.dialect.name == "sqlite" else plan_a.as_of
    )
    members = read_frame(
        conn,
        select(m.c.territory_id, m.c.rep_id, m.c.role, m.c.start_date, m.c.end_date)
        .where(m.c.model_id == model_b.id)
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
    members = members.join(
        terr.select("territory_id", "t_idx"), on="territory_id"
    ).select("t_idx", "rep_id", "role", "start_date", "end_date")
    plan_b = replace(
        plan_a,
        model=model_b,
        territories=terr,
        hierarchy=h,
        assignments=assignments,
        memberships=members,
    )
    return Scenario(plan=plan_b, kept=kept, n_added=known.height)


def has_duplicates_among(assignments: pl.DataFrame, ids: pl.Series) -> bool:
    """Return whether any of ``ids`` holds more than one row in ``assignments``."""
    if ids.len() == 0:
        return False
    rows = assignments.filter(pl.col("account_id").is_in(ids.unique().implode()))
    return has_repeats(rows["account_id"])


def with_sales(acc: pl.DataFrame, sales: pl.DataFrame) -> pl.DataFrame:
    """Return ``acc`` with each account's ``sales`` (0 for none), in its order."""
    return left_join_sorted(acc, sales, "account_id").with_columns(
        pl.col("sales").fill_null(0.0)
    )


def _origins(plan: Plan) -> pl.DataFrame:
    """Return ``territory_id, o_lat, o_lon, by_centre``: where travel starts.

    The same rule as :func:`account_measures` with ``travel_from="owner"``:
    the owner's home when it is located, else the territory's centre.
    """
    lat, lon = territory_centres(plan)
    lat, lon = lat.copy(), lon.copy()
    by_centre = np.ones(plan.n_territories, dtype=bool)
    owners = plan.owners().join(
        plan.reps.select("rep_id", "home_lat", "home_lon"), on="rep_id", how="left"
    )
    idx = owners["t_idx"].to_numpy()
    h_lat = owners["home_lat"].to_numpy()
    h_lon = owners["home_lon"].to_numpy()
    ok = np.isfinite(h_lat) & np.isfinite(h_lon)
    lat[idx[ok]], lon[idx[ok]] = h_lat[ok], h_lon[ok]
    by_centre[idx[ok]] = False
    return pl.DataFrame(
        {
            "territory_id": plan.territories["territory_id"],
            "o_lat": lat,
            "o_lon": lon,
            "by_centre": by_centre,
        }
    )


def scenario_measures(
    conn: Connection,
    plan_a: Plan,
    acc_a: pl.DataFrame,
    b: Scenario,
    cfg: WorkloadConfig,
    sales: pl.DataFrame,
) -> pl.DataFrame:
    """Return B's account measures, measuring anew only what can differ.

    ``acc_a`` holds A's measures row for row with ``plan_a.assignments``.
    Potential and segment belong to the account; workload depends only on
    where travel starts. So a pair held by both models in a territory whose
    travel origin is unchanged keeps A's figures. Measured anew: the pairs
    only B holds, and every pair of a territory whose origin moved — plus
    all pairs of a touched territory measured from its centre, so that the
    centre is computed from all of its accounts, exactly as a full run would.
    """
    plan_b = b.plan
    oa, ob = _origins(plan_a), _origins(plan_b)
    joined = ob.join(oa, on="territory_id", how="left", suffix="_a")
    moved_origin = joined.filter(
        pl.col("o_lat_a").is_null()
        | pl.col("o_lat").ne_missing(pl.col("o_lat_a"))
        | pl.col("o_lon").ne_missing(pl.col("o_lon_a"))
        | (pl.col("by_centre") != pl.col("by_centre_a"))
    )["territory_id"]
    # Territories that lose or gain a pair: A's rows B drops, B's added rows.
    b_ids = plan_b.territories["territory_id"].to_numpy()
    a_ids = plan_a.territories["territory_id"].to_numpy()
    b_assign = plan_b.assignments
    b_t = b_assign["t_idx"].to_numpy()
    n_kept = b_assign.height - b.n_added
    touched = set(a_ids[plan_a.assignments["t_idx"].to_numpy()[~b.kept]].tolist())
    touched |= set(b_ids[b_t[n_kept:]].tolist())
    centred_touched = ob.filter(
        pl.col("by_centre")
        & pl.col("territory_id").is_in(
            pl.Series(sorted(touched), dtype=pl.String).implode()
        )
    )["territory_id"]
    whole = set(moved_origin.to_list()) | set(centred_touched.to_list())
    in_whole = np.isin(b_ids, np.array(sorted(whole), dtype=object))[b_t]
    anew = in_whole.copy()
    anew[n_kept:] = True
    sub = b_assign.filter(pl.Series(anew))
    measured = with_sales(
        account_measures(
            conn, replace(plan_b, assignments=sub), cfg, travel_from="owner"
        ),
        sales,
    )
    # A's measures of the kept pairs outside those territories, re-indexed.
    reuse_rows = np.flatnonzero(b.kept)[~in_whole[:n_kept]]
    reuse = (
        acc_a[reuse_rows]
        .with_columns(pl.Series("t_idx", b_t[:n_kept][~in_whole[:n_kept]]))
        .select(measured.columns)
    )
    out = pl.concat([reuse, measured], how="vertical_relaxed")
    if out.height != b_assign.height:
        raise InternalError(
            f"Measuring model '{plan_b.model.name}' gave {out.height:,} account "
            f"rows for {b_assign.height:,} assignments; please report this.",
            code="compare_measure_rows",
        )
    return out
