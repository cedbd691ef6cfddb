"""A proven floor under the max diameter of any plan within the tolerances.

Every territory must hold at least its target times ``1 - tol`` of each
activity. The territory that takes a unit ``u`` therefore is a set of units
containing ``u``, no two of them farther apart than its diameter, whose
activity reaches that floor. :func:`diameter_lower_bound` finds, for the
units where this is hardest (sparse corners of the map), the largest
diameter at which no such set exists: a small integer program per probe
(pick units around ``u``; two units farther apart than the diameter exclude
each other; reach the floor on every activity). Then pairs: the unit ``u``
and a neighbour ``v`` either share a territory (one such set holding both)
or not (two disjoint sets, one each); when neither is possible at some
diameter, the floor rises to it. Contiguity and the remaining territories
are left out, so the bound holds for every plan, whatever method drew it: a
plan at the bound cannot be beaten on its widest territory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from territory.optimize.problem import DesignProblem

__all__ = ["DiameterBound", "diameter_lower_bound"]


@dataclass(frozen=True)
class DiameterBound:
    """No plan within the tolerances has every territory narrower than ``value``.

    ``unit`` is the unit whose territory cannot be narrower (index into the
    problem's units), ``partner`` the second unit of the pair that proved it
    (-1: the unit alone did); ``radius`` is the cruder bound from distances
    to one unit only (``value >= radius``).
    """

    value: float
    unit: int
    radius: float
    partner: int = -1


def diameter_lower_bound(
    problem: DesignProblem,
    targets: np.ndarray,
    tolerances: np.ndarray,
    *,
    active: np.ndarray | None = None,
    candidates: int = 6,
    partners: int = 40,
    lift: float = 1e-3,
    resolution: float = 1e-5,
    probe_time_s: float = 5.0,
) -> DiameterBound:
    """Return a diameter every plan within ``tolerances`` must exceed somewhere.

    ``targets`` is ``(p, m)``; the floor of activity ``a`` is the smallest
    ``targets[k, a] * (1 - tolerances[a])`` over territories. ``candidates``
    units with the largest radius bound are probed exactly (bisection on the
    diameter to ``resolution`` relative); a probe the solver cannot settle in
    ``probe_time_s`` counts as reachable, so the bound stays proven. Then
    up to ``partners`` units within twice the floor of its unit (largest
    radius bound first) are paired with it at ``1 + lift`` times the floor;
    the pairs that lift it are bisected. Memory and time grow as units
    squared (one distance matrix).
    """
    n = problem.n_units
    keep = np.ones(n, dtype=bool) if active is None else np.asarray(active, bool)
    units = np.flatnonzero(keep)
    w = np.asarray(problem.weights, dtype=np.float64)[units]
    floor = np.asarray(targets, dtype=np.float64).min(axis=0) * (
        1.0 - np.asarray(tolerances, dtype=np.float64)
    )
    need = floor > 0
    if units.size == 0 or not need.any():
        return DiameterBound(0.0, -1, 0.0)
    w, floor = w[:, need], floor[need]
    dist = np.asarray(
        problem.distance(units[:, None], units[None, :]), dtype=np.float64
    )
    # radius bound: the ball around u must reach the floor on every activity
    order = np.argsort(dist, axis=1, kind="stable")
    reach = np.zeros(units.size)
    for a in range(w.shape[1]):
        acc = np.cumsum(w[order, a], axis=1)
        first = np.argmax(acc >= floor[a] * (1 - 1e-12), axis=1)
        first = np.where(acc[:, -1] >= floor[a] * (1 - 1e-12), first, units.size - 1)
        reach = np.maximum(
            reach, np.take_along_axis(dist, order, 1)[np.arange(units.size), first]
        )
    if np.any(w.sum(axis=0) < floor):
        # the whole map is short of a floor: no plan at all
        return DiameterBound(np.inf, -1, np.inf)
    radius = float(reach.max())
    best = DiameterBound(radius, int(units[int(np.argmax(reach))]), radius)
    for i in np.argsort(-reach, kind="stable")[:candidates]:
        i = int(i)
        lo = float(reach[i]) * (1 - 1e-12)  # below the radius bound: unreachable
        hi = 2.0 * float(reach[i])  # the ball of the radius bound reaches it
        if hi <= best.value or _reachable(dist, w, floor, i, best.value, probe_time_s):
            continue
        lo = max(lo, best.value)
        while hi - lo > resolution * lo:
            mid = 0.5 * (lo + hi)
            if _reachable(dist, w, floor, i, mid, probe_time_s):
                hi = mid
            else:
                lo = mid
        best = DiameterBound(lo, int(units[i]), radius)
    if best.unit < 0 or partners <= 0:
        return best
    u = int(np.searchsorted(units, best.unit))
    probe = best.value * (1 + lift)
    near = np.flatnonzero((dist[u] <= 2 * probe) & (np.arange(units.size) != u))
    near = near[np.argsort(-reach[near], kind="stable")][:partners]
    lifting = [
        int(v)
        for v in near
        if not _pair_reachable(dist, w, floor, u, int(v), probe, probe_time_s)
    ]
    for v in lifting:
        lo, hi = best.value, 2.0 * float(reach[u])
        if _pair_reachable(dist, w, floor, u, v, lo * (1 + resolution), probe_time_s):
            continue
        while hi - lo > resolution * lo:
            mid = 0.5 * (lo + hi)
            if _pair_reachable(dist, w, floor, u, v, mid, probe_time_s):
                hi = mid
            else:
                lo = mid
        best = DiameterBound(lo, int(units[u]), radius, int(units[v]))
    return best


def _pair_reachable(
    dist: np.ndarray,
    w: np.ndarray,
    floor: np.ndarray,
    u: int,
    v: int,
    diameter: float,
    time_s: float,
) -> bool:
    """Whether ``u`` and ``v`` can share a set that reaches ``floor`` within
    ``diameter``, or lie in two disjoint such sets (unsettled: True)."""
    if dist[u, v] <= diameter and _reachable(
        dist, w, floor, u, diameter, time_s, also=v
    ):
        return True
    return _reachable(dist, w, floor, u, diameter, time_s, apart=v)


def _reachable(
    dist: np.ndarray,
    w: np.ndarray,
    floor: np.ndarray,
    u: int,
    diameter: float,
    time_s: float,
    *,
    also: int = -1,
    apart: int = -1,
) -> bool:
    """Whether some set of units containing ``u`` (and ``also``), none farther
    apart than ``diameter``, reaches ``floor`` on every activity; with
    ``apart``, together with a disjoint second such set containing it
    (unsettled: True)."""
    holds = [u] if also < 0 else [u, also]
    near = np.flatnonzero((dist[holds] <= diameter).all(axis=0))
    blocks = [near]
    if apart >= 0:
        blocks.append(np.flatnonzero(dist[apart] <= diameter))
    for b in blocks:
        if np.any(w[b].sum(axis=0) < floor * (1 - 1e-12)):
            return False
    size = sum(b.size for b in blocks)
    rows = []
    cover = np.zeros((len(blocks), w.shape[1], size))
    low = np.zeros(size)
    start = 0
    for s_i, b in enumerate(blocks):
        i, j = np.nonzero(np.triu(dist[np.ix_(b, b)] > diameter, 1))
        if i.size:
            conflict = sp.coo_array(
                (
                    np.ones(2 * i.size),
                    (np.r_[np.arange(i.size), np.arange(i.size)], start + np.r_[i, j]),
                ),
                shape=(i.size, size),
            )
            rows.append(LinearConstraint(conflict, -np.inf, 1.0))
        cover[s_i, :, start : start + b.size] = w[b].T
        for x in holds if s_i == 0 else [apart]:
            low[start + int(np.searchsorted(b, x))] = 1.0
        start += b.size
    rows.append(
        LinearConstraint(
            cover.reshape(-1, size), np.tile(floor * (1 - 1e-12), len(blocks)), np.inf
        )
    )
    if apart >= 0:
        # a unit joins at most one of the two sets
        shared, in_a, in_b = np.intersect1d(blocks[0], blocks[1], return_indices=True)
        if shared.size:
            m = shared.size
            both = sp.coo_array(
                (
                    np.ones(2 * m),
                    (np.r_[np.arange(m), np.arange(m)], np.r_[in_a, near.size + in_b]),
                ),
                shape=(m, size),
            )
            rows.append(LinearConstraint(both, -np.inf, 1.0))
    res = milp(
        np.zeros(size),
        constraints=rows,
        integrality=np.ones(size),
        bounds=Bounds(low, np.ones(size)),
        options={"time_limit": time_s},
    )
    return bool(res.status != 2)  # 2: proven infeasible
