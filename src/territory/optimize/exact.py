"""Exact mode for small instances: a MIP solved by HiGHS.

Variables ``x[i, k]`` put unit ``i`` in territory ``k``. Balance, locks,
centres and disruption limits are linear rows. The objective is linearised:

* ``diameter``: ``D >= d_ij (x_ik + x_jk - 1)`` for every pair and territory;
* ``pcenter``: centre variables ``z[j, k]`` (one per territory, inside it) and
  ``D >= d_ij (x_ik + z_jk - 1)``;
* ``moment``: ``v[i, j, k] >= x_ik + z_jk - 1`` and ``min sum d_ij^2 v_ijk``.

Contiguity is enforced by cuts added lazily: when territory ``k`` falls into
several pieces, for each piece ``S`` and a unit ``v`` of another piece,
``x_ik + x_vk - 1 <= sum_{w in N(S)} x_wk`` (for every ``i`` in ``S`` and
every territory), and the MIP is solved again. Each round's bound is a valid
lower bound of the full problem, so the reported gap is proven.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import DesignResult, InfeasibilityDiagnosis

__all__ = ["prove_feasibility", "solve_exact"]


def _quiet_highs(highspy: Any) -> Any:
    """Create a HiGHS instance without its banner on standard output.

    HiGHS writes its banner from C++ when the instance is constructed, before
    any option can switch logging off, so file descriptor 1 is pointed at
    /dev/null for the duration of the constructor only.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


class _Model:
    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.cost: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[list[int], list[float], float, float]] = []

    def var(
        self, lb: float, ub: float, cost: float = 0.0, integer: bool = False
    ) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.cost.append(cost)
        self.integer.append(integer)
        return len(self.lb) - 1

    def row(self, idx: list[int], val: list[float], lo: float, hi: float) -> None:
        self.rows.append((idx, val, lo, hi))


def _solve(
    model: _Model, time_limit: float, seed: int
) -> tuple[str, np.ndarray | None, float, float]:
    import highspy

    h = _quiet_highs(highspy)
    h.setOptionValue("time_limit", max(0.01, time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("random_seed", int(seed) % (2**31 - 1))
    h.setOptionValue("threads", 1)
    nv = len(model.lb)
    inf = highspy.kHighsInf
    h.addVars(
        nv,
        np.array(model.lb),
        np.array([u if np.isfinite(u) else inf for u in model.ub]),
    )
    h.changeColsCost(nv, np.arange(nv, dtype=np.int32), np.array(model.cost))
    ints = np.flatnonzero(model.integer).astype(np.int32)
    if ints.size:
        h.changeColsIntegrality(
            ints.size,
            ints,
            np.full(ints.size, highspy.HighsVarType.kInteger, dtype=np.uint8),
        )
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    for idx, val, rlo, rhi in model.rows:
        starts.append(len(index))
        index.extend(idx)
        value.extend(val)
        lo.append(rlo if np.isfinite(rlo) else -inf)
        hi.append(rhi if np.isfinite(rhi) else inf)
    if model.rows:
        h.addRows(
            len(model.rows),
            np.array(lo),
            np.array(hi),
            len(index),
            np.array(starts, dtype=np.int32),
            np.array(index, dtype=np.int32),
            np.array(value, dtype=np.float64),
        )
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    ms = highspy.HighsModelStatus
    if status == ms.kInfeasible:
        return "infeasible", None, np.inf, np.inf
    has_sol = info.primal_solution_status == 2
    x = np.array(h.getSolution().col_value) if has_sol else None
    bound = float(info.mip_dual_bound)
    obj = float(info.objective_function_value) if has_sol else np.inf
    if status == ms.kOptimal:
        return "optimal", x, obj, obj
    return "time_limit", x, obj, bound


def _build(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    *,
    with_objective: bool = True,
) -> tuple[_Model, np.ndarray]:
    """The MIP of ``problem`` without contiguity; returns it and ``x[i, k]``.

    Without the objective (``with_objective=False``) it is a pure feasibility
    model: assignment, balance, locks, centres and disruption rows only.
    """
    n, p, m = problem.n_units, options.n_territories, problem.n_activities
    model = _Model()
    x = np.array([[model.var(0, 1, integer=True) for _ in range(p)] for _ in range(n)])
    interchangeable = (
        options.centers is None
        and not options.locked
        and options.current_labels is None
        and options.territory_weights is None
    )
    for i in range(n):
        model.row([int(v) for v in x[i]], [1.0] * p, 1, 1)
        if interchangeable:
            for k in range(i + 1, p):
                model.ub[x[i, k]] = 0.0
    tol = problem.tolerances
    for k in range(p):
        for a in range(m):
            t = targets[k, a]
            if t > 0:
                model.row(
                    [int(v) for v in x[:, k]],
                    list(problem.weights[:, a]),
                    (1 - tol[a]) * t,
                    (1 + tol[a]) * t,
                )
        model.row([int(v) for v in x[:, k]], [1.0] * n, 1, n)  # not empty
    for u, k in (options.locked or {}).items():
        model.lb[x[int(u), int(k)]] = 1.0
    centres = None if options.centers is None else np.asarray(options.centers)
    if centres is not None:
        for k, c in enumerate(centres):
            if c >= 0:
                model.lb[x[int(c), k]] = 1.0
    if options.current_labels is not None:
        cur = np.asarray(options.current_labels)
        w = problem.weights
        if options.max_disruption is not None:
            for a in range(m):
                own = np.flatnonzero(cur >= 0)
                total = w[own, a].sum()
                # sum w_i (1 - x_i,cur_i) <= lim  <=>  sum w_i x_i,cur_i >= total - lim
                model.row(
                    [int(x[i, cur[i]]) for i in own],
                    list(w[own, a]),
                    total - options.max_disruption * total,
                    np.inf,
                )
        if options.max_disruption_per_territory is not None:
            for k in range(p):
                own = np.flatnonzero(cur == k)
                for a in range(m):
                    total = w[own, a].sum()
                    if own.size and total > 0:
                        model.row(
                            [int(x[i, k]) for i in own],
                            list(w[own, a]),
                            total - options.max_disruption_per_territory * total,
                            np.inf,
                        )
    if not with_objective:
        return model, x
    dist = np.asarray(problem.distance(np.arange(n)[:, None], np.arange(n)[None, :]))
    big = float(dist.max()) if n > 1 else 0.0
    if options.objective == "diameter":
        d_var = model.var(0, big, cost=1.0)
        for i in range(n):
            for j in range(i + 1, n):
                if dist[i, j] <= 0:
                    continue
                for k in range(p):
                    model.row(
                        [d_var, int(x[i, k]), int(x[j, k])],
                        [1.0, -dist[i, j], -dist[i, j]],
                        -dist[i, j],
                        np.inf,
                    )
    else:
        z = np.array(
            [[model.var(0, 1, integer=True) for _ in range(p)] for _ in range(n)]
        )
        for k in range(p):
            model.row([int(v) for v in z[:, k]], [1.0] * n, 1, 1)
            for j in range(n):
                model.row([int(z[j, k]), int(x[j, k])], [1.0, -1.0], -np.inf, 0)
            if centres is not None and centres[k] >= 0:
                model.lb[z[int(centres[k]), k]] = 1.0
        if options.objective == "pcenter":
            d_var = model.var(0, big, cost=1.0)
            for k in range(p):
                for i in range(n):
                    for j in range(n):
                        if dist[i, j] > 0:
                            model.row(
                                [d_var, int(x[i, k]), int(z[j, k])],
                                [1.0, -dist[i, j], -dist[i, j]],
                                -dist[i, j],
                                np.inf,
                            )
        else:
            for k in range(p):
                for i in range(n):
                    for j in range(n):
                        if dist[i, j] > 0:
                            v = model.var(0, 1, cost=float(dist[i, j] ** 2))
                            model.row(
                                [v, int(x[i, k]), int(z[j, k])],
                                [1.0, -1.0, -1.0],
                                -1.0,
                                np.inf,
                            )
    return model, x


def _solve_contiguous(
    model: _Model,
    x: np.ndarray,
    problem: DesignProblem,
    options: DesignOptions,
    deadline: float,
) -> tuple[str, np.ndarray | None, float, float]:
    """Solve, cut the territories in pieces, solve again, until none is."""
    adjacency = sp.csr_array(problem.adjacency)
    p = options.n_territories
    seed = options.seed if isinstance(options.seed, int) else 0
    status, sol, obj, bound = "time_limit", None, np.inf, -np.inf
    while True:
        status, sol, obj, bound = _solve(model, deadline - time.perf_counter(), seed)
        if sol is None or not options.contiguity:
            break
        labels = np.argmax(sol[x], axis=1)
        cuts = _contiguity_cuts(adjacency, labels, x, p)
        if not cuts:
            break
        for idx, val, lo, hi in cuts:
            model.row(idx, val, lo, hi)
        if time.perf_counter() >= deadline:
            status = "time_limit"
            break
    return status, sol, obj, bound


def prove_feasibility(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    time_limit_s: float,
) -> tuple[str, np.ndarray | None]:
    """Decide whether any plan meets every constraint, by the MIP.

    The model has no objective (assignment, balance within the tolerances,
    locks, centres, disruption limits), and contiguity is added by cuts as in
    :func:`solve_exact`. Returns ``("infeasible", None)`` when HiGHS proves
    that no plan exists, ``("feasible", labels)`` with one plan meeting every
    constraint, or ``("unknown", None)`` when ``time_limit_s`` ran out.
    Meant for a few dozen units.
    """
    deadline = time.perf_counter() + time_limit_s
    model, x = _build(problem, options, targets, with_objective=False)
    status, sol, _, _ = _solve_contiguous(model, x, problem, options, deadline)
    if status == "infeasible":
        return "infeasible", None
    if sol is not None and status == "optimal":
        return "feasible", np.argmax(sol[x], axis=1).astype(np.int64)
    return "unknown", None


def solve_exact(
    problem: DesignProblem,
    options: DesignOptions,
    *,
    targets: np.ndarray,
    bridges: tuple[tuple[int, int], ...] = (),
    diagnosis: InfeasibilityDiagnosis | None = None,
    started: float | None = None,
) -> DesignResult:
    """Solve ``problem`` to proven optimality (or to the time limit) with HiGHS."""
    from territory.optimize.solve import finish

    started = time.perf_counter() if started is None else started
    model, x = _build(problem, options, targets)
    deadline = started + options.time_limit_s
    status, sol, obj, bound = _solve_contiguous(model, x, problem, options, deadline)
    if sol is None:
        # no plan from the MIP: fall back to the heuristic for the best plan
        import dataclasses

        from territory.optimize.solve import design

        fallback = design(problem, dataclasses.replace(options, method="heuristic"))
        return dataclasses.replace(
            fallback,
            status="infeasible" if status == "infeasible" else fallback.status,
            method="exact",
            diagnosis=diagnosis if diagnosis is not None else fallback.diagnosis,
        )
    labels = np.argmax(sol[x], axis=1).astype(np.int64)
    gap = (
        0.0
        if status == "optimal"
        else ((obj - bound) / obj if obj > 0 and np.isfinite(bound) else None)
    )
    result = finish(
        problem,
        options,
        labels,
        targets=targets,
        bridges=bridges,
        diagnosis=diagnosis,
        method="exact",
        started=started,
        status=None if status != "optimal" else "optimal",
        gap=gap,
        lower_bound=float(bound),
    )
    if status != "optimal" and not result.violations and diagnosis is None:
        import dataclasses

        result = dataclasses.replace(result, status="feasible")
    return result


def _contiguity_cuts(
    adjacency: sp.csr_array, labels: np.ndarray, x: np.ndarray, p: int
) -> list[tuple[list[int], list[float], float, float]]:
    cuts: list[tuple[list[int], list[float], float, float]] = []
    n = labels.size
    for k in range(p):
        units = np.flatnonzero(labels == k)
        if units.size < 2:
            continue
        sub = adjacency[units][:, units]
        n_comp, comp = csgraph.connected_components(sub, directed=False)
        if n_comp < 2:
            continue
        for c in range(n_comp):
            piece = units[comp == c]
            other = int(units[comp != c][0])
            mask = np.zeros(n, dtype=bool)
            mask[piece] = True
            nbrs = np.unique(adjacency[piece].indices)
            nbrs = nbrs[~mask[nbrs]]
            for i in piece:
                for kk in range(p):
                    idx = [int(x[i, kk]), int(x[other, kk])] + [
                        int(x[w, kk]) for w in nbrs
                    ]
                    val = [1.0, 1.0] + [-1.0] * nbrs.size
                    cuts.append((idx, val, -np.inf, 1.0))
    return cuts
