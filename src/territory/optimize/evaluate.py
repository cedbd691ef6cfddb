"""Measure a plan: balance, compactness, contiguity, violations."""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from territory.optimize.contiguity import territory_contiguity
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import Violation

__all__ = [
    "balance_violation",
    "measure",
    "territory_costs",
    "territory_diameter",
]


def territory_diameter(problem: DesignProblem, units: np.ndarray) -> float:
    """Largest distance between two of ``units`` (0 for fewer than two)."""
    units = np.asarray(units)
    if units.size < 2:
        return 0.0
    if problem.distances is not None:
        return float(problem.distances[np.ix_(units, units)].max())
    assert problem.coords is not None
    pts = problem.coords[units]
    if units.size > 64:
        # collinear or duplicate points have no hull: use them all
        with contextlib.suppress(QhullError):
            pts = pts[ConvexHull(pts).vertices]
    diff = pts[:, None, :] - pts[None, :, :]
    return float(np.sqrt((diff * diff).sum(axis=-1)).max())


def _pair_matrix(problem: DesignProblem, units: np.ndarray) -> np.ndarray:
    if problem.distances is not None:
        return np.asarray(problem.distances[np.ix_(units, units)])
    assert problem.coords is not None
    pts = problem.coords[units]
    diff = pts[:, None, :] - pts[None, :, :]
    return np.asarray(np.sqrt((diff * diff).sum(axis=-1)))


def territory_costs(
    problem: DesignProblem,
    labels: np.ndarray,
    n_territories: int,
    objective: str = "diameter",
    centers: np.ndarray | None = None,
) -> np.ndarray:
    """Cost of each territory under ``objective``.

    ``diameter``: largest pairwise distance. ``pcenter``: largest distance from
    the centre unit (the fixed centre, else the member minimising it).
    ``moment``: sum of squared distances to the centre unit (the fixed centre,
    else the member minimising it).
    """
    out = np.zeros(n_territories)
    for k in range(n_territories):
        units = np.flatnonzero(labels == k)
        if units.size == 0:
            continue
        if objective == "diameter":
            out[k] = territory_diameter(problem, units)
            continue
        c = -1 if centers is None else int(centers[k])
        if c >= 0:
            d = problem.distance(c, units)
            out[k] = d.max() if objective == "pcenter" else float((d * d).sum())
            continue
        mat = _pair_matrix(problem, units)
        per = mat.max(axis=1) if objective == "pcenter" else (mat * mat).sum(axis=1)
        out[k] = float(per.min())
    return out


def balance_violation(deviations: np.ndarray, tolerances: np.ndarray) -> np.ndarray:
    """Relative deviation beyond the tolerance, ``(p, m)``, >= 0."""
    return np.asarray(np.maximum(0.0, np.abs(deviations) - tolerances[None, :]))


def measure(
    problem: DesignProblem,
    options: DesignOptions,
    labels: np.ndarray,
    *,
    targets: np.ndarray | None = None,
) -> dict[str, object]:
    """Measure ``labels`` against ``problem`` and ``options``.

    Returns a mapping with ``values``, ``targets``, ``deviations``,
    ``territory_cost``, ``objective``, ``contiguous``, ``imbalance`` and
    ``violations`` (a tuple of :class:`Violation`), ready for a
    :class:`~territory.optimize.result.DesignResult`.
    """
    p = options.n_territories
    labels = np.asarray(labels, dtype=np.int64)
    m = problem.n_activities
    assigned = labels >= 0
    values = np.zeros((p, m))
    np.add.at(values, labels[assigned], problem.weights[assigned])
    if targets is None:
        targets = options.targets(problem)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(targets > 0, values / np.where(targets > 0, targets, 1) - 1, 0.0)
    viol = balance_violation(dev, problem.tolerances)
    centers = None if options.centers is None else np.asarray(options.centers)
    cost = territory_costs(problem, labels, p, options.objective, centers)
    objective = float(cost.sum() if options.objective == "moment" else cost.max())
    contiguous = territory_contiguity(problem.adjacency, labels, p)
    violations: list[Violation] = []
    for k, a in zip(*np.nonzero(viol > 1e-9), strict=True):
        violations.append(
            Violation(
                "balance",
                float(viol[k, a]),
                territory=int(k),
                activity=int(a),
                message=(
                    f"territory {k} holds {_amount(values[k, a])} of "
                    f"{problem.activity_names[a]}, {dev[k, a]:+.2%} from its target "
                    f"{_amount(targets[k, a])}; tolerance is "
                    f"±{problem.tolerances[a]:.2%}"
                ),
            )
        )
    if options.contiguity:
        for k in np.flatnonzero(~contiguous):
            violations.append(
                Violation(
                    "contiguity",
                    1.0,
                    territory=int(k),
                    message=f"territory {k} is empty or not one connected piece",
                )
            )
    for unit, terr in sorted((options.locked or {}).items()):
        if labels[unit] != terr:
            violations.append(
                Violation(
                    "lock",
                    1.0,
                    territory=int(terr),
                    units=(int(unit),),
                    message=f"unit {unit} is locked to territory {terr}",
                )
            )
    if centers is not None:
        for k, c in enumerate(centers):
            if c >= 0 and labels[c] != k:
                violations.append(
                    Violation(
                        "center",
                        1.0,
                        territory=k,
                        units=(int(c),),
                        message=f"centre unit {c} is not in territory {k}",
                    )
                )
    if options.current_labels is not None:
        violations.extend(_disruption_violations(problem, options, labels))
    return {
        "values": values,
        "targets": targets,
        "deviations": dev,
        "territory_cost": cost,
        "objective": objective,
        "contiguous": contiguous,
        "imbalance": float(viol.sum()),
        "violations": tuple(violations),
    }


def _disruption_violations(
    problem: DesignProblem, options: DesignOptions, labels: np.ndarray
) -> list[Violation]:
    cur = np.asarray(options.current_labels)
    moved = (cur >= 0) & (labels != cur)
    out: list[Violation] = []
    w = problem.weights
    if options.max_disruption is not None:
        total = w[cur >= 0].sum(axis=0)
        share = np.where(
            total > 0, w[moved].sum(axis=0) / np.where(total > 0, total, 1), 0
        )
        for a in np.flatnonzero(share > options.max_disruption + 1e-9):
            out.append(
                Violation(
                    "disruption",
                    float(share[a] - options.max_disruption),
                    activity=int(a),
                    message=f"{share[a]:.2%} of {problem.activity_names[a]} changes "
                    f"territory; the limit is {options.max_disruption:.2%}",
                )
            )
    if options.max_disruption_per_territory is not None:
        lim = options.max_disruption_per_territory
        for k in range(options.n_territories):
            own = cur == k
            tot = w[own].sum(axis=0)
            left = w[own & moved].sum(axis=0)
            share = np.where(tot > 0, left / np.where(tot > 0, tot, 1), 0)
            for a in np.flatnonzero(share > lim + 1e-9):
                out.append(
                    Violation(
                        "disruption",
                        float(share[a] - lim),
                        territory=k,
                        activity=int(a),
                        message=f"{share[a]:.2%} of territory {k}'s "
                        f"{problem.activity_names[a]} leaves it; the limit is "
                        f"{lim:.2%}",
                    )
                )
    return out


def _amount(v: float) -> str:
    """Format an activity amount for messages: ``3,952,660`` or ``12.5``.

    Examples
    --------
    >>> _amount(3952660.4), _amount(12.5), _amount(0.125)
    ('3,952,660', '12.5', '0.125')
    """
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
