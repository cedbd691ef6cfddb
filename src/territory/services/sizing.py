"""Sizing: how many reps the plan's workload needs, overall and per region.

Workload is measured with travel from each territory's centre (its spread),
so sizing never waits for staffing. ``reps needed = ⌈workload ÷ capacity⌉``
overall and per region (a top-level territory and its descendants). Each
leaf territory is one rep's job: it is *over* capacity when its workload
exceeds the capacity, *under* when it falls below ``(1 − tolerance) ×
capacity``, and *ok* otherwise; ``gap_hours = workload − capacity`` says by
how much.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Engine

from territory.errors import InputError
from territory.services.plan import load_plan
from territory.services.workload import WorkloadConfig, account_measures

__all__ = ["SizingResult", "size_model"]


@dataclass(frozen=True, slots=True)
class SizingResult:
    """Reps needed and each territory's load against one rep's capacity.

    ``regions``: ``region_id, name, territories, accounts, workload_hours,
    fte, reps_needed``. ``territories`` (leaves only): ``territory_id, name,
    region_id, accounts, workload_hours, capacity_hours, utilisation,
    gap_hours, status``.
    """

    model: str
    capacity_hours: float
    tolerance: float
    workload_hours: float
    reps_needed: int
    regions: pl.DataFrame
    territories: pl.DataFrame

    @property
    def over(self) -> pl.DataFrame:
        """Return the territories over capacity, largest gap first."""
        return self.territories.filter(pl.col("status") == "over").sort(
            "gap_hours", descending=True
        )

    @property
    def under(self) -> pl.DataFrame:
        """Return the territories under capacity, largest shortfall first."""
        return self.territories.filter(pl.col("status") == "under").sort("gap_hours")


def _needed(hours: float, capacity: float) -> int:
    # A hair of float noise must not add a rep: 3200.0000001 h / 1600 h is 2.
    return int(math.ceil(hours / capacity - 1e-9)) if hours > 0 else 0


def size_model(
    engine: Engine,
    model: str | None,
    *,
    config: WorkloadConfig | None = None,
    capacity_hours: float | None = None,
    tolerance: float = 0.1,
) -> SizingResult:
    """Size the model named ``model`` (default: the active one).

    ``capacity_hours`` (per rep per year) defaults to the workload settings'
    ``capacity_hours`` (1600).

    Raises
    ------
    InputError
        When the capacity is not > 0 or the tolerance is outside [0, 1).
    NotFound
        When the model does not exist.
    """
    cfg = config or WorkloadConfig()
    capacity = cfg.workload.capacity_hours if capacity_hours is None else capacity_hours
    if not (math.isfinite(capacity) and capacity > 0):
        raise InputError(
            f"Capacity {capacity} h is not usable; give --capacity-hours as the "
            "yearly hours one rep can work, e.g. 1600.",
            code="capacity_hours",
        )
    if not 0.0 <= tolerance < 1.0:
        raise InputError(
            f"Tolerance {tolerance} must be between 0 and 1 (0.1 = 10 %).",
            code="sizing_tolerance",
        )
    with engine.connect() as conn:
        plan = load_plan(conn, model, potential_field=cfg.potential_field)
        acc = account_measures(conn, plan, cfg, travel_from="centre")
    n = plan.n_territories
    idx = acc["t_idx"].to_numpy()
    own_hours = np.bincount(idx, weights=acc["workload_hours"].to_numpy(), minlength=n)
    own_accounts = np.bincount(idx, minlength=n).astype(np.float64)
    h = plan.hierarchy
    hours = h.roll_up(own_hours)
    terr = plan.territories
    region_ids = terr["territory_id"].to_numpy()[h.root]
    roots = np.flatnonzero(h.parent < 0)
    # Distinct accounts per region (an account in two territories counts once).
    region_acc = (
        acc.select("account_id", pl.Series("r", h.root[idx]))
        .unique()
        .group_by("r")
        .len()
    )
    acc_by_region = dict(
        zip(region_acc["r"].to_list(), region_acc["len"].to_list(), strict=True)
    )
    regions = pl.DataFrame(
        {
            "region_id": terr["territory_id"].to_numpy()[roots],
            "name": terr["name"].to_numpy()[roots],
            "territories": np.bincount(h.root, minlength=n)[roots].astype(np.int64),
            "accounts": np.array(
                [acc_by_region.get(int(r), 0) for r in roots], dtype=np.int64
            ),
            "workload_hours": hours[roots],
        }
    ).with_columns(
        (pl.col("workload_hours") / capacity).alias("fte"),
        pl.col("workload_hours")
        .map_elements(lambda v: _needed(v, capacity), return_dtype=pl.Int64)
        .alias("reps_needed"),
    )
    leaves = np.flatnonzero(terr["is_leaf"].to_numpy())
    gap = hours[leaves] - capacity
    status = np.where(
        gap > 1e-9,
        "over",
        np.where(hours[leaves] < (1 - tolerance) * capacity, "under", "ok"),
    )
    territories = pl.DataFrame(
        {
            "territory_id": terr["territory_id"].to_numpy()[leaves],
            "name": terr["name"].to_numpy()[leaves],
            "region_id": region_ids[leaves],
            "accounts": own_accounts[leaves].astype(np.int64),
            "workload_hours": hours[leaves],
            "capacity_hours": np.full(leaves.size, capacity),
            "utilisation": hours[leaves] / capacity,
            "gap_hours": gap,
            "status": status,
        }
    )
    total = float(hours[roots].sum())
    return SizingResult(
        model=plan.model.name,
        capacity_hours=float(capacity),
        tolerance=tolerance,
        workload_hours=total,
        reps_needed=_needed(total, capacity),
        regions=regions,
        territories=territories,
    )
