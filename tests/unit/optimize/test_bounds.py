"""The proven floor under the max diameter (:mod:`territory.optimize.bounds`).

Small maps where the floor is derived by hand or by listing every set of
units, and plans drawn by the engine that must never beat it.
"""

from __future__ import annotations

import itertools

import numpy as np
from optimize_grids import grid_problem

from territory.optimize import DesignOptions, DesignProblem, design
from territory.optimize.bounds import diameter_lower_bound
from territory.optimize.evaluate import territory_costs


def _listed_floor(problem: DesignProblem, floor: np.ndarray) -> float:
    """Largest over units of the narrowest set holding the unit that reaches
    ``floor`` on every activity, by listing every set of units."""
    n = problem.n_units
    xy = problem.coords
    assert xy is not None
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    narrowest = np.full(n, np.inf)
    for size in range(1, n + 1):
        for chosen in itertools.combinations(range(n), size):
            c = list(chosen)
            if np.all(problem.weights[c].sum(axis=0) >= floor - 1e-12):
                width = float(dist[np.ix_(c, c)].max())
                narrowest[c] = np.minimum(narrowest[c], width)
    return float(narrowest.max())


def test_line_of_six_needs_three_in_a_row() -> None:
    """Units 0 - 1 - 2 - 3 - 4 - 5 at x = 0..5, weight 1 each, 2 territories
    of 3 exactly: a territory holding unit 0 spans at least 0..2 (2 wide)."""
    problem = grid_problem(1, 6)
    got = diameter_lower_bound(problem, np.full((2, 1), 3.0), np.array([0.0]))
    assert 2.0 * (1 - 1e-3) <= got.value <= 2.0
    assert got.unit in (0, 5)
    assert got.radius == 2.0


def test_centre_unit_needs_both_ends() -> None:
    """Units at x = -2, -1, 0, 1, 2 plus a light unit at (0, 3); the weight
    sits on the ends (1 each) and the top unit (1); the floor is 2.

    The ends are 4 apart; an end and the top unit sqrt(13) ~ 3.61 apart, so
    the top unit's territory is at least 3.61 wide, and every unit's at
    least 3.61 (the top unit's radius bound is 3.61 too, the middle unit's
    only 2, it reaches both ends)."""
    coords = np.array([[-2, 0], [-1, 0], [0, 0], [1, 0], [2, 0], [0, 3]], float)
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (2, 5)]
    problem = DesignProblem.from_edges(
        6, edges, np.array([1.0, 0, 0, 0, 1, 1]), 0.0, coords=coords
    )
    targets = np.full((1, 1), 2.0)
    got = diameter_lower_bound(problem, targets, np.array([0.0]), partners=0)
    want = float(np.sqrt(13.0))
    assert want * (1 - 1e-3) <= got.value <= want
    # with pairs: the ends share a territory (4 wide) or sit apart in two
    # sets of 2 each, more than the map's 3; the one plan is 4 wide
    paired = diameter_lower_bound(problem, targets, np.array([0.0]))
    assert 4.0 * (1 - 1e-3) <= paired.value <= 4.0


def _best_plan_width(problem: DesignProblem, targets: np.ndarray) -> float:
    """Narrowest widest territory over every assignment of the units to the
    territories within the tolerances (contiguity left out, as the bound)."""
    n, p = problem.n_units, targets.shape[0]
    xy = problem.coords
    assert xy is not None
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    plans = np.array(list(itertools.product(range(p), repeat=n)))
    i, j = np.triu_indices(n, 1)
    width = np.zeros(len(plans))
    ok = np.ones(len(plans), dtype=bool)
    for k in range(p):
        inside = plans == k
        sums = inside.astype(float) @ problem.weights
        ok &= np.all(np.abs(sums / targets[k] - 1) <= problem.tolerances + 1e-12, 1)
        width = np.maximum(width, ((inside[:, i] & inside[:, j]) * dist[i, j]).max(1))
    return float(width[ok].min())


def test_matches_every_set_listed_on_random_maps() -> None:
    """Nine units at random points, two activities, three territories: with
    every unit probed and no pairs the bound is the listed floor (to the
    bisection's resolution); with pairs it may rise, never above the
    narrowest plan found by trying every assignment."""
    rng = np.random.default_rng(7)
    for trial in range(4):
        coords = rng.uniform(0, 10, size=(9, 2))
        weights = rng.uniform(0.2, 1, size=(9, 2)) ** 2
        problem = DesignProblem.from_edges(
            9, [(i, i + 1) for i in range(8)], weights, [0.3, 0.4], coords=coords
        )
        targets = np.tile(weights.sum(axis=0) / 3, (3, 1))
        floor = targets.min(axis=0) * (1 - problem.tolerances)
        want = _listed_floor(problem, floor)
        alone = diameter_lower_bound(
            problem, targets, problem.tolerances, candidates=9, partners=0
        )
        assert want * (1 - 2e-4) <= alone.value <= want, trial
        assert alone.radius <= alone.value
        paired = diameter_lower_bound(
            problem, targets, problem.tolerances, candidates=9
        )
        assert alone.value <= paired.value <= _best_plan_width(problem, targets), trial


def test_a_pair_lifts_the_floor() -> None:
    """Two light units at x = 0 and x = 2 either side of the only heavy unit
    near them (x = 1, weight 2), another heavy unit far off (x = 6); two
    territories of 2 exactly.

    Alone, each light unit joins the near heavy one: 1 wide. Together they
    make a territory 2 wide; apart, one of them must go to x = 6 (4 wide).
    So every plan is at least 2 wide ({0, 1, 2} and {6}), the pair proves it.
    """
    coords = np.array([[0, 0], [1, 0], [2, 0], [6, 0]], float)
    problem = DesignProblem.from_edges(
        4, [(0, 1), (1, 2), (2, 3)], np.array([0.0, 2, 0, 2]), 0.0, coords=coords
    )
    targets = np.full((2, 1), 2.0)
    alone = diameter_lower_bound(problem, targets, np.array([0.0]), partners=0)
    assert 1.0 * (1 - 1e-3) <= alone.value <= 1.0
    paired = diameter_lower_bound(problem, targets, np.array([0.0]))
    assert 2.0 * (1 - 1e-3) <= paired.value <= 2.0
    assert {paired.unit, paired.partner} == {0, 2}


def test_no_plan_of_the_engine_beats_it() -> None:
    """A 5x6 grid with heavier units in one corner, 5 territories within 10 %:
    the engine's plan is feasible and its widest territory is at least the
    bound."""
    weights = np.ones(30)
    weights[[0, 1, 6, 7]] = 4.0
    problem = grid_problem(5, 6, weights, 0.1)
    options = DesignOptions(5, method="heuristic", max_iterations=3000, seed=3)
    res = design(problem, options)
    assert res.status == "feasible"
    got = diameter_lower_bound(problem, options.targets(problem), problem.tolerances)
    widest = float(territory_costs(problem, res.labels, 5).max())
    assert 0 < got.value <= widest + 1e-9


def test_inactive_units_and_a_short_map() -> None:
    """Line of six, weight 1 each: with units 4 and 5 inactive and a floor of
    2, the pair 0 - 1 is the narrowest (1 wide); all active and a floor of
    4, four in a row (3 wide); a floor of 7 over a map of 6 has no plan."""
    problem = grid_problem(1, 6)
    active = np.array([True, True, True, True, False, False])
    got = diameter_lower_bound(
        problem, np.full((2, 1), 2.0), np.array([0.0]), active=active
    )
    assert 1.0 * (1 - 1e-3) <= got.value <= 1.0
    four = diameter_lower_bound(
        problem, np.full((2, 1), 4.0), np.array([0.0]), partners=0
    )
    assert 3.0 * (1 - 1e-3) <= four.value <= 3.0
    short = diameter_lower_bound(problem, np.full((2, 1), 7.0), np.array([0.0]))
    assert short.value == np.inf
