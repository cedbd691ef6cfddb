"""Sizing: how many reps the plan's workload needs, overall and per region.

Workload is measured with travel from each territory's centre (its spread),
so sizing never waits for staffing. ``reps needed = ⌈workload ÷ capacity⌉``
overall and per region (a top-level territory and its descendants). Each
leaf territory is one rep's job: it is *over* capacity when its workload
exceeds the capacity, *under* when it falls below ``(1 − tolerance) ×
capacity``, and *ok* otherwise; ``gap_hours = workload − capacity`` says by
how much.

Regions are the top-level territories of the main territory type's
hierarchy (:func:`~territory.services.plan.region_roots`). Overlays —
top-level territories of another type, such as an industry team — cover the
regions' accounts a second time and are worked by their own people, so they
are sized apart (their own headcount) and never counted among the regions
or in the regions' capacity lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sqlalchemy import Engine

from territory.errors import InputError
from territory.services.location import describe_unlocated
from territory.services.plan import load_plan, region_roots
from territory.services.workload import WorkloadConfig, account_measures

__all__ = ["SizingResult", "size_model"]


@dataclass(frozen=True, slots=True)
class SizingResult:
    """Reps needed and each territory's load against one rep's capacity.

    ``regions``: ``region_id, name, territories, accounts, workload_hours,
    fte, reps_needed`` (the regions only), where ``territories`` counts the
    region's leaf territories (the region itself and its middle levels are
    not counted); ``overlays``: the same columns for each overlay (a
    top-level territory of another type; one without sub-territories counts
    1, itself). ``territories``
    (leaves only): ``territory_id, name, region_id, overlay, accounts,
    workload_hours, capacity_hours, utilisation, gap_hours, status``.
    ``workload_hours`` and ``reps_needed`` are the regions' (the geographic
    team); ``overlay_workload_hours`` and ``overlay_reps_needed`` the
    overlays' (each overlay rounds up on its own).
    """

    model: str
    capacity_hours: float
    tolerance: float
    workload_hours: float
    reps_needed: int
    regions: pl.DataFrame
    territories: pl.DataFrame
    overlays: pl.DataFrame = field(default_factory=pl.DataFrame)
    overlay_workload_hours: float = 0.0
    overlay_reps_needed: int = 0
    notes: tuple[str, ...] = ()

    @property
    def over(self) -> pl.DataFrame:
        """Return the regions' territories over capacity, largest gap first."""
        return self.territories.filter(
            (pl.col("status") == "over") & ~pl.col("overlay")
        ).sort("gap_hours", descending=True)

    @property
    def under(self) -> pl.DataFrame:
        """Return the regions' territories under capacity, largest shortfall first."""
        return self.territories.filter(
            (pl.col("status") == "under") & ~pl.col("overlay")
        ).sort("gap_hours")

    @property
    def region_territories(self) -> pl.DataFrame:
        """Return the leaf territories of the regions (overlays left out)."""
        return self.territories.filter(~pl.col("overlay"))

    @property
    def overlay_territories(self) -> pl.DataFrame:
        """Return the leaf territories of the overlays."""
        return self.territories.filter(pl.col("overlay"))


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
    is_region = region_roots(terr)
    # Distinct accounts per top-level territory (an account in two
    # territories counts once).
    region_acc = (
        acc.select("account_id", pl.Series("r", h.root[idx]))
        .unique()
        .group_by("r")
        .len()
    )
    acc_by_region = dict(
        zip(region_acc["r"].to_list(), region_acc["len"].to_list(), strict=True)
    )

    leaves = np.flatnonzero(terr["is_leaf"].to_numpy())
    # A top's ``territories`` are the leaf territories under it (the jobs reps
    # work); the top and its middle levels are not counted. An overlay with
    # no sub-territories is one territory itself.
    n_leaves = np.bincount(h.root[leaves], minlength=n).astype(np.int64)

    def tops(roots: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "region_id": pl.Series(
                    terr["territory_id"].to_numpy()[roots].tolist(), dtype=pl.String
                ),
                "name": pl.Series(
                    terr["name"].to_numpy()[roots].tolist(), dtype=pl.String
                ),
                "territories": n_leaves[roots],
                "accounts": np.array(
                    [acc_by_region.get(int(r), 0) for r in roots], dtype=np.int64
                ),
                "workload_hours": hours[roots].astype(np.float64),
            }
        ).with_columns(
            (pl.col("workload_hours") / capacity).alias("fte"),
            pl.col("workload_hours")
            .map_elements(lambda v: _needed(v, capacity), return_dtype=pl.Int64)
            .alias("reps_needed"),
        )

    region_idx = np.flatnonzero(is_region)
    overlay_idx = np.flatnonzero((h.parent < 0) & ~is_region)
    regions, overlays = tops(region_idx), tops(overlay_idx)
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
            "overlay": ~is_region[h.root[leaves]],
            "accounts": own_accounts[leaves].astype(np.int64),
            "workload_hours": hours[leaves],
            "capacity_hours": np.full(leaves.size, capacity),
            "utilisation": hours[leaves] / capacity,
            "gap_hours": gap,
            "status": status,
        }
    )
    total = float(hours[region_idx].sum())
    notes = []
    unlocated = describe_unlocated(acc, "travel")
    if unlocated:
        notes.append(unlocated)
    if overlays.height:
        notes.append(
            f"{overlays.height:,} overlays (top-level territories of another type: "
            f"{', '.join(overlays['region_id'].head(5).to_list())}"
            + (" ..." if overlays.height > 5 else "")
            + ") cover the regions' accounts a second time and are sized apart"
        )
    return SizingResult(
        model=plan.model.name,
        capacity_hours=float(capacity),
        tolerance=tolerance,
        workload_hours=total,
        reps_needed=_needed(total, capacity),
        regions=regions,
        territories=territories,
        overlays=overlays,
        overlay_workload_hours=float(hours[overlay_idx].sum()),
        overlay_reps_needed=int(overlays["reps_needed"].sum() or 0),
        notes=tuple(notes),
    )
