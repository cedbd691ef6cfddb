"""A proven floor under the max diameter of any plan within the tolerances.

Every territory must hold at least its target times ``1 - tol`` of each
activity. The territory that takes a unit ``u`` therefore is a set of units
containing ``u``, no two of them farther apart than its diameter, whose
activity reaches that floor. :func:`diameter_lower_bound` finds, for the
units where this is hardest (sparse corners of the map), the largest
diameter at which no such set exists: a small integer program per probe
(pick units around ``u``; two units farther apart than the diameter exclude
each other; reach the floor on every activity). Contiguity and the other
territories are left out, so the bound holds for every plan, whatever method
drew it: a plan at the bound cannot be beaten on its widest territory.
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
    problem's units); ``radius`` is the cruder bound from distances to one
    unit only (``value >= radius``).
    """

    value: float
    unit: int
    radius: float


def diameter_lower_bound(
    problem: DesignProblem,
    targets: np.ndarray,
    tolerances: np.ndarray,
    *,
    active: np.ndarray | None = None,
    candidates: int = 6,
    resolution: float = 1e-4,
    probe_time_s: float = 5.0,
) -> DiameterBound:
    """Return a diameter every plan within ``tolerances`` must exceed somewhere.

    ``targets`` is ``(p, m)``; the floor of activity ``a`` is the smallest
    ``targets[k, a] * (1 - tolerances[a])`` over territories. ``candidates``
    units with the largest radius bound are probed exactly (bisection on the
    diameter to ``resolution`` relative); a probe the solver cannot settle in
    ``probe_time_s`` counts as reachable, so the bound stays proven. Memory
    and time grow as units squared (one distance matrix).
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
        while hi - lo > resolution * hi:
            mid = 0.5 * (lo + hi)
            if _reachable(dist, w, floor, i, mid, probe_time_s):
                hi = mid
            else:
                lo = mid
        best = DiameterBound(lo, int(units[i]), radius)
    return best


def _reachable(
    dist: np.ndarray,
    w: np.ndarray,
    floor: np.ndarray,
    u: int,
    diameter: float,
    time_s: float,
) -> bool:
    """Whether some set of units containing ``u``, none farther apart than
    ``diameter``, reaches ``floor`` on every activity (unsettled: True)."""
    near = np.flatnonzero(dist[u] <= diameter)
    if np.any(w[near].sum(axis=0) < floor * (1 - 1e-12)):
        return False
    sub = dist[np.ix_(near, near)]
    i, j = np.nonzero(np.triu(sub > diameter, 1))
    k = near.size
    rows = []
    if i.size:
        conflict = sp.coo_array(
            (
                np.ones(2 * i.size),
                (np.r_[np.arange(i.size), np.arange(i.size)], np.r_[i, j]),
            ),
            shape=(i.size, k),
        )
        rows.append(LinearConstraint(conflict, -np.inf, 1.0))
    rows.append(LinearConstraint(w[near].T, floor * (1 - 1e-12), np.inf))
    low = np.zeros(k)
    low[int(np.searchsorted(near, u))] = 1.0
    res = milp(
        np.zeros(k),
        constraints=rows,
        integrality=np.ones(k),
        bounds=Bounds(low, np.ones(k)),
        options={"time_limit": time_s},
    )
    return bool(res.status != 2)  # 2: proven infeasible
