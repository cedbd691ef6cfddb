"""Solve one published benchmark instance and score it the benchmark's way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from territory.optimize.instances import evaluate_benchmark, read_instance
from territory.optimize.problem import DesignOptions
from territory.optimize.solve import design

__all__ = ["solve_instance"]


def solve_instance(
    path: str | Path,
    *,
    time_limit_s: float = 60.0,
    seed: int = 0,
    p: int | None = None,
    labels_out: str | Path | None = None,
    max_iterations: int | None = None,
) -> dict[str, Any]:
    """Read, solve and evaluate one instance; return the ``bench solve`` record.

    ``status`` is the engine's (``infeasible`` when it proved that no
    contiguous plan meets the tolerances). ``time_s`` counts everything after
    the file is parsed (distance precomputation and compilation included).
    The heuristic gets what is left of ``time_limit_s`` after the
    precomputation, less a small margin for the final measurement.
    """
    instance = read_instance(path, p=p)
    started = time.perf_counter()
    problem = instance.problem()
    spent = time.perf_counter() - started
    margin = 0.02 * time_limit_s + 0.05
    options = DesignOptions(
        n_territories=instance.n_territories,
        objective="diameter",
        seed=seed,
        time_limit_s=max(0.1, time_limit_s - spent - margin),
        max_iterations=max_iterations,
        method="heuristic",
    )
    result = design(problem, options)
    scored = evaluate_benchmark(instance, result.labels)
    elapsed = time.perf_counter() - started
    if labels_out is not None:
        Path(labels_out).write_text(" ".join(str(int(k)) for k in result.labels) + "\n")
    return {
        "instance": instance.name,
        "n": instance.n_units,
        "p": instance.n_territories,
        "objective": float(scored.objective),
        "imbalance": float(scored.imbalance),
        "feasible": bool(scored.feasible),
        "contiguous": bool(scored.contiguous),
        "status": result.status,
        "time_s": round(elapsed, 3),
        "seed": seed,
    }


def labels_from_file(path: str | Path) -> np.ndarray:
    """Read one line of territory labels in unit order."""
    return np.array(Path(path).read_text().split(), dtype=np.int64)
