"""Construction: seeded region growing that keeps every territory contiguous."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from territory.optimize.problem import DesignProblem

__all__ = ["choose_seeds", "grow_regions"]


def _dist_row(problem: DesignProblem, u: int) -> np.ndarray:
    return np.asarray(problem.distance(u, np.arange(problem.n_units)), dtype=np.float64)


def choose_seeds(
    problem: DesignProblem,
    p: int,
    rng: np.random.Generator,
    given: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Pick one seed unit per territory (k-means++ spread, given seeds kept).

    ``given[k] >= 0`` fixes territory ``k``'s seed. ``allowed`` masks units
    that may become a seed.
    """
    n = problem.n_units
    seeds = (
        np.full(p, -1, dtype=np.int64)
        if given is None
        else np.array(given, dtype=np.int64)
    )
    ok = np.ones(n, dtype=bool) if allowed is None else allowed.copy()
    nearest = np.full(n, np.inf)
    for s in seeds[seeds >= 0]:
        nearest = np.minimum(nearest, _dist_row(problem, int(s)))
        ok[s] = False
    for k in range(p):
        if seeds[k] >= 0:
            continue
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            raise AssertionError("fewer candidate seeds than territories")
        if not np.isfinite(nearest[cand]).any():
            s = int(cand[rng.integers(cand.size)])
        else:
            w = nearest[cand] ** 2
            total = w.sum()
            s = (
                int(cand[rng.choice(cand.size, p=w / total)])
                if total > 0
                else int(cand[rng.integers(cand.size)])
            )
        seeds[k] = s
        ok[s] = False
        nearest = np.minimum(nearest, _dist_row(problem, s))
    return seeds


def grow_regions(
    problem: DesignProblem,
    adjacency: sp.csr_array,
    targets: np.ndarray,
    seeds: np.ndarray,
    *,
    locked: Mapping[int, int] | None = None,
    start: np.ndarray | None = None,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Grow one territory from each seed until every active unit is taken.

    The least loaded territory (largest share of any activity target) takes
    next its nearest unassigned neighbour, so territories stay connected and
    roughly balanced. ``start`` gives labels already fixed (``-1``: free);
    ``locked`` pins more. Units outside ``active`` stay at -1.
    """
    n = problem.n_units
    p = seeds.size
    labels = (
        np.full(n, -1, dtype=np.int64)
        if start is None
        else np.array(start, dtype=np.int64)
    )
    if active is not None:
        labels[~active] = -1
    for unit, k in (locked or {}).items():
        labels[int(unit)] = int(k)
    for k, s in enumerate(seeds):
        if s >= 0 and labels[s] < 0:
            labels[s] = k
    w = problem.weights
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(targets > 0, 1.0 / np.where(targets > 0, targets, 1), 0.0)
    sums = np.zeros((p, w.shape[1]))
    assigned = labels >= 0
    np.add.at(sums, labels[assigned], w[assigned])
    indptr, indices = adjacency.indptr, adjacency.indices
    coords = problem.coords
    dist = problem.distances
    anchor = np.array(seeds, dtype=np.int64)
    for k in range(p):
        if anchor[k] < 0:
            own = np.flatnonzero(labels == k)
            anchor[k] = own[0] if own.size else -1

    def d(k: int, u: int) -> float:
        s = int(anchor[k])
        if s < 0:
            return 0.0
        if dist is not None:
            return float(dist[s, u])
        assert coords is not None
        dx = coords[s, 0] - coords[u, 0]
        dy = coords[s, 1] - coords[u, 1]
        return float(np.sqrt(dx * dx + dy * dy))

    frontier: list[list[tuple[float, int]]] = [[] for _ in range(p)]
    is_active = np.ones(n, dtype=bool) if active is None else active
    for u in np.flatnonzero(labels >= 0):
        k = int(labels[u])
        for v in indices[indptr[u] : indptr[u + 1]]:
            if labels[v] < 0 and is_active[v]:
                heapq.heappush(frontier[k], (d(k, int(v)), int(v)))
    load = [(float((sums[k] * inv[k]).max()), k) for k in range(p)]
    heapq.heapify(load)
    remaining = int((is_active & (labels < 0)).sum())
    while remaining and load:
        _, k = heapq.heappop(load)
        fr = frontier[k]
        while fr and labels[fr[0][1]] >= 0:
            heapq.heappop(fr)
        if not fr:
            continue  # stuck: this territory cannot grow any more
        _, unit = heapq.heappop(fr)
        labels[unit] = k
        remaining -= 1
        sums[k] += w[unit]
        for v in indices[indptr[unit] : indptr[unit + 1]]:
            if labels[v] < 0 and is_active[v]:
                heapq.heappush(fr, (d(k, int(v)), int(v)))
        heapq.heappush(load, (float((sums[k] * inv[k]).max()), k))
    # units no territory could reach (only when the graph is disconnected)
    for u in np.flatnonzero(is_active & (labels < 0)):
        dk = [d(k, int(u)) for k in range(p)]
        labels[u] = int(np.argmin(dk))
    return labels
