"""`design(problem, options)`: the one entry point of the design engine."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from territory.errors import InputError
from territory.optimize import local_search as ls
from territory.optimize.contiguity import bridge_components, components
from territory.optimize.diagnose import diagnose_balance
from territory.optimize.evaluate import measure
from territory.optimize.grow import choose_seeds, grow_regions, tree_partition
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.random import as_generator, kernel_seed
from territory.optimize.result import DesignResult, InfeasibilityDiagnosis, TracePoint

__all__ = ["design"]

log = logging.getLogger(__name__)
_MODES = {
    "diameter": ls.MODE_DIAMETER,
    "pcenter": ls.MODE_PCENTER,
    "moment": ls.MODE_MOMENT,
}


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


def design(problem: DesignProblem, options: DesignOptions) -> DesignResult:
    """Partition the units of ``problem`` into ``options.n_territories`` territories.

    Feasibility comes first (every activity within its tolerance, every
    territory contiguous, locks, centres and disruption limits kept), then
    the objective is minimised until ``time_limit_s`` (or
    ``max_iterations``). Small instances (``method="exact"``, or ``auto`` up
    to ``exact_max_units`` units) go to the MIP, which proves optimality.

    Never raises for an infeasible request: the result has status
    ``infeasible`` (proven, with a ``diagnosis`` naming the units at fault) or
    ``time_limit`` (no feasible plan found in time), and its ``violations``
    say by how much each constraint is missed.
    """
    options.validate(problem)
    started = time.perf_counter()
    p = options.n_territories
    n = problem.n_units

    # separate pieces of the adjacency: bridge them or leave them out
    bridges: tuple[tuple[int, int], ...] = ()
    excluded: tuple[int, ...] = ()
    adjacency = problem.adjacency
    active = np.ones(n, dtype=bool)
    n_comp, comp = components(adjacency)
    if n_comp > 1:
        if options.islands == "bridge":
            bridging = bridge_components(adjacency, problem.coords, problem.distances)
            adjacency = bridging.adjacency
            bridges = bridging.bridges
            log.info("bridged %d separate pieces: %s", len(bridges), bridges)
        else:
            main = int(np.argmax(np.bincount(comp)))
            active = comp == main
            excluded = tuple(int(u) for u in np.flatnonzero(~active))
            pinned = set(excluded) & (
                set((options.locked or {}).keys())
                | {int(c) for c in (options.centers or []) if c >= 0}
            )
            if pinned:
                raise InputError(
                    f"units {sorted(pinned)} are locked or centres but lie outside the "
                    "largest component, which islands='exclude' leaves out — use "
                    "islands='bridge' or unlock them",
                    code="bad_lock",
                    details={"units": sorted(pinned)},
                )
            if int(active.sum()) < p:
                raise InputError(
                    f"only {int(active.sum())} units remain after excluding islands, "
                    f"fewer than {p} territories",
                    code="bad_territory_count",
                )
    solved = (
        problem
        if adjacency is problem.adjacency
        else dataclasses.replace(problem, adjacency=adjacency)
    )
    weights_active = np.where(active[:, None], problem.weights, 0.0)
    targets = DesignOptions.targets(
        options, dataclasses.replace(solved, weights=weights_active)
    )

    diagnosis = diagnose_balance(solved, options, targets)
    tolerances = problem.tolerances.copy()
    if diagnosis is not None:
        log.warning("%s", diagnosis.message)
        # search for the best plan the units allow: widen to the provable bound
        tolerances = np.maximum(tolerances, diagnosis.lower_bounds + 1e-6)

    use_exact = options.method == "exact" or (
        options.method == "auto"
        and int(active.sum()) <= options.exact_max_units
        and not excluded
    )
    if use_exact:
        from territory.optimize.exact import solve_exact

        return solve_exact(
            solved,
            options,
            targets=targets,
            bridges=bridges,
            diagnosis=diagnosis,
            started=started,
        )

    labels, iterations, trace = _heuristic(
        solved, options, targets, tolerances, active, started
    )
    return finish(
        solved,
        options,
        labels,
        targets=targets,
        bridges=bridges,
        excluded=excluded,
        diagnosis=diagnosis,
        method="heuristic",
        iterations=iterations,
        trace=trace,
        started=started,
    )


def finish(
    problem: DesignProblem,
    options: DesignOptions,
    labels: np.ndarray,
    *,
    targets: np.ndarray,
    bridges: tuple[tuple[int, int], ...] = (),
    excluded: tuple[int, ...] = (),
    diagnosis: InfeasibilityDiagnosis | None = None,
    method: str = "heuristic",
    iterations: int = 0,
    trace: tuple[TracePoint, ...] = (),
    started: float | None = None,
    status: str | None = None,
    gap: float | None = None,
    lower_bound: float | None = None,
) -> DesignResult:
    """Measure ``labels`` and wrap them in a :class:`DesignResult`."""
    got = measure(problem, options, labels, targets=targets)
    violations = got["violations"]
    if diagnosis is not None:
        reached = np.abs(np.asarray(got["deviations"])).max(axis=0)
        diagnosis = dataclasses.replace(diagnosis, reached=reached)
        diagnosis = dataclasses.replace(
            diagnosis,
            message=diagnosis.message
            + "\nReached: "
            + ", ".join(
                f"{problem.activity_names[a]} ±{reached[a]:.2%}"
                for a in range(problem.n_activities)
            ),
        )
    if status is None:
        if diagnosis is not None:
            status = "infeasible"
        elif violations:  # type: ignore[truthy-bool]
            status = "time_limit"
        else:
            status = "feasible"
    moved: dict[int, tuple[int, ...]] = {}
    if options.current_labels is not None:
        cur = np.asarray(options.current_labels)
        for k in range(options.n_territories):
            units = np.flatnonzero((labels == k) & (cur != k) & (cur >= 0))
            if units.size:
                moved[k] = tuple(int(u) for u in units)
    return DesignResult(
        labels=np.asarray(labels, dtype=np.int64),
        status=status,  # type: ignore[arg-type]
        objective=float(got["objective"]),  # type: ignore[arg-type]
        objective_name=options.objective,
        values=got["values"],  # type: ignore[arg-type]
        targets=got["targets"],  # type: ignore[arg-type]
        deviations=got["deviations"],  # type: ignore[arg-type]
        territory_cost=got["territory_cost"],  # type: ignore[arg-type]
        contiguous=got["contiguous"],  # type: ignore[arg-type]
        imbalance=float(got["imbalance"]),  # type: ignore[arg-type]
        violations=violations,  # type: ignore[arg-type]
        bridges=bridges,
        excluded=excluded,
        moved_units=moved,
        diagnosis=diagnosis,
        gap=gap,
        lower_bound=lower_bound,
        method=method,
        iterations=iterations,
        elapsed_s=0.0 if started is None else time.perf_counter() - started,
        trace=trace,
    )


def _heuristic(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    tolerances: np.ndarray,
    active: np.ndarray,
    started: float,
    *,
    chunk_size: int | None = None,
    check: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> tuple[np.ndarray, int, tuple[TracePoint, ...]]:
    """Construct, then search until the budget ends; return the best labels.

    ``chunk_size`` fixes the number of iterations per compiled call and
    ``check`` sees the live state arrays after each call (both for tests).
    """
    n, p, m = problem.n_units, options.n_territories, problem.n_activities
    rng = as_generator(options.seed)
    mode = _MODES[options.objective]
    adjacency = sp.csr_array(problem.adjacency)
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
        else np.asarray(options.current_labels, dtype=np.int64)
    )

    def construct(attempt: int) -> np.ndarray:
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
        free_shape = not options.locked and options.centers is None
        if free_shape and attempt % 2 == 1:
            # a recursive spanning-tree bisection balances better on sparse graphs
            split = tree_partition(problem, adjacency, targets, rng, active=active)
            if not np.any(split[active] < 0):
                return split
        seeds = choose_seeds(problem, p, rng, given, allowed=active & ~fixed)
        grown = grow_regions(
            problem, adjacency, targets, seeds, locked=options.locked, active=active
        )
        if free_shape and attempt == 0:
            split = tree_partition(problem, adjacency, targets, rng, active=active)
            if _violation(problem, split, targets, tolerances, active) < _violation(
                problem, grown, targets, tolerances, active
            ):
                return split
        return grown

    total_w = problem.weights[cur >= 0].sum(axis=0)
    lim_tot = np.full(m, np.inf)
    if options.max_disruption is not None:
        lim_tot = options.max_disruption * total_w
    lim_terr = np.full((p, m), np.inf)
    if options.max_disruption_per_territory is not None:
        for k in range(p):
            lim_terr[k] = options.max_disruption_per_territory * problem.weights[
                cur == k
            ].sum(axis=0)

    use_mat = problem.distances is not None
    dmat = problem.distances if use_mat else np.zeros((1, 1))
    coords = problem.coords if problem.coords is not None else np.zeros((n, 2))
    # a hair inside the tolerance, so that rounding never makes a plan infeasible
    tol = np.maximum(0.0, tolerances - 1e-9)
    members = np.zeros((p, n), dtype=np.int64)
    msize = np.zeros(p, dtype=np.int64)
    mpos = np.zeros(n, dtype=np.int64)
    sums = np.zeros((p, m))
    viol = np.zeros(p)
    cost = np.zeros(p)
    pair = np.zeros((p, 2), dtype=np.int64)
    moved_tot = np.zeros(m)
    moved_terr = np.zeros((p, m))
    indptr = adjacency.indptr.astype(np.int64)
    indices = adjacency.indices.astype(np.int64)
    tabu = np.zeros(n, dtype=np.int64)
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.zeros(n, dtype=np.int64)
    counter = np.zeros(1, dtype=np.int64)
    state = kernel_seed(rng).astype(np.uint64)
    ist = np.zeros(5, dtype=np.int64)
    fst = np.full(4, np.inf)
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

    labels = construct(0).astype(np.int64)
    centre = fixed_centres.copy()

    def init() -> None:
        ls.init_state(
            labels,
            p,
            problem.weights,
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
        )

    if mode != ls.MODE_DIAMETER:
        centre[:] = _medoids(problem, labels, p, mode, fixed_centres)
    init()
    best_labels = labels.copy()
    global_best = labels.copy()
    global_key = (np.inf, _violation(problem, labels, targets, tolerances, active))

    trace: list[TracePoint] = []
    chunk = 64 if chunk_size is None else chunk_size
    deadline = started + options.time_limit_s
    budget = options.max_iterations
    done_total = 0
    attempt_start = 0
    attempt = 0
    while True:
        if time.perf_counter() >= deadline:
            break
        it = int(ist[ls.I_ITER])
        todo = chunk if budget is None else min(chunk, budget - done_total)
        if todo <= 0:
            break
        feasible_yet = np.isfinite(fst[ls.F_BEST_OBJ])
        if not feasible_yet:
            todo = min(todo, attempt_start + restart_every - it)
        if mode != ls.MODE_DIAMETER:
            todo = min(todo, recentre_every - it % recentre_every)
        todo = min(todo, check_every - it % check_every)
        t0 = time.perf_counter()
        finished = ls.run_chunk(
            todo,
            p,
            indptr,
            indices,
            problem.weights,
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
        )
        spent = time.perf_counter() - t0
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
                }
            )
        if chunk_size is not None:
            chunk = chunk_size
        if chunk_size is not None:
            pass
        elif spent < 0.05:
            chunk = min(chunk * 2, 1 << 20)
        elif spent > 0.2 and chunk > 16:
            chunk //= 2
        best_obj = float(fst[ls.F_BEST_OBJ])
        key = (
            (best_obj, 0.0)
            if np.isfinite(best_obj)
            else (np.inf, float(fst[ls.F_BEST_INFEAS_I]))
        )
        if key < global_key:
            global_key = key
            last_gain = int(ist[ls.I_ITER])
            global_best = best_labels.copy()
            elapsed = time.perf_counter() - started
            trace.append(TracePoint(elapsed, key[0], key[1]))
            if options.progress is not None:
                options.progress(key[0], key[1], elapsed)
        it = int(ist[ls.I_ITER])
        stale = (
            it % check_every == 0
            and np.isfinite(best_obj)
            and it - max(last_gain, attempt_start) >= patience
        )
        if (not np.isfinite(best_obj) and it - attempt_start >= restart_every) or stale:
            # no feasible plan in this attempt: start again from a new construction
            attempt += 1
            labels[:] = construct(attempt)
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


def _violation(
    problem: DesignProblem,
    labels: np.ndarray,
    targets: np.ndarray,
    tolerances: np.ndarray,
    active: np.ndarray,
) -> float:
    if np.any(labels[active] < 0):
        return float(np.inf)
    sums = np.zeros_like(targets)
    np.add.at(sums, labels[active], problem.weights[active])
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(targets > 0, np.abs(sums / targets - 1), 0.0)
    return float(np.maximum(0.0, dev - tolerances[None, :]).sum())
