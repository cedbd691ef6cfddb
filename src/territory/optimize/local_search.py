"""Compiled local search that keeps every territory contiguous.

The state of a plan lives in flat arrays so that one move costs
``O(|A| + |B|)``: per-territory member lists, activity sums, violation,
cost (diameter, radius or moment) and its extreme pair. The search alternates

* a *balance* phase: tabu search over boundary moves touching a territory
  that breaks its tolerance, scored by the change in total violation, under a
  cap on the objective (no territory may reach the best objective found); and
* a *compactness* phase: once every territory is balanced, the new best plan
  is recorded, the cap drops to its objective, and an extreme unit of the
  widest territory is pushed to a neighbour, which re-opens the balance phase.

A repair that stalls reverts to the best plan. Every move checks that the
donor territory stays connected (breadth-first search from the moved unit's
neighbours, stopping once they are all reached), that no locked unit moves and
that the disruption limits hold.

The kernel is resumable: :func:`run_chunk` performs a bounded number of
iterations on the state arrays, so the caller can watch the clock.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["MODE_DIAMETER", "MODE_MOMENT", "MODE_PCENTER", "init_state", "run_chunk"]

MODE_DIAMETER = 0
MODE_PCENTER = 1
MODE_MOMENT = 2

# indices into the integer and float scalar state arrays
I_ITER = 0
I_LAST_IMPROVE = 1
I_N_FEASIBLE = 2
I_REVERTS = 3
I_MOVES = 4
I_BEST_ITER = 5  # iteration of the last improvement of the best plan
I_POLISH = 6  # polishing moves made
F_CAP = 0
F_BEST_I = 1  # best violation since the last feasible plan or revert
F_BEST_OBJ = 2
F_BEST_INFEAS_I = 3  # smallest violation ever seen (no feasible plan yet)
F_BEST_SEC = 4  # secondary compactness of the best feasible plan
#: Polishing lets a territory's cost grow up to this share of the widest.
POLISH_ROOM = 0.97
W_DONE = 1  # counter[W_DONE]: work done (candidate moves looked at, units visited)
EPS = 1e-9


@njit(cache=True)
def _rand(state: npt.NDArray[np.uint64]) -> float:
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return (
        float((x * np.uint64(2685821657736338717)) >> np.uint64(11))
        / 9007199254740992.0
    )


@njit(cache=True)
def _dist(
    i: int,
    j: int,
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
) -> float:
    if use_mat:
        d: float = dmat[i, j]
        return d
    dx = coords[i, 0] - coords[j, 0]
    dy = coords[i, 1] - coords[j, 1]
    d = np.sqrt(dx * dx + dy * dy)
    return d


@njit(cache=True)
def _viol_of(
    sums_k: npt.NDArray[np.float64],
    target_k: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
) -> float:
    s = 0.0
    for a in range(sums_k.shape[0]):
        t = target_k[a]
        if t > 0:
            d = abs(sums_k[a] - t) / t - tol[a]
            if d > 0:
                s += d
    return s


@njit(cache=True)
def _viol_with(
    sums_k: npt.NDArray[np.float64],
    w_u: npt.NDArray[np.float64],
    sign: float,
    target_k: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
) -> float:
    s = 0.0
    for a in range(sums_k.shape[0]):
        t = target_k[a]
        if t > 0:
            d = abs(sums_k[a] + sign * w_u[a] - t) / t - tol[a]
            if d > 0:
                s += d
    return s


@njit(cache=True)
def _geo_add(
    geo: npt.NDArray[np.float64],
    k: int,
    gxy: npt.NDArray[np.float64],
    u: int,
    sign: float,
) -> None:
    """Add (sign 1) or remove (sign -1) unit u from territory k's moment sums.

    ``gxy[u]`` is ``(x, y, area)``: the unit counts with its area, so the
    sums describe the territory's shape as drawn on a map.
    """
    x = gxy[u, 0]
    y = gxy[u, 1]
    a = gxy[u, 2]
    geo[k, 0] += sign * a
    geo[k, 1] += sign * a * x
    geo[k, 2] += sign * a * y
    geo[k, 3] += sign * a * (x * x + y * y)


@njit(cache=True)
def _moment(area: float, sx: float, sy: float, sq: float) -> float:
    """Moment of inertia about the centroid over area squared.

    A shape measure that does not depend on the territory's size: 1 / (2 pi)
    for a disc, more for anything elongated or ragged.
    """
    if area <= 1e-12:
        return 0.0
    return max(0.0, sq - (sx * sx + sy * sy) / area) / (area * area)


@njit(cache=True)
def secondary(geo: npt.NDArray[np.float64]) -> float:
    """The tie-breaking compactness: the shape measure summed over territories."""
    s = 0.0
    for k in range(geo.shape[0]):
        s += _moment(geo[k, 0], geo[k, 1], geo[k, 2], geo[k, 3])
    return s


@njit(cache=True)
def _moment_gain(
    geo: npt.NDArray[np.float64], a: int, b: int, gxy: npt.NDArray[np.float64], u: int
) -> float:
    """Change of the summed shape measure when u moves from a to b."""
    x = gxy[u, 0]
    y = gxy[u, 1]
    w = gxy[u, 2]
    q = w * (x * x + y * y)
    before = _moment(geo[a, 0], geo[a, 1], geo[a, 2], geo[a, 3]) + _moment(
        geo[b, 0], geo[b, 1], geo[b, 2], geo[b, 3]
    )
    after = _moment(geo[a, 0] - w, geo[a, 1] - w * x, geo[a, 2] - w * y, geo[a, 3] - q)
    after += _moment(geo[b, 0] + w, geo[b, 1] + w * x, geo[b, 2] + w * y, geo[b, 3] + q)
    return after - before


@njit(cache=True)
def _pressure_delta(
    sums_a: npt.NDArray[np.float64],
    sums_b: npt.NDArray[np.float64],
    w_u: npt.NDArray[np.float64],
    target_a: npt.NDArray[np.float64],
    target_b: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
) -> float:
    """Change of sum((dev / tol)^2) over a and b when u moves from a to b."""
    s = 0.0
    for x in range(sums_a.shape[0]):
        t = max(tol[x], 1e-3)
        ta = target_a[x]
        tb = target_b[x]
        if ta > 0:
            before = (sums_a[x] - ta) / (ta * t)
            after = (sums_a[x] - w_u[x] - ta) / (ta * t)
            s += after * after - before * before
        if tb > 0:
            before = (sums_b[x] - tb) / (tb * t)
            after = (sums_b[x] + w_u[x] - tb) / (tb * t)
            s += after * after - before * before
    return s


@njit(cache=True)
def _full_cost(
    k: int,
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    pair: npt.NDArray[np.int64],
) -> float:
    """Recompute territory k's cost and extreme pair from scratch."""
    size = msize[k]
    best = 0.0
    pa = -1
    pb = -1
    if mode == 0:
        if size > 0:
            pa = members[k, 0]
            pb = members[k, 0]
        for i in range(size):
            u = members[k, i]
            for j in range(i + 1, size):
                v = members[k, j]
                d = _dist(u, v, coords, dmat, use_mat)
                if d > best:
                    best = d
                    pa = u
                    pb = v
    else:
        c = centre[k]
        pa = c
        pb = c
        for i in range(size):
            v = members[k, i]
            d = _dist(c, v, coords, dmat, use_mat)
            if mode == 1:
                if d > best:
                    best = d
                    pb = v
            else:
                best += d * d
    pair[k, 0] = pa
    pair[k, 1] = pb
    return best


@njit(cache=True)
def init_state(
    labels: npt.NDArray[np.int64],
    p: int,
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    cur: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> None:
    """Fill the state arrays from ``labels``."""
    n = labels.shape[0]
    m = weights.shape[1]
    for k in range(p):
        msize[k] = 0
        for a in range(m):
            sums[k, a] = 0.0
            moved_terr[k, a] = 0.0
        for j in range(4):
            geo[k, j] = 0.0
    for a in range(m):
        moved_tot[a] = 0.0
    for u in range(n):
        k = labels[u]
        if k < 0:
            mpos[u] = -1
            continue
        members[k, msize[k]] = u
        mpos[u] = msize[k]
        msize[k] += 1
        for a in range(m):
            sums[k, a] += weights[u, a]
        _geo_add(geo, k, gxy, u, 1.0)
        c = cur[u]
        if c >= 0 and c != k:
            for a in range(m):
                moved_tot[a] += weights[u, a]
                moved_terr[c, a] += weights[u, a]
    for k in range(p):
        viol[k] = _viol_of(sums[k], target[k], tol)
        cost[k] = _full_cost(
            k, members, msize, centre, coords, dmat, use_mat, mode, pair
        )


@njit(cache=True)
def _cost_after_add(
    b: int,
    u: int,
    cap: float,
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
) -> float:
    """Cost of territory b with u added; stops early once it reaches cap."""
    c: float = cost[b]
    if mode == 0:
        for i in range(msize[b]):
            d = _dist(u, members[b, i], coords, dmat, use_mat)
            if d > c:
                c = d
                if c >= cap:
                    return c
        return c
    d = _dist(centre[b], u, coords, dmat, use_mat)
    if mode == 1:
        return max(c, d)
    return c + d * d


@njit(cache=True)
def _removable(
    u: int,
    a: int,
    labels: npt.NDArray[np.int64],
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
) -> bool:
    """Does territory a stay connected without u? (a keeps at least one unit)."""
    if msize[a] <= 1:
        return False
    need = 0
    first = -1
    for e in range(indptr[u], indptr[u + 1]):
        v = indices[e]
        if labels[v] == a:
            need += 1
            if first < 0:
                first = v
    if need <= 1:
        return True
    counter[0] += 1
    mark = counter[0]
    stamp[u] = mark
    stamp[first] = mark
    queue[0] = first
    head = 0
    tail = 1
    found = 1
    while head < tail:
        x = queue[head]
        head += 1
        for e in range(indptr[x], indptr[x + 1]):
            v = indices[e]
            if labels[v] == a and stamp[v] != mark:
                stamp[v] = mark
                queue[tail] = v
                tail += 1
                for f in range(indptr[u], indptr[u + 1]):
                    if indices[f] == v:
                        found += 1
                        break
                if found == need:
                    counter[W_DONE] += tail
                    return True
    counter[W_DONE] += tail
    return False


@njit(cache=True)
def _disruption_ok(
    u: int,
    b: int,
    cur: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
) -> bool:
    c = cur[u]
    if c < 0:
        return True
    was = labels[u] != c
    now = b != c
    if was or not now:
        return True
    for a in range(weights.shape[1]):
        if moved_tot[a] + weights[u, a] > lim_tot[a] + 1e-12:
            return False
        if moved_terr[c, a] + weights[u, a] > lim_terr[c, a] + 1e-12:
            return False
    return True


@njit(cache=True)
def _apply(
    u: int,
    b: int,
    labels: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    cur: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> None:
    a = labels[u]
    m = weights.shape[1]
    # remove from a
    i = mpos[u]
    last = members[a, msize[a] - 1]
    members[a, i] = last
    mpos[last] = i
    msize[a] -= 1
    # add to b
    members[b, msize[b]] = u
    mpos[u] = msize[b]
    msize[b] += 1
    labels[u] = b
    for x in range(m):
        sums[a, x] -= weights[u, x]
        sums[b, x] += weights[u, x]
    _geo_add(geo, a, gxy, u, -1.0)
    _geo_add(geo, b, gxy, u, 1.0)
    viol[a] = _viol_of(sums[a], target[a], tol)
    viol[b] = _viol_of(sums[b], target[b], tol)
    c = cur[u]
    if c >= 0:
        if a == c and b != c:
            for x in range(m):
                moved_tot[x] += weights[u, x]
                moved_terr[c, x] += weights[u, x]
        elif a != c and b == c:
            for x in range(m):
                moved_tot[x] -= weights[u, x]
                moved_terr[c, x] -= weights[u, x]
    # costs
    if mode == 0:
        nb = cost[b]
        for j in range(msize[b] - 1):
            v = members[b, j]
            d = _dist(u, v, coords, dmat, use_mat)
            if d > nb:
                nb = d
                pair[b, 0] = u
                pair[b, 1] = v
        cost[b] = nb
        if pair[a, 0] == u or pair[a, 1] == u:
            cost[a] = _full_cost(
                a, members, msize, centre, coords, dmat, use_mat, mode, pair
            )
    elif mode == 1:
        d = _dist(centre[b], u, coords, dmat, use_mat)
        if d > cost[b]:
            cost[b] = d
            pair[b, 1] = u
        if pair[a, 1] == u:
            cost[a] = _full_cost(
                a, members, msize, centre, coords, dmat, use_mat, mode, pair
            )
    else:
        d = _dist(centre[b], u, coords, dmat, use_mat)
        cost[b] += d * d
        d = _dist(centre[a], u, coords, dmat, use_mat)
        cost[a] = max(0.0, cost[a] - d * d)


@njit(cache=True)
def _objective(cost: npt.NDArray[np.float64], mode: int) -> float:
    if mode == 2:
        total: float = cost.sum()
        return total
    widest: float = cost.max()
    return widest


@njit(cache=True)
def run_chunk(
    n_iters: int,
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    fixed: npt.NDArray[np.bool_],
    contig: bool,
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    tabu: npt.NDArray[np.int64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    rng: npt.NDArray[np.uint64],
    ist: npt.NDArray[np.int64],
    fst: npt.NDArray[np.float64],
    best_labels: npt.NDArray[np.int64],
    stall_limit: int,
    cand_u: npt.NDArray[np.int64],
    cand_b: npt.NDArray[np.int64],
    cand_s: npt.NDArray[np.float64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
    work_limit: int,
    polish: bool,
    press: float,
) -> bool:
    """Run up to ``n_iters`` iterations; return True when the search is done.

    The chunk also ends (returning False) once ``counter[W_DONE]`` reaches
    ``work_limit``, so that one call never runs long whatever the moves cost.
    The search is done only when a plan with objective 0 is found or, for the
    moment objective, when no improving move is left. With ``polish``, every
    new best feasible plan is first made as compact as possible on the
    summed moment (:func:`_polish`) under its max diameter, and a feasible
    plan as wide as the best but with a smaller summed moment counts as a
    new best (the tie-break). ``press`` weighs, in the balance phase, the
    change of the summed squared deviations (in tolerances) of the two
    territories a move touches, a tie-break that pulls every activity towards
    its target at once.
    """
    n = labels.shape[0]
    branch = np.empty(n, dtype=np.int64)
    swap_u = np.empty(8192, dtype=np.int64)
    swap_v = np.empty(8192, dtype=np.int64)
    swap_s = np.empty(8192)
    for _ in range(n_iters):
        if counter[W_DONE] >= work_limit:
            return False
        it = ist[I_ITER]
        ist[I_ITER] = it + 1
        counter[W_DONE] += 1
        total = viol.sum()
        cap = fst[F_CAP]
        obj = _objective(cost, mode)
        wider = obj < cap - 1e-9 * max(1.0, cap) or cap == np.inf
        tie = False
        if total <= EPS and not wider and polish and mode != 2:
            tie = (
                obj <= cap + 1e-9 * max(1.0, cap)
                and secondary(geo) < fst[F_BEST_SEC] * (1.0 - 1e-9) - 1e-12
            )
        if total <= EPS and (wider or tie):
            # a new best feasible plan (narrower, or as narrow and more compact)
            if polish and mode != 2:
                _polish(
                    max(obj, 0.0),
                    p,
                    indptr,
                    indices,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    mode,
                    fixed,
                    contig,
                    cur,
                    lim_tot,
                    lim_terr,
                    labels,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    moved_tot,
                    moved_terr,
                    stamp,
                    queue,
                    counter,
                    ist,
                    gxy,
                    geo,
                )
                obj = _objective(cost, mode)
            best_labels[:] = labels
            fst[F_BEST_OBJ] = obj
            fst[F_CAP] = obj
            fst[F_BEST_I] = 0.0
            fst[F_BEST_SEC] = secondary(geo)
            ist[I_N_FEASIBLE] += 1
            ist[I_LAST_IMPROVE] = it
            ist[I_BEST_ITER] = it
            if mode != 2 and obj <= 0.0:
                return True
            continue
        if total < fst[F_BEST_I] - EPS:
            fst[F_BEST_I] = total
            ist[I_LAST_IMPROVE] = it
            if cap == np.inf and total < fst[F_BEST_INFEAS_I]:
                fst[F_BEST_INFEAS_I] = total
                best_labels[:] = labels
                ist[I_BEST_ITER] = it
        if it - ist[I_LAST_IMPROVE] > stall_limit:
            ist[I_LAST_IMPROVE] = it
            if cap < np.inf:
                labels[:] = best_labels
                init_state(
                    labels,
                    p,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    mode,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    cur,
                    moved_tot,
                    moved_terr,
                    gxy,
                    geo,
                )
                ist[I_REVERTS] += 1
                fst[F_BEST_I] = np.inf
                # shake: a few random boundary moves that keep the cap
                _shake(
                    max(2, n // (8 * p)),
                    p,
                    indptr,
                    indices,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    mode,
                    fixed,
                    contig,
                    cur,
                    lim_tot,
                    lim_terr,
                    labels,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    moved_tot,
                    moved_terr,
                    stamp,
                    queue,
                    counter,
                    rng,
                    # a little above the cap: ties at the cap cannot block it
                    fst[F_CAP] * 1.05,
                    gxy,
                    geo,
                )
                continue
            fst[F_BEST_I] = np.inf
            _shake(
                max(2, p // 2),
                p,
                indptr,
                indices,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                fixed,
                contig,
                cur,
                lim_tot,
                lim_terr,
                labels,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                moved_tot,
                moved_terr,
                stamp,
                queue,
                counter,
                rng,
                np.inf,
                gxy,
                geo,
            )
            continue
        ncand = 0
        if total <= EPS:
            if mode == 2:
                # feasible: make the best improving move, or stop at a local optimum
                if not _improve_moment(
                    p,
                    indptr,
                    indices,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    fixed,
                    contig,
                    cur,
                    lim_tot,
                    lim_terr,
                    labels,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    moved_tot,
                    moved_terr,
                    stamp,
                    queue,
                    counter,
                    gxy,
                    geo,
                ):
                    return True
                continue
            # compactness phase: push an extreme unit out of the widest territory
            kmax = 0
            for k in range(1, p):
                if cost[k] > cost[kmax]:
                    kmax = k
            for e in range(2):
                u = pair[kmax, e]
                if u < 0 or fixed[u] or (e == 0 and mode == 1):
                    continue
                for f in range(indptr[u], indptr[u + 1]):
                    b = labels[indices[f]]
                    if b == kmax:
                        continue
                    cand_u[ncand] = u
                    cand_b[ncand] = b
                    cand_s[ncand] = (
                        _viol_with(sums[kmax], weights[u], -1.0, target[kmax], tol)
                        + _viol_with(sums[b], weights[u], 1.0, target[b], tol)
                        - viol[kmax]
                        - viol[b]
                        + 1e-6 * _rand(rng)
                    )
                    ncand += 1
        else:
            # balance phase: moves out of or into a violated territory
            for k in range(p):
                if viol[k] <= EPS:
                    continue
                for i in range(msize[k]):
                    x = members[k, i]
                    for f in range(indptr[x], indptr[x + 1]):
                        y = indices[f]
                        b = labels[y]
                        if b == k:
                            continue
                        # x leaves k for b, and y leaves b for k
                        for side in range(2):
                            u = x if side == 0 else y
                            src = k if side == 0 else b
                            dst = b if side == 0 else k
                            if fixed[u]:
                                continue
                            d = (
                                _viol_with(
                                    sums[src], weights[u], -1.0, target[src], tol
                                )
                                + _viol_with(
                                    sums[dst], weights[u], 1.0, target[dst], tol
                                )
                                - viol[src]
                                - viol[dst]
                            )
                            if tabu[u] > it and total + d >= fst[F_BEST_I] - EPS:
                                continue
                            cand_u[ncand] = u
                            cand_b[ncand] = dst
                            cand_s[ncand] = d + 1e-7 * _rand(rng)
                            if press > 0.0:
                                # among moves that change the violation alike,
                                # prefer those that centre both territories on
                                # every activity: room for the next moves
                                cand_s[ncand] += press * _pressure_delta(
                                    sums[src],
                                    sums[dst],
                                    weights[u],
                                    target[src],
                                    target[dst],
                                    tol,
                                )
                            ncand += 1
                            if ncand >= cand_u.shape[0]:
                                break
                        if ncand >= cand_u.shape[0]:
                            break
                    if ncand >= cand_u.shape[0]:
                        break
                if ncand >= cand_u.shape[0]:
                    break
        counter[W_DONE] += ncand
        moved = False
        if total > EPS and contig and cap == np.inf:
            best_single = np.inf
            for j in range(ncand):
                if cand_s[j] < best_single:
                    best_single = cand_s[j]
            if best_single > -1e-7:
                # no single move helps: try exchanging two units across a border
                moved = _try_swap(
                    it,
                    p,
                    indptr,
                    indices,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    mode,
                    fixed,
                    cur,
                    lim_tot,
                    lim_terr,
                    labels,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    moved_tot,
                    moved_terr,
                    tabu,
                    stamp,
                    queue,
                    counter,
                    rng,
                    cap,
                    total,
                    fst[F_BEST_I],
                    swap_u,
                    swap_v,
                    swap_s,
                    gxy,
                    geo,
                )
                if moved:
                    ist[I_MOVES] += 2
        if ncand > 0 and not moved:
            order = np.argsort(cand_s[:ncand])
            for j in range(ncand):
                c = order[j]
                u = cand_u[c]
                b = cand_b[c]
                a = labels[u]
                if a == b:
                    continue
                if mode != 2 and cap < np.inf:
                    nc = _cost_after_add(
                        b,
                        u,
                        cap,
                        members,
                        msize,
                        cost,
                        pair,
                        centre,
                        coords,
                        dmat,
                        use_mat,
                        mode,
                    )
                    if nc >= cap - 1e-9 * max(1.0, cap):
                        continue
                if not _disruption_ok(
                    u, b, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
                ):
                    continue
                if contig and not _removable(
                    u, a, labels, indptr, indices, msize, stamp, queue, counter
                ):
                    # u holds a branch of a: move the branch with it, if it pays
                    if _try_branch(
                        u,
                        b,
                        cand_s[c],
                        cap,
                        it,
                        p,
                        indptr,
                        indices,
                        weights,
                        target,
                        tol,
                        centre,
                        coords,
                        dmat,
                        use_mat,
                        mode,
                        fixed,
                        cur,
                        lim_tot,
                        lim_terr,
                        labels,
                        members,
                        msize,
                        mpos,
                        sums,
                        viol,
                        cost,
                        pair,
                        moved_tot,
                        moved_terr,
                        tabu,
                        stamp,
                        queue,
                        counter,
                        rng,
                        branch,
                        gxy,
                        geo,
                    ):
                        ist[I_MOVES] += 1
                        moved = True
                        break
                    continue
                if not contig and msize[a] <= 1:
                    continue
                _apply(
                    u,
                    b,
                    labels,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    mode,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    cur,
                    moved_tot,
                    moved_terr,
                    gxy,
                    geo,
                )
                tabu[u] = it + 4 + int(_rand(rng) * (6 + 2 * np.sqrt(n / p)))
                ist[I_MOVES] += 1
                moved = True
                break
        if not moved:
            # every territory next to the widest is as wide: a slightly wider
            # random move breaks the tie, and the repair comes back under
            shake_cap = cap if total > EPS else cap * 1.02
            _shake(
                1,
                p,
                indptr,
                indices,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                fixed,
                contig,
                cur,
                lim_tot,
                lim_terr,
                labels,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                moved_tot,
                moved_terr,
                stamp,
                queue,
                counter,
                rng,
                shake_cap,
                gxy,
                geo,
            )
    return False


@njit(cache=True)
def _shake(
    n_moves: int,
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    fixed: npt.NDArray[np.bool_],
    contig: bool,
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    rng: npt.NDArray[np.uint64],
    cap: float,
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> None:
    """Make up to n_moves random boundary moves; balance may get worse."""
    n = labels.shape[0]
    done = 0
    tries = 0
    while done < n_moves and tries < 50 * n_moves + 100:
        tries += 1
        u = int(_rand(rng) * n)
        a = labels[u]
        if a < 0 or fixed[u]:
            continue
        deg = indptr[u + 1] - indptr[u]
        if deg == 0:
            continue
        v = indices[indptr[u] + int(_rand(rng) * deg)]
        b = labels[v]
        if b == a or b < 0:
            continue
        if mode != 2 and cap < np.inf:
            nc = _cost_after_add(
                b,
                u,
                cap,
                members,
                msize,
                cost,
                pair,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
            )
            if nc >= cap - 1e-9 * max(1.0, cap):
                continue
        if not _disruption_ok(
            u, b, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
        ):
            continue
        if contig and not _removable(
            u, a, labels, indptr, indices, msize, stamp, queue, counter
        ):
            continue
        if msize[a] <= 1:
            continue
        _apply(
            u,
            b,
            labels,
            weights,
            target,
            tol,
            centre,
            coords,
            dmat,
            use_mat,
            mode,
            members,
            msize,
            mpos,
            sums,
            viol,
            cost,
            pair,
            cur,
            moved_tot,
            moved_terr,
            gxy,
            geo,
        )
        done += 1


@njit(cache=True)
def _polish(
    cap_keep: float,
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    fixed: npt.NDArray[np.bool_],
    contig: bool,
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    ist: npt.NDArray[np.int64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> None:
    """Make a feasible plan more compact without making it wider.

    Sweeps over the units, moving each boundary unit to the neighbouring
    territory that lowers the summed moment most, as long as both
    territories stay within every tolerance, the donor stays connected,
    locks, centres and disruption limits hold, and the receiving territory's
    cost stays below ``POLISH_ROOM * cap_keep`` (or does not grow). A sweep
    without a move is followed by a sweep of exchanges
    (:func:`_polish_swaps`); stops when that makes none either, or after 40
    sweeps.
    """
    n = labels.shape[0]
    total = secondary(geo)
    thr = 1e-9 * max(total, 1e-12)
    start = ist[I_ITER] % max(n, 1)
    # a territory may grow only well below the widest, so that the widest
    # keeps neighbours it can give units to
    lim = cap_keep * POLISH_ROOM
    for _sweep in range(40):
        moves = 0
        for step in range(n):
            u = (start + step) % n
            a = labels[u]
            if a < 0 or fixed[u] or msize[a] <= 1:
                continue
            best_gain = -thr
            best_b = -1
            for f in range(indptr[u], indptr[u + 1]):
                b = labels[indices[f]]
                if b < 0 or b == a or b == best_b:  # noqa: SIM109 (numba)
                    continue
                gain = _moment_gain(geo, a, b, gxy, u)
                counter[W_DONE] += 1
                if gain >= best_gain:
                    continue
                if _viol_with(sums[a], weights[u], -1.0, target[a], tol) > EPS:
                    continue
                if _viol_with(sums[b], weights[u], 1.0, target[b], tol) > EPS:
                    continue
                if mode == 0:
                    nc = _cost_after_add(
                        b,
                        u,
                        np.inf,
                        members,
                        msize,
                        cost,
                        pair,
                        centre,
                        coords,
                        dmat,
                        use_mat,
                        mode,
                    )
                    counter[W_DONE] += msize[b]
                else:
                    nc = max(cost[b], _dist(centre[b], u, coords, dmat, use_mat))
                if nc > cost[b] + 1e-12 and nc >= lim:
                    continue
                if not _disruption_ok(
                    u,
                    b,
                    cur,
                    weights,
                    moved_tot,
                    moved_terr,
                    lim_tot,
                    lim_terr,
                    labels,
                ):
                    continue
                best_gain = gain
                best_b = b
            if best_b < 0:
                continue
            if contig and not _removable(
                u, a, labels, indptr, indices, msize, stamp, queue, counter
            ):
                continue
            _apply(
                u,
                best_b,
                labels,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                cur,
                moved_tot,
                moved_terr,
                gxy,
                geo,
            )
            moves += 1
        if moves == 0:
            # no single move left: exchanges keep balance where moves cannot
            moves = _polish_swaps(
                lim,
                thr,
                p,
                indptr,
                indices,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                fixed,
                contig,
                cur,
                lim_tot,
                lim_terr,
                labels,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                moved_tot,
                moved_terr,
                stamp,
                queue,
                counter,
                gxy,
                geo,
            )
        ist[I_POLISH] += moves
        if moves == 0:
            break


@njit(cache=True)
def _swap_gain(
    geo: npt.NDArray[np.float64],
    a: int,
    b: int,
    gxy: npt.NDArray[np.float64],
    u: int,
    v: int,
) -> float:
    """Change of the summed shape measure when u goes a -> b and v goes b -> a."""
    xu = gxy[u, 0]
    yu = gxy[u, 1]
    wu = gxy[u, 2]
    xv = gxy[v, 0]
    yv = gxy[v, 1]
    wv = gxy[v, 2]
    qu = wu * (xu * xu + yu * yu)
    qv = wv * (xv * xv + yv * yv)
    before = _moment(geo[a, 0], geo[a, 1], geo[a, 2], geo[a, 3]) + _moment(
        geo[b, 0], geo[b, 1], geo[b, 2], geo[b, 3]
    )
    after = _moment(
        geo[a, 0] - wu + wv,
        geo[a, 1] - wu * xu + wv * xv,
        geo[a, 2] - wu * yu + wv * yv,
        geo[a, 3] - qu + qv,
    ) + _moment(
        geo[b, 0] + wu - wv,
        geo[b, 1] + wu * xu - wv * xv,
        geo[b, 2] + wu * yu - wv * yv,
        geo[b, 3] + qu - qv,
    )
    return after - before


@njit(cache=True)
def _wider_with(
    k: int,
    u: int,
    out: int,
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
) -> float:
    """Cost (diameter) of territory k with u in and ``out`` leaving, at least k's."""
    c: float = cost[k]
    for i in range(msize[k]):
        y = members[k, i]
        if y == out:
            continue
        d = _dist(u, y, coords, dmat, use_mat)
        if d > c:
            c = d
    return c


@njit(cache=True)
def _polish_swaps(
    lim: float,
    thr: float,
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    fixed: npt.NDArray[np.bool_],
    contig: bool,
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> int:
    """One sweep of exchanges that make the plan more compact; returns how many.

    For each boundary unit u of territory a next to territory b, the unit v of
    b touching a whose exchange with u lowers the summed shape measure most
    is found; the exchange is made when both territories stay within every
    tolerance and connected, no cost grows past ``lim`` (unless it does not
    grow), and locks, centres and disruption limits hold.
    """
    n = labels.shape[0]
    done = 0
    for u in range(n):
        a = labels[u]
        if a < 0 or fixed[u] or msize[a] <= 1:
            continue
        last_b = -1
        for f in range(indptr[u], indptr[u + 1]):
            b = labels[indices[f]]
            if b < 0 or b == a or b == last_b:  # noqa: SIM109 (numba)
                continue
            last_b = b
            best = -thr
            best_v = -1
            counter[W_DONE] += msize[b]
            for j in range(msize[b]):
                v = members[b, j]
                if fixed[v] or v == u:
                    continue
                touches = False
                for g in range(indptr[v], indptr[v + 1]):
                    y = indices[g]
                    if labels[y] == a and y != u:
                        touches = True
                        break
                if not touches:
                    continue
                gain = _swap_gain(geo, a, b, gxy, u, v)
                if gain >= best:
                    continue
                if _viol_swap(sums[a], weights[u], weights[v], target[a], tol) > EPS:
                    continue
                if _viol_swap(sums[b], weights[v], weights[u], target[b], tol) > EPS:
                    continue
                if mode == 0:
                    nb = _wider_with(
                        b, u, v, members, msize, cost, coords, dmat, use_mat
                    )
                    na = _wider_with(
                        a, v, u, members, msize, cost, coords, dmat, use_mat
                    )
                    counter[W_DONE] += msize[a] + msize[b]
                else:
                    nb = max(cost[b], _dist(centre[b], u, coords, dmat, use_mat))
                    na = max(cost[a], _dist(centre[a], v, coords, dmat, use_mat))
                if nb > cost[b] + 1e-12 and nb >= lim:
                    continue
                if na > cost[a] + 1e-12 and na >= lim:
                    continue
                best = gain
                best_v = v
            if best_v < 0:
                continue
            v = best_v
            if not _disruption_ok(
                u, b, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
            ):
                continue
            if contig and not _removable(
                u, a, labels, indptr, indices, msize, stamp, queue, counter
            ):
                continue
            _apply(
                u,
                b,
                labels,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                cur,
                moved_tot,
                moved_terr,
                gxy,
                geo,
            )
            ok = _disruption_ok(
                v, a, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
            )
            if ok and contig:
                ok = _removable(
                    v, b, labels, indptr, indices, msize, stamp, queue, counter
                )
            if ok:
                _apply(
                    v,
                    a,
                    labels,
                    weights,
                    target,
                    tol,
                    centre,
                    coords,
                    dmat,
                    use_mat,
                    mode,
                    members,
                    msize,
                    mpos,
                    sums,
                    viol,
                    cost,
                    pair,
                    cur,
                    moved_tot,
                    moved_terr,
                    gxy,
                    geo,
                )
                done += 1
                break
            # undo the first half
            _apply(
                u,
                a,
                labels,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                cur,
                moved_tot,
                moved_terr,
                gxy,
                geo,
            )
    return done


@njit(cache=True)
def _improve_moment(
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    fixed: npt.NDArray[np.bool_],
    contig: bool,
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> bool:
    """Make the best balance-keeping move that lowers the moment; False if none."""
    n = labels.shape[0]
    best = -1e-9
    bu = -1
    bb = -1
    for u in range(n):
        a = labels[u]
        if a < 0 or fixed[u]:
            continue
        da = _dist(centre[a], u, coords, dmat, use_mat)
        for f in range(indptr[u], indptr[u + 1]):
            b = labels[indices[f]]
            if b == a or b < 0:
                continue
            db = _dist(centre[b], u, coords, dmat, use_mat)
            gain = db * db - da * da
            if gain >= best:
                continue
            if _viol_with(sums[a], weights[u], -1.0, target[a], tol) > EPS:
                continue
            if _viol_with(sums[b], weights[u], 1.0, target[b], tol) > EPS:
                continue
            if not _disruption_ok(
                u, b, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
            ):
                continue
            if contig and not _removable(
                u, a, labels, indptr, indices, msize, stamp, queue, counter
            ):
                continue
            if msize[a] <= 1:
                continue
            best = gain
            bu = u
            bb = b
    if bu < 0:
        return False
    _apply(
        bu,
        bb,
        labels,
        weights,
        target,
        tol,
        centre,
        coords,
        dmat,
        use_mat,
        2,
        members,
        msize,
        mpos,
        sums,
        viol,
        cost,
        pair,
        cur,
        moved_tot,
        moved_terr,
        gxy,
        geo,
    )
    return True


@njit(cache=True)
def _branch(
    u: int,
    a: int,
    labels: npt.NDArray[np.int64],
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    out: npt.NDArray[np.int64],
) -> int:
    """Fill out with u and every piece of territory a without u but the largest.

    Returns how many units that is (u first, then each piece in breadth-first
    order, so every unit touches an earlier one).
    """
    counter[0] += 1
    mark = counter[0]
    stamp[u] = mark
    deg = indptr[u + 1] - indptr[u]
    ps = np.empty(deg, dtype=np.int64)
    pl = np.empty(deg, dtype=np.int64)
    npieces = 0
    tail = 0
    for e in range(indptr[u], indptr[u + 1]):
        v = indices[e]
        if labels[v] != a or stamp[v] == mark:
            continue
        start = tail
        stamp[v] = mark
        queue[tail] = v
        tail += 1
        head = start
        while head < tail:
            x = queue[head]
            head += 1
            for f in range(indptr[x], indptr[x + 1]):
                y = indices[f]
                if labels[y] == a and stamp[y] != mark:
                    stamp[y] = mark
                    queue[tail] = y
                    tail += 1
        ps[npieces] = start
        pl[npieces] = tail - start
        npieces += 1
    largest = 0
    for i in range(1, npieces):
        if pl[i] > pl[largest]:
            largest = i
    out[0] = u
    cnt = 1
    for i in range(npieces):
        if i == largest:
            continue
        for j in range(ps[i], ps[i] + pl[i]):
            out[cnt] = queue[j]
            cnt += 1
    return cnt


@njit(cache=True)
def _try_branch(
    u: int,
    b: int,
    single_score: float,
    cap: float,
    it: int,
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    fixed: npt.NDArray[np.bool_],
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    tabu: npt.NDArray[np.int64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    rng: npt.NDArray[np.uint64],
    branch: npt.NDArray[np.int64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> bool:
    """Move u with the branch of its territory it holds, when that is no worse."""
    a = labels[u]
    cnt = _branch(u, a, labels, indptr, indices, stamp, queue, counter, branch)
    if cnt >= msize[a] or cnt > max(2, msize[a] // 3):
        return False
    m = weights.shape[1]
    w = np.zeros(m)
    wmoved = np.zeros(m)
    c0 = cur[u]
    for i in range(cnt):
        x = branch[i]
        if fixed[x]:
            return False
        for j in range(m):
            w[j] += weights[x, j]
        c = cur[x]
        if c >= 0 and labels[x] == c and b != c:
            for j in range(m):
                wmoved[j] += weights[x, j]
    d = (
        _viol_with(sums[a], w, -1.0, target[a], tol)
        + _viol_with(sums[b], w, 1.0, target[b], tol)
        - viol[a]
        - viol[b]
    )
    if d > single_score + 1e-12:
        return False
    for j in range(m):
        if moved_tot[j] + wmoved[j] > lim_tot[j] + 1e-12:
            return False
        if c0 >= 0 and moved_terr[c0, j] + wmoved[j] > lim_terr[c0, j] + 1e-12:
            return False
    if mode != 2 and cap < np.inf:
        lim = cap - 1e-9 * max(1.0, cap)
        for i in range(cnt):
            x = branch[i]
            if mode == 1:
                if _dist(centre[b], x, coords, dmat, use_mat) >= lim:
                    return False
                continue
            for k in range(msize[b]):
                if _dist(x, members[b, k], coords, dmat, use_mat) >= lim:
                    return False
            for k in range(i):
                if _dist(x, branch[k], coords, dmat, use_mat) >= lim:
                    return False
    for i in range(cnt):
        x = branch[i]
        _apply(
            x,
            b,
            labels,
            weights,
            target,
            tol,
            centre,
            coords,
            dmat,
            use_mat,
            mode,
            members,
            msize,
            mpos,
            sums,
            viol,
            cost,
            pair,
            cur,
            moved_tot,
            moved_terr,
            gxy,
            geo,
        )
        tabu[x] = it + 4 + int(_rand(rng) * (6 + 2 * np.sqrt(labels.shape[0] / p)))
    return True


@njit(cache=True)
def _viol_swap(
    sums_k: npt.NDArray[np.float64],
    w_out: npt.NDArray[np.float64],
    w_in: npt.NDArray[np.float64],
    target_k: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
) -> float:
    s = 0.0
    for a in range(sums_k.shape[0]):
        t = target_k[a]
        if t > 0:
            d = abs(sums_k[a] - w_out[a] + w_in[a] - t) / t - tol[a]
            if d > 0:
                s += d
    return s


@njit(cache=True)
def _try_swap(
    it: int,
    p: int,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    centre: npt.NDArray[np.int64],
    coords: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    mode: int,
    fixed: npt.NDArray[np.bool_],
    cur: npt.NDArray[np.int64],
    lim_tot: npt.NDArray[np.float64],
    lim_terr: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    msize: npt.NDArray[np.int64],
    mpos: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    viol: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    pair: npt.NDArray[np.int64],
    moved_tot: npt.NDArray[np.float64],
    moved_terr: npt.NDArray[np.float64],
    tabu: npt.NDArray[np.int64],
    stamp: npt.NDArray[np.int64],
    queue: npt.NDArray[np.int64],
    counter: npt.NDArray[np.int64],
    rng: npt.NDArray[np.uint64],
    cap: float,
    total: float,
    best_i: float,
    swap_u: npt.NDArray[np.int64],
    swap_v: npt.NDArray[np.int64],
    swap_s: npt.NDArray[np.float64],
    gxy: npt.NDArray[np.float64],
    geo: npt.NDArray[np.float64],
) -> bool:
    """Apply the best improving exchange u (k -> b), v (b -> k) that keeps the rules."""
    nsw = 0
    cap_sw = swap_u.shape[0]
    for k in range(p):
        if viol[k] <= EPS:
            continue
        for i in range(msize[k]):
            u = members[k, i]
            if fixed[u]:
                continue
            for f in range(indptr[u], indptr[u + 1]):
                b = labels[indices[f]]
                if b == k:
                    continue
                counter[W_DONE] += msize[b]
                for j in range(msize[b]):
                    v = members[b, j]
                    if fixed[v]:
                        continue
                    touches = False
                    for g in range(indptr[v], indptr[v + 1]):
                        if labels[indices[g]] == k and indices[g] != u:
                            touches = True
                            break
                    if not touches:
                        continue
                    d = (
                        _viol_swap(sums[k], weights[u], weights[v], target[k], tol)
                        + _viol_swap(sums[b], weights[v], weights[u], target[b], tol)
                        - viol[k]
                        - viol[b]
                    )
                    if d >= -1e-9:
                        continue
                    if (tabu[u] > it or tabu[v] > it) and total + d >= best_i - EPS:
                        continue
                    if nsw < cap_sw:
                        swap_u[nsw] = u
                        swap_v[nsw] = v
                        swap_s[nsw] = d + 1e-9 * _rand(rng)
                        nsw += 1
    if nsw == 0:
        return False
    order = np.argsort(swap_s[:nsw])
    lim = cap - 1e-9 * max(1.0, cap)
    for j in range(min(nsw, 64)):
        c = order[j]
        u = swap_u[c]
        v = swap_v[c]
        k = labels[u]
        b = labels[v]
        if k == b:
            continue
        if mode != 2 and cap < np.inf:
            ok = True
            if mode == 0:
                for x in range(msize[b]):
                    y = members[b, x]
                    if y != v and _dist(u, y, coords, dmat, use_mat) >= lim:
                        ok = False
                        break
                if ok:
                    for x in range(msize[k]):
                        y = members[k, x]
                        if y != u and _dist(v, y, coords, dmat, use_mat) >= lim:
                            ok = False
                            break
            else:
                ok = (
                    _dist(centre[b], u, coords, dmat, use_mat) < lim
                    and _dist(centre[k], v, coords, dmat, use_mat) < lim
                )
            if not ok:
                continue
        if not _disruption_ok(
            u, b, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
        ):
            continue
        if not _removable(u, k, labels, indptr, indices, msize, stamp, queue, counter):
            continue
        _apply(
            u,
            b,
            labels,
            weights,
            target,
            tol,
            centre,
            coords,
            dmat,
            use_mat,
            mode,
            members,
            msize,
            mpos,
            sums,
            viol,
            cost,
            pair,
            cur,
            moved_tot,
            moved_terr,
            gxy,
            geo,
        )
        touches = False
        for g in range(indptr[v], indptr[v + 1]):
            if labels[indices[g]] == k:
                touches = True
                break
        if (
            touches
            and _disruption_ok(
                v, k, cur, weights, moved_tot, moved_terr, lim_tot, lim_terr, labels
            )
            and _removable(v, b, labels, indptr, indices, msize, stamp, queue, counter)
        ):
            _apply(
                v,
                k,
                labels,
                weights,
                target,
                tol,
                centre,
                coords,
                dmat,
                use_mat,
                mode,
                members,
                msize,
                mpos,
                sums,
                viol,
                cost,
                pair,
                cur,
                moved_tot,
                moved_terr,
                gxy,
                geo,
            )
            n = labels.shape[0]
            tabu[u] = it + 4 + int(_rand(rng) * (6 + 2 * np.sqrt(n / p)))
            tabu[v] = it + 4 + int(_rand(rng) * (6 + 2 * np.sqrt(n / p)))
            return True
        # undo the first half
        _apply(
            u,
            k,
            labels,
            weights,
            target,
            tol,
            centre,
            coords,
            dmat,
            use_mat,
            mode,
            members,
            msize,
            mpos,
            sums,
            viol,
            cost,
            pair,
            cur,
            moved_tot,
            moved_terr,
            gxy,
            geo,
        )
    return False
