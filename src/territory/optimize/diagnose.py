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
    "LockOverflow",
    "OversizePlan",
    "diagnose_balance",
    "diagnose_locks",
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


@dataclass(frozen=True, slots=True)
class LockOverflow:
    """A territory whose locked units alone exceed its upper bound on an activity.

    ``units`` are the locked unit indices (largest first); ``locked`` their
    summed activity; ``target`` the territory's target and ``tolerance`` the
    activity's tolerance, so ``locked > (1 + tolerance) * target``.
    """

    territory: int
    activity: int
    units: tuple[int, ...]
    locked: float
    target: float
    tolerance: float

    @property
    def over(self) -> float:
        """Return the share by which the locked units exceed the target."""
        return self.locked / self.target - 1.0


def diagnose_locks(
    problem: DesignProblem, options: DesignOptions, targets: np.ndarray | None = None
) -> tuple[LockOverflow, ...]:
    """Return the territories whose locked units alone break the balance bound.

    Locked units stay in their territory, so when their activity already
    exceeds ``(1 + tol) * target`` no plan can meet the tolerance, whatever
    the search does. Ordered by territory, then activity. Runs in ``O(n m)``.

    Examples
    --------
    >>> import numpy as np
    >>> from territory.optimize.problem import DesignOptions, DesignProblem
    >>> w = np.array([[5.0], [4.0], [1.0], [1.0], [1.0]])
    >>> edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
    >>> xy = np.array([[0.0, 0.0], [1, 0], [2, 0], [3, 0], [4, 0]])
    >>> prob = DesignProblem.from_edges(5, edges, w, [0.1], coords=xy)
    >>> opts = DesignOptions(n_territories=2, locked={0: 0, 1: 0})
    >>> [(x.territory, x.units, x.locked, x.target) for x in diagnose_locks(prob, opts)]
    [(0, (0, 1), 9.0, 6.0)]
    """
    if not options.locked:
        return ()
    if targets is None:
        targets = options.targets(problem)
    units = np.fromiter(options.locked.keys(), dtype=np.int64)
    terrs = np.fromiter(options.locked.values(), dtype=np.int64)
    w = problem.weights
    out: list[LockOverflow] = []
    for k in np.unique(terrs):
        mine = units[terrs == k]
        sums = w[mine].sum(axis=0)
        for a in range(problem.n_activities):
            target = float(targets[k, a])
            tol = float(problem.tolerances[a])
            if target > 0 and sums[a] > target * (1 + tol) * (1 + 1e-12):
                order = mine[np.argsort(-w[mine, a], kind="stable")]
                out.append(
                    LockOverflow(
                        territory=int(k),
                        activity=a,
                        units=tuple(int(u) for u in order),
                        locked=float(sums[a]),
                        target=target,
                        tolerance=tol,
                    )
                )
    return tuple(out)


def _cuts_off(
    shape: frozenset[int],
    indptr: np.ndarray,
    indices: np.ndarray,
    w: np.ndarray,
    mean: np.ndarray,
    tol: np.ndarray,
    pinned: np.ndarray,
    cap: float = 12.0,
    *,
    whole: bool = True,
) -> bool:
    """Does removing ``shape`` leave a piece no set of territories can fill?

    A piece of the map cut off by the shape must be split into whole
    territories, each within ``tol`` of ``mean``: its total must be within
    ``tol`` of ``k * mean`` for some whole ``k >= 1`` (with ``whole=False``,
    for territories of different sizes, only at least ``(1 - tol) mean``
    on every activity). From each neighbour of
    the shape a breadth-first search outside it collects the piece, and stops
    (the piece is fine) once it reaches ``cap`` territories' worth, a piece
    already found fine, or a pinned unit (whose territory has its own
    target).
    """
    a0 = int(np.argmax(mean))
    if mean[a0] <= 0:
        return False
    limit = cap * mean[a0]
    good: set[int] = set()
    for x in shape:
        for v in indices[indptr[x] : indptr[x + 1]]:
            v = int(v)
            if v in shape or v in good:
                continue
            piece = [v]
            visited = {v}
            got = w[v].copy()
            fine = bool(pinned[v])
            head = 0
            while head < len(piece) and not fine and got[a0] < limit:
                y = piece[head]
                head += 1
                for z in indices[indptr[y] : indptr[y + 1]]:
                    z = int(z)
                    if z in shape or z in visited:
                        continue
                    if z in good or pinned[z]:
                        fine = True
                        break
                    visited.add(z)
                    piece.append(z)
                    got += w[z]
            if not fine and got[a0] < limit:
                if not whole:
                    if np.any(got < mean * (1 - tol)):
                        return True
                    good |= visited
                    continue
                k = max(1, int(round(float(got[a0] / mean[a0]))))
                with np.errstate(divide="ignore", invalid="ignore"):
                    dev = np.where(mean > 0, got / (k * mean) - 1, 0.0)
                if np.any(np.abs(dev) > tol):
                    return True
            good |= visited
    return False


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
    for unit, k in (options.locked or {}).items():
        pinned[int(unit)] = True
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

    # with one target for every free territory, a cut-off piece must hold a
    # whole number of them; with several, it must at least hold the smallest
    whole = free.shape[0] == 1
    mean = free[0] if whole else free.min(axis=0)

    def cuts_off(shape: frozenset[int]) -> bool:
        return _cuts_off(shape, indptr, indices, w, mean, tol, pinned, whole=whole)

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
    ``members[k]`` are the units locked to territory ``k``: the oversize unit
    alone, or the cluster grown around a stranded unit.
    """

    options: DesignOptions
    units: tuple[int, ...]
    reps: tuple[int, ...]
    members: tuple[tuple[int, ...], ...] = ()


def _multi_rep_cluster(
    problem: DesignProblem,
    adj: sp.csr_array,
    unit: int,
    pinned: np.ndarray,
    mu: np.ndarray,
    tol: np.ndarray,
    deadline: float,
    max_reps: int = 4,
    max_shapes: int = 50_000,
) -> tuple[tuple[int, ...], int] | None:
    """The narrowest connected cluster around ``unit`` worth a whole number of reps.

    Enumerates connected sets of free units around ``unit`` up to
    ``max_reps`` reps' worth; a set fits ``r >= 2`` reps when every activity
    is within ``tol`` of ``r * mu`` and it cuts off no piece smaller than one
    rep. Returns the fitting set with the fewest reps, then the smallest
    diameter, or None.
    """
    w = problem.weights
    indptr, indices = adj.indptr, adj.indices
    hi = mu * max_reps * (1 + tol)
    first = frozenset([unit])
    queue: list[tuple[frozenset[int], np.ndarray]] = [(first, w[unit].copy())]
    seen = {first}
    a0 = int(np.argmax(mu))
    best: tuple[tuple[int, float], frozenset[int]] | None = None
    head = 0
    while head < len(queue) and len(seen) <= max_shapes:
        if head % 256 == 0 and time.perf_counter() > deadline:
            break
        shape, value = queue[head]
        head += 1
        r = int(round(float(value[a0] / mu[a0])))
        if r >= 2 and np.all(np.abs(value / (r * mu) - 1) <= tol):
            units = np.fromiter(shape, dtype=np.int64)
            width = float(
                np.asarray(problem.distance(units[:, None], units[None, :])).max()
            )
            key = (r, width)
            if (best is None or key < best[0]) and not _cuts_off(
                shape, indptr, indices, w, mu, tol, pinned
            ):
                best = (key, shape)
        for x in shape:
            for v in indices[indptr[x] : indptr[x + 1]]:
                v = int(v)
                if v in shape or pinned[v]:
                    continue
                grown = shape | {v}
                if grown in seen:
                    continue
                more = value + w[v]
                if np.any(more > hi):
                    continue
                seen.add(grown)
                queue.append((grown, more))
    if best is None:
        return None
    return tuple(sorted(best[1])), best[0][0]


def plan_oversize_units(
    problem: DesignProblem,
    options: DesignOptions,
    activity: int = 0,
    *,
    clusters: bool = True,
    budget_s: float = 3.0,
) -> OversizePlan:
    """The documented way through oversize units, for one ``activity``.

    With ``R = options.n_territories`` reps, the mean per rep is
    ``mu = total / R``. Every unit above ``mu * (1 + tol)`` gets its own
    territory worth ``round(w_u / mu)`` reps (at least 2), balanced per rep:
    its target is ``reps * mu``. The rest of the reps get one territory each.
    Repeats until no remaining unit is oversize for its per-rep mean.

    With ``clusters``, units that are not oversize but that no one-rep
    territory can hold (:func:`diagnose_neighbourhoods`: Brooklyn, whose only
    neighbours Manhattan and Queens each make it too big) get the same
    treatment: the narrowest cluster of units around them worth a whole
    number of reps within every tolerance (:func:`_multi_rep_cluster`)
    becomes a territory of its own, locked, worth that many reps. This is
    repeated, within ``budget_s``, until no stranded unit is left or none can
    be given a cluster.
    """
    import dataclasses

    from territory.optimize.contiguity import bridge_components, components

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
    members: list[tuple[int, ...]] = [(u,) for u in units]

    def plan() -> OversizePlan:
        rest = reps_total - sum(reps)
        weights = np.array(reps + [1] * rest, dtype=np.float64)
        centers = units + [-1] * rest
        locked = dict(options.locked or {})
        for k, group in enumerate(members):
            for u in group:
                locked[u] = k
        new = dataclasses.replace(
            options,
            n_territories=len(units) + rest,
            territory_weights=weights,
            centers=centers,
            locked=locked,
        )
        return OversizePlan(new, tuple(units), tuple(reps), tuple(members))

    current = plan()
    if not clusters or not units:
        return current
    deadline = time.perf_counter() + budget_s
    adj = sp.csr_array(problem.adjacency)
    if components(adj)[0] > 1:
        adj = bridge_components(adj, problem.coords, problem.distances).adjacency
    mu_all = problem.weights.sum(axis=0) / reps_total
    tols = problem.tolerances
    while time.perf_counter() < deadline:
        diag = diagnose_neighbourhoods(
            problem,
            current.options,
            current.options.targets(problem),
            adjacency=adj,
            budget_s=max(0.1, deadline - time.perf_counter()),
        )
        if diag is None:
            break
        pinned = np.zeros(problem.n_units, dtype=bool)
        for u in current.options.locked or {}:
            pinned[int(u)] = True
        added = False
        for st in diag.stranded:
            if pinned[st.unit]:
                continue
            got = _multi_rep_cluster(
                problem, adj, st.unit, pinned, mu_all, tols, deadline
            )
            if got is None or sum(reps) + got[1] >= reps_total:
                continue
            group, r = got
            units.append(st.unit)
            reps.append(r)
            members.append(group)
            pinned[list(group)] = True
            added = True
        if not added:
            break
        current = plan()
    return current
