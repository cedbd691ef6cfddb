"""Compile the Numba kernels once, at install time, instead of in a user's command.

The native SQLite reader, the sorted-key merges, the hull filter of the
metrics and the design engine's search are Numba functions cached in
``__pycache__`` beside their sources. Compiling them takes seconds of CPU
(about ten for the readers and metrics alone); the cache makes every later
process load them in a fraction of a second. ``make install`` runs::

    python -m territory.services.warm

which measures a tiny plan in a temporary SQLite file store (every level
of ``territory metrics``, sizing and a comparison with a clone) and designs
a tiny grid, so the kernels a first real command calls are already
compiled. Nothing outside the temporary folder is touched; the command
prints what it warmed and how long it took.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

__all__ = ["warm_compiled_kernels"]


def _tiny_store(url: str) -> None:
    """Store a plan of two regions, four territories and 64 located accounts."""
    from sqlalchemy import insert

    from territory.services.models import clone_model, create_model
    from territory.storage import tables as t
    from territory.storage.engine import make_engine, migrate

    engine = make_engine(url)
    try:
        migrate(engine)
        model = create_model(engine, "warm", actor="warm-up")
        now = datetime.now(UTC)
        leaves = ["T1", "T2", "T3", "T4"]
        with engine.begin() as conn:
            conn.execute(
                insert(t.territory),
                [
                    {"model_id": model.id, "id": tid, "name": tid, "parent_id": parent,
                     "description": "", "is_catch_all": False, "attributes": {}}
                    for tid, parent in [("R1", None), ("R2", None), ("T1", "R1"),
                                        ("T2", "R1"), ("T3", "R2"), ("T4", "R2")]
                ],
            )  # fmt: skip
            conn.execute(
                insert(t.account),
                [
                    {"id": f"W{k:03d}", "name": f"W{k:03d}", "annual_revenue": 1e6 * k,
                     "latitude": 30.0 + (k % 8) / 10, "longitude": -90.0 + k // 8 / 10,
                     "created_at": now, "updated_at": now}
                    for k in range(64)
                ],
            )  # fmt: skip
            conn.execute(
                insert(t.account_assignment),
                [
                    {"model_id": model.id, "account_id": f"W{k:03d}",
                     "territory_id": leaves[k % 4], "cause": "manual"}
                    for k in range(64)
                ],
            )  # fmt: skip
            conn.execute(
                insert(t.rep),
                [{"id": f"P{k}", "name": f"P{k}", "home_lat": 30.0,
                  "home_lon": -90.0} for k in range(4)],
            )  # fmt: skip
            conn.execute(
                insert(t.territory_membership),
                [
                    {"model_id": model.id, "territory_id": tid, "rep_id": f"P{k}",
                     "role": "owner", "start_date": date(2020, 1, 1)}
                    for k, tid in enumerate(leaves)
                ],
            )  # fmt: skip
            conn.execute(
                insert(t.sales_history),
                [
                    {"account_id": f"W{k:03d}", "period": p, "amount": 10.0 + k}
                    for k in range(64)
                    for p in ("2026", "2027-Q1")
                ],
            )
        clone_model(engine, "warm", "warm clone", actor="warm-up")
    finally:
        engine.dispose()


def _warm_metrics(folder: Path) -> None:
    from territory.services.compare import compare_models
    from territory.services.performance import compute_metrics
    from territory.services.sizing import size_model
    from territory.storage.engine import make_engine

    url = f"sqlite:///{folder / 'warm.db'}"
    _tiny_store(url)
    engine = make_engine(url)
    try:
        for level in ("territory", "rep", "region"):
            for period in ("2027", "2027-03"):
                compute_metrics(engine, "warm", level=level, period=period)
        size_model(engine, "warm")
        compare_models(engine, "warm", "warm clone", period="2026")
    finally:
        engine.dispose()


def _warm_design() -> None:
    import numpy as np

    from territory.optimize import DesignOptions, DesignProblem, design

    rows = cols = 6
    edges = [
        (r * cols + c, r * cols + c + d)
        for r in range(rows)
        for c in range(cols)
        for d in (1, cols)
        if (d == 1 and c + 1 < cols) or (d == cols and r + 1 < rows)
    ]
    coords = np.array(
        [[c, r] for r in range(rows) for c in range(cols)], dtype=np.float64
    )
    problem = DesignProblem.from_edges(
        rows * cols, edges, np.ones(rows * cols), 0.1, coords=coords
    )
    for objective in ("diameter", "moment"):
        design(
            problem,
            DesignOptions(
                n_territories=4,
                objective=objective,
                method="heuristic",
                max_iterations=2000,
                seed=0,
            ),
        )


def warm_compiled_kernels(out: TextIO = sys.stdout) -> float:
    """Compile (or load) every cached kernel once; return the seconds it took."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="territory-warm-") as tmp:
        _warm_metrics(Path(tmp))
    metrics_s = time.perf_counter() - start
    _warm_design()
    total = time.perf_counter() - start
    print(
        f"Compiled kernels warmed: readers and metrics {metrics_s:.1f} s, design "
        f"engine {total - metrics_s:.1f} s (cached for every later command).",
        file=out,
    )
    return total


if __name__ == "__main__":
    warm_compiled_kernels()
