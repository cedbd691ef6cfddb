"""Model B of a comparison as a delta of model A.

A scenario is usually a clone of the plan with a share of its assignments
changed, so reading and measuring B from scratch would repeat A's work. Only
B's assignment keys are read (account and territory ids, in key order) and
matched against A's rows in one merge; B's :class:`Plan` is A's rows with
the differences applied, and B's account measures are A's except where they
can differ (see :func:`scenario_measures`). Tests pin both against full
reads of B.
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
from territory.services.location import with_effective_location
from territory.services.plan import Plan, read_accounts, read_frame
from territory.services.sorted_keys import (
    has_repeats,
    left_join_sorted,
    match_pairs,
)
from territory.services.workload import (
    WorkloadConfig,
    account_measures,
    territory_centres,
)
from territory.storage import tables as t

__all__ = [
    "Difference",
    "Scenario",
    "assignment_diff",
    "has_duplicates_among",
    "read_pairs",
    "scenario_measures",
    "scenario_plan",
    "with_sales",
]


def read_pairs(conn: Connection, model_id: str) -> pl.DataFrame:
    """Return ``account_id, territory_id`` of a model's assignments, key order."""
    aa = t.account_assignment
    return read_frame(
        conn,
        select(aa.c.account_id, aa.c.territory_id)
        .where(aa.c.model_id == model_id)
        .order_by(aa.c.account_id, aa.c.territory_id),
        {"account_id": pl.String, "territory_id": pl.String},
        large=True,
    )


@dataclass(frozen=True, slots=True)
class Difference:
    """The assignment pairs held by one model only.

    ``frame``: ``side, account_id, territory_id`` (side ``a``: only A holds
    the pair, ``b``: only B), each side in key order. ``kept``: which of A's
    assignment rows B holds too, shape ``(n_assignments_a,)``. ``added``:
    ``account_id, territory_id`` of the pairs only B holds, in key order.
    """

    frame: pl.DataFrame
    kept: npt.NDArray[np.bool_]
    added: pl.DataFrame


def assignment_diff(plan_a: Plan, pairs_b: pl.DataFrame) -> Difference:
    """Compare A's assignments with B's pairs (from :func:`read_pairs`).

    Both come in key order (account, then territory id), so the pairs are
    matched in one merge; territory ids are compared through their rank
    among the ids of both models.
    """
    rows = plan_a.assignments
    a_ids = plan_a.territories["territory_id"]
    ids = pl.concat([a_ids, pairs_b["territory_id"]]).unique().sort()
    rank = pl.DataFrame({"territory_id": ids, "rank": np.arange(ids.len())})

    def ranks(column: pl.Series) -> npt.NDArray[np.int64]:
        return (
            column.to_frame("territory_id")
            .join(rank, on="territory_id", how="left", maintain_order="left")["rank"]
            .to_numpy()
            .astype(np.int64)
        )

    a_sub = ranks(a_ids)[rows["t_idx"].to_numpy()]
    kept, in_a = match_pairs(
        rows["account_id"], a_sub, pairs_b["account_id"], ranks(pairs_b["territory_id"])
    )
    only_a = rows.filter(pl.Series(~kept)).select(
        "account_id",
        # typed: an empty selection (the models agree) must stay text
        pl.Series(
            "territory_id",
            a_ids.to_numpy()[rows["t_idx"].to_numpy()[~kept]],
            dtype=pl.String,
        ),
    )
    added = pairs_b.filter(pl.Series(~in_a))
    frame = pl.concat(
        [
            only_a.select(pl.lit("a").alias("side"), "account_id", "territory_id"),
            added.select(pl.lit("b").alias("side"), "account_id", "territory_id"),
        ]
    )
    return Difference(frame=frame, kept=kept, added=added)


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


def scenario_plan(
    conn: Connection,
    plan_a: Plan,
    model_b: TerritoryModel,
    diff: Difference,
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
    kept = diff.kept & (t_b >= 0)
    kept_rows = rows.filter(pl.Series(kept)).with_columns(
        pl.Series("t_idx", t_b[kept], dtype=pl.Int64)
    )
    added = diff.added.join(
        b_index, on="territory_id", how="inner", maintain_order="left"
    ).select("account_id", pl.col("t_b").alias("t_idx"))
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
        extra = with_effective_location(
            conn,
            read_accounts(
                conn, potential_field, account_ids=new_ids["account_id"].to_list()
            ),
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
    out: pl.DataFrame = pl.concat([reuse, measured], how="vertical_relaxed")
    if out.height != b_assign.height:
        raise InternalError(
            f"Measuring model '{plan_b.model.name}' gave {out.height:,} account "
            f"rows for {b_assign.height:,} assignments; please report this.",
            code="compare_measure_rows",
        )
    return out
