"""Infeasibility diagnosis and the documented way through for oversize units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from territory.errors import InfeasibleError
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import InfeasibilityDiagnosis

__all__ = ["OversizePlan", "diagnose_balance", "plan_oversize_units"]


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
