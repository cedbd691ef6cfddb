"""The heuristic driver: construct, then run the compiled search within a budget.

:func:`run_heuristic` is what :func:`territory.optimize.design` runs on
instances too big for the exact MIP. It

1. waits for the compiled kernels (loading them from the cache, or compiling
   them in the background) but never past the deadline: if they are not ready
   in time, a pure-Python region growing gives the plan;
2. builds the first plan by recursive spanning-tree bisection
   (:mod:`territory.optimize.tree`), balanced on every activity, compact, and
   reported through ``progress`` at once when it is feasible;
3. runs the compiled local search (:mod:`territory.optimize.local_search`) in
   chunks bounded by work, so that the clock is looked at every ~0.1 s
   whatever the moves cost, with restarts from fresh constructions;
4. returns the best plan over all attempts.

With ``max_iterations`` the plan depends only on the seed: chunk boundaries
never change the search, and every restart decision counts iterations, not
seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from territory.optimize import local_search as ls
from territory.optimize.compiled import wait_until_ready
from territory.optimize.grow import choose_seeds, grow_regions
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.random import as_generator, kernel_seed
from territory.optimize.result import TracePoint

__all__ = ["planar", "run_heuristic", "summed_moment", "violation"]

MODES = {
    "diameter": ls.MODE_DIAMETER,
    "pcenter": ls.MODE_PCENTER,
    "moment": ls.MODE_MOMENT,
}
#: Seconds one compiled call aims at: the deadline is looked at this often.
CHUNK_S = 0.1
#: A run that stops when stalled searches at least this long.
STALL_MIN_S = 5.0
#: Weight of the balance tie-break (summed squared deviations, in tolerances).
PRESSURE = 1e-4


def violation(
    problem: DesignProblem,
    labels: np.ndarray,
    targets: np.ndarray,
    tolerances: np.ndarray,
    active: np.ndarray,
) -> float:
    """Summed relative deviation beyond the tolerances (inf if a unit is free)."""
    if np.any(labels[active] < 0):
        return float(np.inf)
    sums = np.zeros_like(targets)
    np.add.at(sums, labels[active], problem.weights[active])
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(targets > 0, np.abs(sums / targets - 1), 0.0)
    return float(np.maximum(0.0, dev - tolerances[None, :]).sum())


def planar(problem: DesignProblem, adjacency: sp.csr_array) -> np.ndarray:
    """``(x, y, area)`` of every unit, for the compactness tie-break.

    ``x, y``: the problem's coordinates or, with a distance matrix only, a
    classical multidimensional scaling of it (two leading eigenvectors).
    ``area`` stands for the unit's extent on the map: the square of the median
    distance to its neighbours (a big rural county weighs more than a small
    city one), scaled to a mean of 1.
    """
    if problem.coords is not None:
        xy = np.asarray(problem.coords, dtype=np.float64)
    else:
        assert problem.distances is not None
        d2 = problem.distances**2
        n = d2.shape[0]
        centred = d2 - d2.mean(axis=0)[None, :] - d2.mean(axis=1)[:, None] + d2.mean()
        vals, vecs = np.linalg.eigh(-0.5 * centred)
        top = np.argsort(vals)[::-1][:2]
        xy = vecs[:, top] * np.sqrt(np.maximum(vals[top], 0.0))[None, :]
        if xy.shape[1] < 2:
            xy = np.column_stack([xy, np.zeros(n)])
    n = xy.shape[0]
    coo = sp.coo_array(adjacency)
    length = np.asarray(problem.distance(coo.row, coo.col), dtype=np.float64)
    order = np.lexsort((length, coo.row))
    rows, length = coo.row[order], length[order]
    deg = np.bincount(rows, minlength=n)
    start = np.r_[0, np.cumsum(deg)[:-1]]
    median = np.full(n, np.nan)
    has = deg > 0
    median[has] = length[start[has] + deg[has] // 2]
    fill = np.nanmean(median) if np.isfinite(median).any() else 1.0
    median = np.where(np.isfinite(median) & (median > 0), median, fill)
    area = median**2
    area = area / area.mean()
    return np.ascontiguousarray(np.column_stack([xy, area]), dtype=np.float64)


def summed_moment(gxy: np.ndarray, labels: np.ndarray, p: int) -> float:
    """The tie-break: each territory's moment of inertia over its area squared.

    ``gxy`` is :func:`planar`'s ``(x, y, area)``; a disc scores 1 / (2 pi).
    """
    keep = labels >= 0
    lab = labels[keep]
    x, y, a = gxy[keep, 0], gxy[keep, 1], gxy[keep, 2]
    area = np.bincount(lab, weights=a, minlength=p)
    sx = np.bincount(lab, weights=a * x, minlength=p)
    sy = np.bincount(lab, weights=a * y, minlength=p)
    sq = np.bincount(lab, weights=a * (x * x + y * y), minlength=p)
    with np.errstate(divide="ignore", invalid="ignore"):
        mom = np.where(
            area > 1e-12, (sq - (sx * sx + sy * sy) / area) / (area * area), 0.0
        )
    return float(np.maximum(mom, 0.0).sum())


def _medoids(
    problem: DesignProblem, labels: np.ndarray, p: int, mode: int, fixed: np.ndarray
) -> np.ndarray:
    centre = np.array(fixed, dtype=np.int64)
    for k in range(p):
        if centre[k] >= 0:
            continue
        units = np.flatnonzero(labels == k)
        if units.size == 0:
            continue
        sub = np.asarray(problem.distance(units[:, None], units[None, :]))
        score = sub.max(axis=1) if mode == ls.MODE_PCENTER else (sub * sub).sum(axis=1)
        centre[k] = int(units[int(np.argmin(score))])
    return centre


def run_heuristic(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    tolerances: np.ndarray,
    active: np.ndarray,
    started: float,
    *,
    chunk_size: int | None = None,
    check: Callable[[dict[str, np.ndarray]], None] | None = None,
    stop_at_feasible: bool = False,
    deadline: float | None = None,
    warm: bool = False,
) -> tuple[np.ndarray, int, tuple[TracePoint, ...]]:
    """Construct, then search until the budget ends; return the best labels.

    ``stop_at_feasible`` ends the run at the first plan within ``tolerances``
    (for a diagnosed infeasible request, whose tolerances were widened to the
    provable bound). ``deadline`` (``time.perf_counter``) defaults to
    ``started + time_limit_s``. ``chunk_size`` fixes the number of iterations
    per compiled call and ``check`` sees the live state arrays after each call
    (both for tests); ``warm`` is the kernel warm-up itself.
    """
    from territory.optimize.evaluate import measure, territory_costs
    from territory.optimize.tree import tree_partition

    n, p, m = problem.n_units, options.n_territories, problem.n_activities
    rng = as_generator(options.seed)
    mode = MODES[options.objective]
    if deadline is None:
        deadline = started + options.time_limit_s
    adjacency = sp.csr_array(problem.adjacency)
    weights = np.ascontiguousarray(problem.weights, dtype=np.float64)
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    fixed_centres = (
        np.full(p, -1, dtype=np.int64)
        if options.centers is None
        else np.asarray(options.centers, dtype=np.int64)
    )
    fixed = np.zeros(n, dtype=np.bool_)
    for u in options.locked or {}:
        fixed[int(u)] = True
    fixed[fixed_centres[fixed_centres >= 0]] = True
    fixed[~active] = True
    cur = (
        np.full(n, -1, dtype=np.int64)
        if options.current_labels is None
        else np.ascontiguousarray(options.current_labels, dtype=np.int64)
    )
    anchors = {int(u): int(k) for u, k in (options.locked or {}).items()}
    for k, c in enumerate(fixed_centres):
        if c >= 0:
            anchors[int(c)] = k

    def grown() -> np.ndarray:
        """Region growing (pure Python): from the current plan, or from seeds."""
        if options.current_labels is not None:
            start = np.where(active, cur, -1)
            for u, k in (options.locked or {}).items():
                start[int(u)] = int(k)
            seeds = np.full(p, -1, dtype=np.int64)
            seeds[fixed_centres >= 0] = fixed_centres[fixed_centres >= 0]
            missing = [k for k in range(p) if not np.any(start == k)]
            if missing:
                picked = choose_seeds(
                    problem, p, rng, seeds, allowed=active & (start < 0)
                )
                seeds[missing] = picked[missing]
            return grow_regions(
                problem, adjacency, targets, seeds, start=start, active=active
            )
        given = fixed_centres.copy()
        for u, k in (options.locked or {}).items():
            if given[k] < 0:
                given[k] = int(u)
        seeds = choose_seeds(problem, p, rng, given, allowed=active & ~fixed)
        return grow_regions(
            problem, adjacency, targets, seeds, locked=options.locked, active=active
        )

    def construct() -> np.ndarray:
        """A new plan: the spanning-tree bisection, else region growing."""
        if options.current_labels is None:
            # leave time for the search: the construction takes a share of it
            budget = max(0.05, 0.25 * (deadline - time.perf_counter()))
            split = tree_partition(
                problem,
                adjacency,
                targets,
                rng,
                tolerances=tolerances,
                active=active,
                anchors=anchors,
                deadline=time.perf_counter() + budget,
            )
            if split is not None and not np.any(split[active] < 0):
                return split
        return grown()

    trace: list[TracePoint] = []

    def report(objective: float, imbalance: float) -> None:
        elapsed = time.perf_counter() - started
        trace.append(TracePoint(elapsed, objective, imbalance))
        if options.progress is not None:
            options.progress(objective, imbalance, elapsed)

    gxy = planar(problem, adjacency)
    polish = options.tie_break == "moment" and mode != ls.MODE_MOMENT

    def first_key(labels_now: np.ndarray) -> tuple[float, float]:
        """(objective, tie-break) of a feasible plan, else (inf, violation)."""
        viol_now = violation(problem, labels_now, targets, tolerances, active)
        if viol_now > 1e-9:
            return np.inf, viol_now
        got = measure(problem, options, labels_now, targets=targets)
        if any(v.kind != "balance" for v in got["violations"]):  # type: ignore[attr-defined]
            return np.inf, viol_now
        centers = None if options.centers is None else fixed_centres
        cost_now = territory_costs(problem, labels_now, p, options.objective, centers)
        obj = float(cost_now.sum() if mode == ls.MODE_MOMENT else cost_now.max())
        return obj, (summed_moment(gxy, labels_now, p) if polish else 0.0)

    # the compiled kernels: loaded or compiled, but never past the deadline
    reserve = min(0.25 * options.time_limit_s, 0.3 + 5e-5 * n)
    if not warm and not wait_until_ready(deadline - reserve):
        labels = grown()
        key = first_key(labels)
        report(key[0], 0.0 if np.isfinite(key[0]) else key[1])
        return labels, 0, tuple(trace)

    labels = np.ascontiguousarray(construct(), dtype=np.int64)
    global_key = first_key(labels)
    report(global_key[0], 0.0 if np.isfinite(global_key[0]) else global_key[1])
    global_best = labels.copy()
    if stop_at_feasible and np.isfinite(global_key[0]):
        return global_best, 0, tuple(trace)

    total_w = weights[cur >= 0].sum(axis=0)
    lim_tot = np.full(m, np.inf)
    if options.max_disruption is not None:
        lim_tot = options.max_disruption * total_w
    lim_terr = np.full((p, m), np.inf)
    if options.max_disruption_per_territory is not None:
        for k in range(p):
            lim_terr[k] = options.max_disruption_per_territory * weights[cur == k].sum(
                axis=0
            )

    use_mat = problem.distances is not None
    dmat = (
        np.ascontiguousarray(problem.distances, dtype=np.float64)
        if use_mat
        else np.zeros((1, 1))
    )
    coords = (
        np.ascontiguousarray(problem.coords, dtype=np.float64)
        if problem.coords is not None
        else np.zeros((n, 2))
    )
    # a hair inside the tolerance, so that rounding never makes a plan infeasible
    tol = np.ascontiguousarray(np.maximum(0.0, tolerances - 1e-9), dtype=np.float64)
    members = np.zeros((p, n), dtype=np.int64)
    msize = np.zeros(p, dtype=np.int64)
    mpos = np.zeros(n, dtype=np.int64)
    sums = np.zeros((p, m))
    viol = np.zeros(p)
    cost = np.zeros(p)
    pair = np.zeros((p, 2), dtype=np.int64)
    moved_tot = np.zeros(m)
    moved_terr = np.zeros((p, m))
    geo = np.zeros((p, 4))
    indptr = adjacency.indptr.astype(np.int64)
    indices = adjacency.indices.astype(np.int64)
    tabu = np.zeros(n, dtype=np.int64)
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.zeros(n, dtype=np.int64)
    counter = np.zeros(2, dtype=np.int64)
    state = kernel_seed(rng).astype(np.uint64)
    ist = np.zeros(7, dtype=np.int64)
    fst = np.full(5, np.inf)
    ncap = 2 * int(indices.size) + 16
    cand_u = np.zeros(ncap, dtype=np.int64)
    cand_b = np.zeros(ncap, dtype=np.int64)
    cand_s = np.zeros(ncap)
    small = n <= 1000
    stall = int(max(50 if small else 200, 20 * n / p))
    # without a feasible plan after this many iterations, start again elsewhere
    restart_every = 25 * stall
    recentre_every = 1000
    # a feasible attempt that stops improving gives way to a fresh one
    patience = (10 if small else 30) * stall
    check_every = 2000
    last_gain = 0
    centre = fixed_centres.copy()

    def init() -> None:
        ls.init_state(
            labels,
            p,
            weights,
            targets,
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

    if mode != ls.MODE_DIAMETER:
        centre[:] = _medoids(problem, labels, p, mode, fixed_centres)
    init()
    best_labels = labels.copy()

    # re-splitting pairs of territories (diameter objective, no disruption limit)
    recombining = (
        mode == ls.MODE_DIAMETER
        and options.contiguity
        and options.max_disruption is None
        and options.max_disruption_per_territory is None
    )
    pins = np.full(n, -1, dtype=np.int64)
    for u, k in anchors.items():
        pins[u] = k
    pins[~active] = -2
    rstate = kernel_seed(rng).astype(np.uint64)
    budget = options.max_iterations
    stall_share = options.stop_when_stalled if budget is None else None
    last_gain_s = time.perf_counter()
    work_chunk = 20_000.0  # work units per compiled call, tuned to CHUNK_S
    done_total = 0
    attempt_start = 0
    attempt = 0
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        if stall_share is not None and np.isfinite(global_key[0]):
            quiet = now - last_gain_s
            if quiet >= max(STALL_MIN_S, stall_share * (last_gain_s - started)):
                break
        it = int(ist[ls.I_ITER])
        todo = (1 << 30) if budget is None else budget - done_total
        if chunk_size is not None:
            todo = min(todo, chunk_size)
        if todo <= 0:
            break
        feasible_yet = np.isfinite(fst[ls.F_BEST_OBJ])
        if not feasible_yet:
            todo = min(todo, attempt_start + restart_every - it)
        if mode != ls.MODE_DIAMETER:
            todo = min(todo, recentre_every - it % recentre_every)
        todo = min(todo, check_every - it % check_every)
        left = deadline - now
        allowed = max(64.0, work_chunk * min(1.0, left / CHUNK_S))
        work_limit = int(counter[ls.W_DONE] + allowed)
        w0 = int(counter[ls.W_DONE])
        t0 = time.perf_counter()
        finished = ls.run_chunk(
            todo,
            p,
            indptr,
            indices,
            weights,
            targets,
            tol,
            centre,
            coords,
            dmat,
            use_mat,
            mode,
            fixed,
            options.contiguity,
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
            state,
            ist,
            fst,
            best_labels,
            stall,
            cand_u,
            cand_b,
            cand_s,
            gxy,
            geo,
            work_limit,
            polish,
            PRESSURE,
        )
        spent = time.perf_counter() - t0
        worked = int(counter[ls.W_DONE]) - w0
        if spent > 1e-4 and worked > 0:
            rate = worked / spent
            aim = 0.5 * work_chunk + 0.5 * rate * CHUNK_S
            work_chunk = float(np.clip(aim, 1e3, 1e10))
        done_total += int(ist[ls.I_ITER]) - it
        if check is not None:
            check(
                {
                    "labels": labels,
                    "sums": sums,
                    "viol": viol,
                    "cost": cost,
                    "targets": targets,
                    "tol": tol,
                    "centre": centre,
                    "adjacency_indptr": indptr,
                    "adjacency_indices": indices,
                    "moved_tot": moved_tot,
                    "moved_terr": moved_terr,
                    "geo": geo,
                    "gxy": gxy,
                }
            )
        best_obj = float(fst[ls.F_BEST_OBJ])
        key = (
            (best_obj, float(fst[ls.F_BEST_SEC]) if polish else 0.0)
            if np.isfinite(best_obj)
            else (np.inf, float(fst[ls.F_BEST_INFEAS_I]))
        )
        if _better(key, global_key):
            global_key = key
            last_gain = int(ist[ls.I_BEST_ITER])
            last_gain_s = time.perf_counter()
            global_best = best_labels.copy()
            report(key[0], 0.0 if np.isfinite(key[0]) else key[1])
            if stop_at_feasible and np.isfinite(key[0]):
                break
        it = int(ist[ls.I_ITER])
        if recombining and it % check_every == 0 and np.isfinite(fst[ls.F_BEST_OBJ]):
            # a bigger move: re-split the widest territory with a neighbour
            trial = best_labels.copy()
            improved = False
            for _ in range(8):
                widths = territory_costs(problem, trial, p, options.objective)
                if not recombine_widest(
                    problem, adjacency, trial, widths, targets, tol, pins, rstate
                ):
                    break
                improved = True
            if improved:
                labels[:] = trial
                init()
                continue
        stale = (
            it % check_every == 0
            and np.isfinite(best_obj)
            and it - max(last_gain, attempt_start) >= patience
        )
        if (not np.isfinite(best_obj) and it - attempt_start >= restart_every) or stale:
            # start again from a new construction
            attempt += 1
            labels[:] = construct()
            if mode != ls.MODE_DIAMETER:
                centre[:] = _medoids(problem, labels, p, mode, fixed_centres)
            init()
            fst[:] = np.inf
            tabu[:] = 0
            attempt_start = it
            continue
        if mode != ls.MODE_DIAMETER and it % recentre_every == 0:
            moved_centre = _medoids(problem, labels, p, mode, fixed_centres)
            if not np.array_equal(moved_centre, centre):
                centre[:] = moved_centre
                init()
                continue
        if finished:
            break
    return global_best, done_total, tuple(trace)


def recombine_widest(
    problem: DesignProblem,
    adjacency: sp.csr_array,
    labels: np.ndarray,
    cost: np.ndarray,
    targets: np.ndarray,
    tol: np.ndarray,
    pins: np.ndarray,
    state: np.ndarray,
    n_trees: int = 24,
) -> bool:
    """Re-split the widest territory with each neighbour; keep the best pair.

    The widest territory ``k`` and a neighbour ``b`` are merged and cut
    again along random spanning trees (:func:`tree_kernel.recombine`): a cut
    that keeps both within ``tol``, their pins (``pins[u]``: the territory a
    locked unit or centre must stay in, -1 if free) in place, and makes both
    narrower than ``k`` is taken, the narrowest over all neighbours.
    ``labels`` is changed in place; returns True when it improved.
    """
    from territory.optimize.tree_kernel import recombine

    k = int(np.argmax(cost))
    own = np.flatnonzero(labels == k)
    touching = np.unique(labels[adjacency.indices[_row_span(adjacency, own)]])
    best = cost[k] * (1 - 1e-9)
    choice: tuple[np.ndarray, np.ndarray, int] | None = None
    use_mat = problem.distances is not None
    for b in touching[np.argsort(-cost[touching], kind="stable")]:
        b = int(b)
        if b == k or b < 0:
            continue
        idx = np.flatnonzero((labels == k) | (labels == b))
        sub = sp.coo_array(adjacency[idx][:, idx])
        keep = sub.row < sub.col
        r = sub.row[keep].astype(np.int64)
        c = sub.col[keep].astype(np.int64)
        length = np.asarray(problem.distance(idx[r], idx[c]), dtype=np.float64)
        length = length / max(float(length.mean()) if length.size else 1.0, 1e-12)
        side = np.where(pins[idx] == k, 1, np.where(pins[idx] == b, 2, 0))
        out = np.zeros(idx.size, dtype=np.bool_)
        got = recombine(
            n_trees,
            r,
            c,
            length,
            np.ascontiguousarray(problem.weights[idx]),
            np.ascontiguousarray(targets[k]),
            np.ascontiguousarray(targets[b]),
            tol,
            np.ascontiguousarray(problem.coords[idx])
            if problem.coords is not None
            else np.zeros((idx.size, 2)),
            np.ascontiguousarray(problem.distances[np.ix_(idx, idx)])
            if problem.distances is not None
            else np.zeros((1, 1)),
            use_mat,
            side.astype(np.int64),
            float(best),
            state,
            out,
        )
        if got < best:
            best = got
            choice = (idx, out.copy(), b)
    if choice is None:
        return False
    idx, out, b = choice
    labels[idx] = np.where(out, k, b)
    return True


def _row_span(adjacency: sp.csr_array, rows: np.ndarray) -> np.ndarray:
    """Positions in ``adjacency.indices`` of the neighbours of ``rows``."""
    starts = adjacency.indptr[rows]
    ends = adjacency.indptr[rows + 1]
    lens = ends - starts
    if lens.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - np.cumsum(np.r_[0, lens[:-1]]), lens)
    span: np.ndarray = np.arange(int(lens.sum())) + offs
    return span


def _better(key: tuple[float, float], than: tuple[float, float]) -> bool:
    """Lexicographic comparison with a relative tolerance on the objective."""
    if key[0] < than[0] - 1e-9 * max(1.0, abs(key[0])):
        return True
    if np.isfinite(key[0]) and key[0] <= than[0] + 1e-9 * max(1.0, abs(key[0])):
        return key[1] < than[1] * (1 - 1e-9) - 1e-12
    if not np.isfinite(key[0]) and not np.isfinite(than[0]):
        return key[1] < than[1] - 1e-12
    return False
