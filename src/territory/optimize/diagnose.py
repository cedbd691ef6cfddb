"""Infeasibility diagnosis and the documented way through for oversize units."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from territory.errors import InfeasibleError
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import InfeasibilityDiagnosis, StrandedUnit

__all__ = [
    "OversizePlan",
    "diagnose_balance",
    "diagnose_neighbourhoods",
    "plan_oversize_units",
]


def diagnose_balance(
    problem: DesignProblem, options: DesignOptions, targets: np.ndarray | None = None
) -> InfeasibilityDiagnosis | None:
    """Return why the tolerances cannot hold, or None if no unit is too big.

    A unit whose activity exceeds the largest territory target times
    ``1 + tol`` cannot fit anywhere, so the provable smallest tolerance on
    that activity is ``largest unit / largest target - 1``. (With equal
    targets this is ``largest unit / mean - 1``.) Runs in ``O(n m)``.
    """
    if targets is None:
        targets = options.targets(problem)
    w = problem.weights
    cap = targets.max(axis=0)
    m = problem.n_activities
    lower = np.zeros(m)
    oversize: dict[int, tuple[int, ...]] = {}
    lines: list[str] = []
    for a in range(m):
        if cap[a] <= 0:
            continue
        lower[a] = max(0.0, float(w[:, a].max() / cap[a] - 1.0))
        limit = cap[a] * (1 + problem.tolerances[a])
        big = np.flatnonzero(w[:, a] > limit * (1 + 1e-12))
        if big.size:
            big = big[np.argsort(-w[big, a], kind="stable")]
            oversize[a] = tuple(int(u) for u in big)
            shown = ", ".join(
                f"unit {u} ({w[u, a]:.6g}, {w[u, a] / cap[a]:.2f}x the target)"
                for u in big[:10]
            )
            more = f" and {big.size - 10} more" if big.size > 10 else ""
            lines.append(
                f"{problem.activity_names[a]}: tolerance ±{problem.tolerances[a]:.2%} "
                f"is impossible with {options.n_territories} territories — "
                f"{big.size} unit(s) alone exceed the target {cap[a]:.6g} by more "
                f"than the tolerance: {shown}{more}. The tolerance cannot be below "
                f"{lower[a]:.2%}. Fewer territories, a wider tolerance, or "
                "plan_oversize_units() (one territory per oversize unit, worth "
                "several reps) fix it."
            )
    if not oversize:
        return None
    return InfeasibilityDiagnosis(
        oversize_units=oversize,
        lower_bounds=lower,
        reached=np.full(m, np.nan),
        message="\n".join(lines),
    )


def diagnose_neighbourhoods(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    *,
    adjacency: sp.csr_array | None = None,
    min_share: float = 0.5,
    max_shapes: int = 20_000,
    budget_s: float = 2.0,
) -> InfeasibilityDiagnosis | None:
    """Prove, for big units, that no territory around them meets every tolerance.

    A unit worth at least ``min_share`` of a territory leaves little room:
    every territory holding it is one of the connected sets of units around
    it whose activities stay within the largest target's upper tolerance.
    Those sets are enumerated (at most ``max_shapes`` per unit, ``budget_s``
    in all), and a little beyond: up to ``1 + 1.25 tol`` of the largest
    target. A set *fits* when it is within every tolerance of a free
    territory's target and cuts off no piece of the map too small to be a
    territory on its own (the Florida Keys, enclosed by Miami-Dade and
    Collier, must join one of them). When no set fits and the enumeration
    was complete, the unit is stranded: no plan meets the tolerances. The
    closest set is reported; every set not enumerated misses some tolerance
    by more than a quarter of it. Units pinned by locks or centres are left
    out, and so is a unit that could reach one (it might join that
    territory).

    ``adjacency`` is the graph the plan must be contiguous in (bridges
    included); the problem's by default. Returns None when nothing is proven.
    """
    if not options.contiguity:
        return None
    started = time.perf_counter()
    adj = sp.csr_array(problem.adjacency if adjacency is None else adjacency)
    n, m = problem.weights.shape
    w = problem.weights
    tol = problem.tolerances
    pinned = np.zeros(n, dtype=bool)
    anchored = np.zeros(options.n_territories, dtype=bool)
    for u, k in (options.locked or {}).items():
        pinned[int(u)] = True
        anchored[int(k)] = True
    for k, c in enumerate([] if options.centers is None else options.centers):
        if c >= 0:
            pinned[int(c)] = True
            anchored[k] = True
    free = np.unique(targets[~anchored], axis=0)
    if free.size == 0:
        return None
    # shapes a little over the tolerance are enumerated too, to show the
    # closest miss; a shape fits only within the tolerance itself
    hi = free.max(axis=0) * (1 + 1.25 * tol)
    lo = free.min(axis=0) * (1 - tol)
    top = free.max(axis=0) * (1 + tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(top > 0, w / np.where(top > 0, top, 1), 0).max(axis=1)
    share[pinned] = 0
    big = np.flatnonzero(share >= min_share)
    big = big[np.argsort(-share[big], kind="stable")][:50]
    indptr, indices = adj.indptr, adj.indices
    stranded: list[StrandedUnit] = []

    def fits(values: np.ndarray) -> np.ndarray:
        """Deviation from the closest free target, per activity."""
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(free > 0, values[None, :] / free - 1, 0.0)
        worst = (np.abs(dev) - tol[None, :]).max(axis=1)
        return np.asarray(dev[int(np.argmin(worst))])

    def cuts_off(shape: frozenset[int]) -> bool:
        """Does removing ``shape`` leave a piece too small to be a territory?

        From each neighbour of the shape, a breadth-first search outside it
        collects units until they reach the smallest territory's lower
        tolerance on every activity, or reach a piece already found big
        enough; a search that runs dry first found a piece too small.
        """
        good: set[int] = set()
        for x in shape:
            for v in indices[indptr[x] : indptr[x + 1]]:
                v = int(v)
                if v in shape or v in good:
                    continue
                piece = [v]
                visited = {v}
                got = w[v].copy()
                joined = False
                head = 0
                while head < len(piece) and not joined and not np.all(got >= lo):
                    y = piece[head]
                    head += 1
                    for z in indices[indptr[y] : indptr[y + 1]]:
                        z = int(z)
                        if z in shape or z in visited:
                            continue
                        if z in good:
                            joined = True
                            break
                        visited.add(z)
                        piece.append(z)
                        got += w[z]
                if not joined and not np.all(got >= lo):
                    return True
                good |= visited
        return False

    for u in big:
        if time.perf_counter() - started > budget_s:
            break
        first = frozenset([int(u)])
        queue: list[tuple[frozenset[int], np.ndarray]] = [(first, w[u].copy())]
        seen_shapes = {first}
        complete = True
        found = False
        best: tuple[float, frozenset[int], np.ndarray] | None = None
        head = 0
        while head < len(queue):
            shape, value = queue[head]
            head += 1
            dev = fits(value)
            miss = float((np.abs(dev) - tol).max())
            if (best is None or miss < best[0]) and not cuts_off(shape):
                if miss <= 1e-12:
                    found = True
                    break
                best = (miss, shape, dev)
            if len(seen_shapes) > max_shapes or (
                head % 256 == 0 and time.perf_counter() - started > budget_s
            ):
                complete = False
                break
            for x in shape:
                for v in indices[indptr[x] : indptr[x + 1]]:
                    v = int(v)
                    if v in shape:
                        continue
                    if pinned[v]:
                        # the unit might join that pinned territory: no proof
                        complete = False
                        continue
                    grown = shape | {v}
                    if grown in seen_shapes:
                        continue
                    more = value + w[v]
                    if np.any(more > hi):
                        continue
                    seen_shapes.add(grown)
                    queue.append((grown, more))
        if found or not complete:
            continue
        closest = () if best is None else tuple(sorted(best[1]))
        devs = tuple(float(x) for x in fits(w[u])) if best is None else tuple(best[2])
        stranded.append(StrandedUnit(int(u), closest, devs, len(seen_shapes)))
    if not stranded:
        return None
    names = problem.activity_names
    lines = []
    for s in stranded:
        shown = ", ".join(f"{names[a]} {s.deviations[a]:+.2%}" for a in range(m))
        lines.append(
            f"unit {s.unit}: none of the {s.shapes} territories that can hold it "
            f"meets every tolerance ("
            + ", ".join(f"{names[a]} ±{tol[a]:.2%}" for a in range(m))
            + f"); the closest, units {list(s.closest)}, has {shown}."
        )
    return InfeasibilityDiagnosis(
        oversize_units={},
        lower_bounds=np.zeros(m),
        reached=np.full(m, np.nan),
        message="\n".join(lines),
        stranded=tuple(stranded),
    )


@dataclass(frozen=True)
class OversizePlan:
    """Options that give each oversize unit its own multi-rep territory.

    ``options`` has ``territory_weights`` (reps per territory), ``centers``
    and ``locked`` set so that territory ``k < len(units)`` is built around
    ``units[k]`` and counts as ``reps[k]`` reps; the remaining territories
    count as one rep each. The total number of reps equals the requested
    number of territories; the number of territories is smaller.
    """

    options: DesignOptions
    units: tuple[int, ...]
    reps: tuple[int, ...]


def plan_oversize_units(
    problem: DesignProblem, options: DesignOptions, activity: int = 0
) -> OversizePlan:
    """The documented way through oversize units, for one ``activity``.

    With ``R = options.n_territories`` reps, the mean per rep is
    ``mu = total / R``. Every unit above ``mu * (1 + tol)`` gets its own
    territory worth ``round(w_u / mu)`` reps (at least 2), balanced per rep:
    its target is ``reps * mu``. The rest of the reps get one territory each.
    Repeats until no remaining unit is oversize for its per-rep mean.
    """
    import dataclasses

    reps_total = options.n_territories
    w = problem.weights[:, activity]
    tol = float(problem.tolerances[activity])
    units: list[int] = []
    reps: list[int] = []
    while True:
        mu = w.sum() / reps_total
        free = np.setdiff1d(np.arange(w.size), units)
        big = free[w[free] > mu * (1 + tol)]
        if big.size == 0:
            break
        for u in big[np.argsort(-w[big], kind="stable")]:
            units.append(int(u))
            reps.append(max(2, round(float(w[u] / mu))))
        if sum(reps) >= reps_total:
            raise InfeasibleError(
                f"the oversize units {units} alone are worth {sum(reps)} reps, "
                f"leaving none of the {reps_total} for the other units — ask for "
                "more territories",
                code="oversize_units_exceed_reps",
                details={"units": units, "reps": reps, "n_territories": reps_total},
            )
    rest = reps_total - sum(reps)
    p = len(units) + rest
    weights = np.array(reps + [1] * rest, dtype=np.float64)
    centers = np.array(units + [-1] * rest, dtype=np.int64)
    locked = dict(options.locked or {})
    for k, u in enumerate(units):
        locked[u] = k
    new = dataclasses.replace(
        options,
        n_territories=p,
        territory_weights=weights,
        centers=centers,
        locked=locked,
    )
    return OversizePlan(options=new, units=tuple(units), reps=tuple(reps))
