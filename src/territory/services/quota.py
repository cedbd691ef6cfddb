"""Quota: allocate a total top-down over the hierarchy and store it.

Each territory's share blends its share of potential with its share of
sales history (:func:`territory.metrics.allocation.allocate_quota`);
potential comes from the documented formula or the imported column
(:mod:`territory.metrics.potential`), history from the sales of the
period one year before the quota period (``2026`` for ``2027``,
``2026-Q1`` for ``2027-Q1``) unless another is named.

The *feasibility check* flags every territory whose quota exceeds
``max_share × potential``: a plan that asks a territory for more than that
share of all it could ever buy is unlikely to be met.

Writing replaces the model's territory quota rows of that period, in one
transaction, with an audit row per territory (old and new amount).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, delete, insert, select

from territory.errors import InputError
from territory.metrics.allocation import allocate_quota
from territory.metrics.period import Period, parse_period
from territory.services.models import resolve_writable_model
from territory.services.plan import load_plan, read_frame, sales_by_account
from territory.services.workload import WorkloadConfig, account_measures
from territory.storage import tables as t
from territory.storage.audit import AuditEntry, record_many

__all__ = ["QuotaResult", "allocate_quotas", "previous_period"]


@dataclass(frozen=True, slots=True)
class QuotaResult:
    """Quotas allocated to every territory of a model for one period.

    ``table``: ``territory_id, name, parent_id, depth, potential, history,
    quota, quota_share_of_potential, feasible`` — potential and history
    include descendants, as does the quota.
    """

    model: str
    period: str
    history_period: str
    total: float
    blend: float
    max_share: float
    table: pl.DataFrame
    replaced: int

    @property
    def infeasible(self) -> pl.DataFrame:
        """Return the territories whose quota exceeds ``max_share`` of potential."""
        return self.table.filter(~pl.col("feasible"))


def previous_period(period: Period) -> Period:
    """Return the same period one year earlier.

    Examples
    --------
    >>> str(previous_period(parse_period("2027-Q1")))
    '2026-Q1'
    """
    return Period(period.year - 1, quarter=period.quarter, month=period.month)


def allocate_quotas(
    engine: Engine,
    model: str | None,
    *,
    total: float,
    period: str,
    blend: float = 0.6,
    max_share: float = 0.5,
    history_period: str | None = None,
    config: WorkloadConfig | None = None,
    actor: str,
    write: bool = True,
) -> QuotaResult:
    """Allocate ``total`` over ``model``'s hierarchy for ``period`` and store it.

    ``blend`` weighs potential against history (1 = potential only).

    Raises
    ------
    InputError
        When the total, blend, share or a period is not valid.
    NotFound
        When the model does not exist.
    Conflict
        When writing to an archived model (code ``model_archived``).
    """
    if not (math.isfinite(total) and total >= 0):
        raise InputError(
            f"Quota total {total} is not usable; give --total as an amount ≥ 0.",
            code="quota_total",
        )
    if not (math.isfinite(max_share) and max_share > 0):
        raise InputError(
            f"Share of potential {max_share} must be > 0 (0.5 = half).",
            code="quota_max_share",
        )
    per = parse_period(period)
    hist_per = (
        previous_period(per) if history_period is None else parse_period(history_period)
    )
    cfg = config or WorkloadConfig()
    with engine.begin() as conn:
        if write:
            # An archive keeps its quotas as they were; a dry run may read it.
            resolve_writable_model(conn, model, action="take a new quota")
        plan = load_plan(conn, model, potential_field=cfg.potential_field)
        acc = account_measures(conn, plan, cfg)
        sales = sales_by_account(conn, hist_per)
        acc = acc.join(sales, on="account_id", how="left").with_columns(
            pl.col("sales").fill_null(0.0)
        )
        n = plan.n_territories
        idx = acc["t_idx"].to_numpy()
        own_pot = np.bincount(idx, weights=acc["potential"].to_numpy(), minlength=n)
        own_hist = np.bincount(idx, weights=acc["sales"].to_numpy(), minlength=n)
        quota = allocate_quota(total, plan.hierarchy, own_pot, own_hist, blend)
        pot = plan.hierarchy.roll_up(own_pot)
        hist = plan.hierarchy.roll_up(own_hist)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pot > 0, quota / pot, np.where(quota > 0, np.inf, 0.0))
        feasible = ratio <= max_share + 1e-12
        terr = plan.territories
        table = pl.DataFrame(
            {
                "territory_id": terr["territory_id"],
                "name": terr["name"],
                "parent_id": terr["parent_id"],
                "depth": terr["depth"],
                "potential": pot,
                "history": hist,
                "quota": quota,
                "quota_share_of_potential": pl.Series(
                    np.where(np.isfinite(ratio), ratio, np.nan)
                ).fill_nan(None),
                "feasible": feasible,
            }
        )
        replaced = 0
        if write:
            replaced = _write(conn, plan.model.id, str(per), table, actor)
    return QuotaResult(
        model=plan.model.name,
        period=str(per),
        history_period=str(hist_per),
        total=float(total),
        blend=blend,
        max_share=max_share,
        table=table,
        replaced=replaced,
    )


def _write(
    conn: Connection, model_id: str, period: str, table: pl.DataFrame, actor: str
) -> int:
    q = t.quota
    where = (
        (q.c.model_id == model_id)
        & (q.c.period == period)
        & q.c.territory_id.is_not(None)
    )
    old = read_frame(
        conn,
        select(q.c.territory_id, q.c.amount).where(where),
        {"territory_id": pl.String, "amount": pl.Float64},
    )
    old_by_t: dict[str, float] = {}
    for tid, amount in zip(
        old["territory_id"].to_list(), old["amount"].to_list(), strict=True
    ):
        old_by_t[tid] = old_by_t.get(tid, 0.0) + amount
    conn.execute(delete(q).where(where))
    rows = [
        {"model_id": model_id, "territory_id": tid, "period": period, "amount": amt}
        for tid, amt in zip(
            table["territory_id"].to_list(), table["quota"].to_list(), strict=True
        )
    ]
    if rows:
        conn.execute(insert(q), rows)
    record_many(
        conn,
        (
            AuditEntry(
                entity="quota",
                entity_id=f"{r['territory_id']}@{period}",
                model_id=model_id,
                action="update" if r["territory_id"] in old_by_t else "insert",
                old_value=(
                    {"amount": old_by_t[r["territory_id"]]}
                    if r["territory_id"] in old_by_t
                    else None
                ),
                new_value={"amount": r["amount"], "period": period},
                cause="quota",
                source="territory quota",
            )
            for r in rows
        ),
        actor=actor,
    )
    return len(old_by_t)
