"""Grid builder shared by the design engine tests."""

from __future__ import annotations

import numpy as np

from territory.optimize import DesignProblem


def grid_problem(
    rows: int,
    cols: int,
    weights: np.ndarray | list[float] | None = None,
    tolerance: float | list[float] = 0.0,
) -> DesignProblem:
    """Rook-adjacent ``rows x cols`` grid, unit ``r * cols + c`` at ``(x=c, y=r)``."""
    n = rows * cols
    edges = []
    for r in range(rows):
        for c in range(cols):
            u = r * cols + c
            if c + 1 < cols:
                edges.append((u, u + 1))
            if r + 1 < rows:
                edges.append((u, u + cols))
    coords = np.array([[c, r] for r in range(rows) for c in range(cols)], dtype=float)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    return DesignProblem.from_edges(n, edges, w, tolerance, coords=coords)
