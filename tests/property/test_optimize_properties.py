"""Invariants of the design engine on drawn random grids (Hypothesis)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory.optimize import DesignOptions, DesignProblem, design
from territory.optimize.contiguity import territory_contiguity
from territory.optimize.evaluate import territory_costs
from territory.optimize.solve import _heuristic

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def grid(rows: int, cols: int, weights: np.ndarray, tol: float) -> DesignProblem:
    edges = [
        (r * cols + c, r * cols + c + d)
        for r in range(rows)
        for c in range(cols)
        for d in (1, cols)
        if (d == 1 and c + 1 < cols) or (d == cols and r + 1 < rows)
    ]
    coords = np.array([[c, r] for r in range(rows) for c in range(cols)], dtype=float)
    return DesignProblem.from_edges(
        rows * cols, edges, weights, [tol] * weights.shape[1], coords=coords
    )


@st.composite
def instances(draw: st.DrawFn, max_units: int = 16) -> tuple[DesignProblem, int]:
    rows = draw(st.integers(1, 4))
    cols = draw(st.integers(2, 4))
    while rows * cols > max_units:
        cols -= 1
    n = rows * cols
    m = draw(st.integers(1, 2))
    w = np.array(
        draw(st.lists(st.integers(0, 9), min_size=n * m, max_size=n * m)), dtype=float
    ).reshape(n, m)
    w[:, 0] += 1  # the first activity is never all zero
    tol = draw(st.sampled_from([0.1, 0.25, 0.5]))
    p = draw(st.integers(1, min(4, n)))
    return grid(rows, cols, w, tol), p


@SETTINGS
@given(instances())
def test_every_unit_is_assigned_exactly_once(case: tuple[DesignProblem, int]) -> None:
    problem, p = case
    result = design(
        problem, DesignOptions(p, method="heuristic", max_iterations=300, seed=1)
    )
    labels = result.labels
    assert labels.shape == (problem.n_units,)
    assert labels.min() >= 0 and labels.max() < p
    assert set(labels.tolist()) == set(range(p))  # no territory left empty
    np.testing.assert_allclose(result.values.sum(axis=0), problem.weights.sum(axis=0))
    assert result.contiguous.all()
    assert np.all(np.maximum(0, np.abs(result.deviations) - problem.tolerances) >= 0)


@SETTINGS
@given(instances())
def test_moves_keep_contiguity_and_incremental_state_is_exact(
    case: tuple[DesignProblem, int],
) -> None:
    """After every compiled iteration, the live state equals a recomputation."""
    problem, p = case
    options = DesignOptions(p, method="heuristic", max_iterations=120, seed=3)
    seen = []

    def check(state: dict[str, np.ndarray]) -> None:
        labels = state["labels"]
        assert territory_contiguity(problem.adjacency, labels, p).all()
        sums = np.zeros((p, problem.n_activities))
        np.add.at(sums, labels, problem.weights)
        np.testing.assert_allclose(state["sums"], sums, atol=1e-9)
        t = state["targets"]
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(t > 0, np.abs(sums / np.where(t > 0, t, 1) - 1), 0.0)
        viol = np.maximum(0.0, dev - state["tol"][None, :]).sum(axis=1)
        np.testing.assert_allclose(state["viol"], viol, atol=1e-9)
        np.testing.assert_allclose(
            state["cost"], territory_costs(problem, labels, p, "diameter"), atol=1e-9
        )
        seen.append(labels.copy())

    targets = options.targets(problem)
    _heuristic(
        problem,
        options,
        targets,
        problem.tolerances,
        np.ones(problem.n_units, bool),
        time.perf_counter(),
        chunk_size=1,
        check=check,
    )
    assert seen


def brute_force(problem: DesignProblem, p: int) -> float:
    """Smallest max diameter over every balanced contiguous plan (inf if none)."""
    n = problem.n_units
    targets = DesignOptions(p).targets(problem)
    best = np.inf
    for labels in itertools.product(range(p), repeat=n - 1):
        lab = np.array((0, *labels))
        # canonical: territories first appear in order 0, 1, 2, ...
        first = [int(np.argmax(lab == k)) if np.any(lab == k) else n for k in range(p)]
        if first != sorted(first) or first[-1] == n:
            continue
        sums = np.zeros_like(targets)
        np.add.at(sums, lab, problem.weights)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(targets > 0, np.abs(sums / targets - 1), 0.0)
        if np.any(dev > problem.tolerances[None, :] + 1e-9):
            continue
        if not territory_contiguity(problem.adjacency, lab, p).all():
            continue
        best = min(best, float(territory_costs(problem, lab, p).max()))
    return best


@settings(max_examples=12, deadline=None)
@given(instances(max_units=8))
def test_exact_matches_brute_force(case: tuple[DesignProblem, int]) -> None:
    problem, p = case
    p = min(p, 3)
    optimum = brute_force(problem, p)
    exact = design(problem, DesignOptions(p, method="exact", time_limit_s=30))
    heur = design(problem, DesignOptions(p, method="heuristic", max_iterations=500))
    if np.isfinite(optimum):
        assert exact.status == "optimal"
        assert (
            exact.objective == np.float64(optimum)
            or abs(exact.objective - optimum) < 1e-6
        )
        if heur.feasible:
            assert heur.objective >= optimum - 1e-9
    else:
        assert exact.status == "infeasible"
        assert not heur.feasible


@pytest.mark.parametrize(
    ("rows", "cols", "weights", "tol", "p"),
    [
        (2, 5, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3], 0.25, 2),
        (2, 5, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0.2, 2),
        (3, 3, [2, 7, 1, 8, 2, 8, 1, 8, 2], 0.3, 3),
        (1, 9, [1, 2, 3, 4, 5, 4, 3, 2, 1], 0.35, 3),
    ],
)
def test_heuristic_and_exact_reach_the_brute_force_optimum(
    rows: int, cols: int, weights: list[int], tol: float, p: int
) -> None:
    problem = grid(rows, cols, np.array(weights, dtype=float)[:, None], tol)
    optimum = brute_force(problem, p)
    assert np.isfinite(optimum)
    exact = design(problem, DesignOptions(p, method="exact"))
    assert exact.status == "optimal"
    assert exact.objective == pytest.approx(optimum)
    heur = design(problem, DesignOptions(p, method="heuristic", max_iterations=5000))
    assert heur.feasible
    assert heur.objective == pytest.approx(optimum)
