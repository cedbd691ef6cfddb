"""Pieces of the map behind one unit that no contiguous plan can balance.

The map, 8 units, two territories, both activities within ±10 %::

    1 --- 2
    |     |
    0 --- 3 --- 4 --- 5 --- 6 --- 7

Unit 3 alone joins the square's corner units 0, 1, 2 to the rest of the
map, and units 4, 5 and 6 each cut off the path beyond them.

Weights (calls, revenue)::

    unit   0     1     2     3     4     5     6     7     total  target
    calls  5     5     1     1     2     1     2     2     19     19/2
    rev    4     5     5     2     2     1     3     5     27     27/2

Calls must lie in [8.55, 10.45], revenue in [12.15, 14.85]. Units 0, 1, 2
hold calls 11 (11/9.5 = 115.8 %) and revenue 14 (103.7 %): with unit 3 they
are 12 calls, too many for one territory, so one territory lies inside them
and the rest joins unit 3's. All three are too many calls ({0, 1, 2}: 11);
every connected pair is short of revenue ({0, 1}: 9, {1, 2}: 10) or calls
({1, 2}: 6). So no contiguous plan exists; the brute force below agrees.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse import csgraph

from territory.optimize.pieces import (
    articulation_units,
    diagnose_pieces,
    find_unbalanceable_piece,
)
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.solve import design

EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (3, 4), (4, 5), (5, 6), (6, 7)]
XY = [[0, 0], [0, 1], [1, 1], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0]]
STUCK = [[5, 4], [5, 5], [1, 5], [1, 2], [2, 2], [1, 1], [2, 3], [2, 5]]
# unit 0 with 3 calls instead of 5: {0, 1, 2} | {3, ..., 7} is balanced
FREE = [[3, 4], [5, 5], [1, 5], [1, 2], [2, 2], [1, 1], [2, 3], [2, 5]]


def _adjacency(n: int, edges: list[tuple[int, int]]) -> sp.csr_array:
    rows = [a for a, _ in edges] + [b for _, b in edges]
    cols = [b for _, b in edges] + [a for a, _ in edges]
    return sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def _problem(weights: list[list[int]]) -> DesignProblem:
    return DesignProblem(
        adjacency=_adjacency(8, EDGES),
        weights=np.array(weights, dtype=float),
        tolerances=np.array([0.1, 0.1]),
        coords=np.array(XY, dtype=float),
        activity_names=("calls", "revenue"),
    )


def _balanced_plans(problem: DesignProblem) -> list[tuple[int, ...]]:
    """Every split into two connected territories within the tolerances."""
    n = problem.n_units
    adj = sp.csr_array(problem.adjacency)
    target = problem.weights.sum(axis=0) / 2
    plans = []
    for size in range(1, n):
        for side in itertools.combinations(range(n), size):
            if 0 not in side:
                continue
            other = [u for u in range(n) if u not in side]
            ok = True
            for part in (list(side), other):
                sub = adj[part][:, part]
                if csgraph.connected_components(sub, directed=False)[0] != 1:
                    ok = False
                    break
                dev = np.abs(problem.weights[part].sum(axis=0) / target - 1)
                if np.any(dev > problem.tolerances + 1e-12):
                    ok = False
                    break
            if ok:
                plans.append(side)
    return plans


def _brute_articulation(adj: sp.csr_array) -> list[int]:
    """Units whose removal leaves more components than the map had."""
    n = adj.shape[0]
    before, _ = csgraph.connected_components(adj, directed=False)
    found = []
    for v in range(n):
        keep = [u for u in range(n) if u != v]
        after, _ = csgraph.connected_components(adj[keep][:, keep], directed=False)
        if after > before:
            found.append(v)
    return found


@pytest.mark.parametrize(
    ("n", "edges"),
    [
        (8, EDGES),
        (3, [(0, 1), (1, 2)]),
        (4, [(0, 1), (1, 2), (2, 3), (3, 0)]),
        (5, [(0, 1), (0, 2), (0, 3), (0, 4)]),
        (6, [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5)]),
    ],
)
def test_articulation_units_match_brute_force(
    n: int, edges: list[tuple[int, int]]
) -> None:
    adj = _adjacency(n, edges)
    assert articulation_units(adj).tolist() == _brute_articulation(adj)


def test_unbalanceable_piece_found_when_no_contiguous_plan_exists() -> None:
    problem = _problem(STUCK)
    options = DesignOptions(n_territories=2, method="heuristic")
    assert _balanced_plans(problem) == []
    piece = find_unbalanceable_piece(problem, options, options.targets(problem))
    assert piece is not None
    assert piece.unit == 3
    assert piece.units == (0, 1, 2)
    assert piece.shares == pytest.approx((11 / 9.5, 14 / 13.5))
    assert piece.whole == (1,)


def test_no_piece_claimed_when_a_contiguous_plan_exists() -> None:
    problem = _problem(FREE)
    options = DesignOptions(n_territories=2, method="heuristic")
    assert (0, 1, 2) in _balanced_plans(problem)
    assert find_unbalanceable_piece(problem, options, options.targets(problem)) is None


def test_no_piece_claimed_without_contiguity_or_with_locks() -> None:
    problem = _problem(STUCK)
    for options in (
        DesignOptions(n_territories=2, method="heuristic", contiguity=False),
        DesignOptions(n_territories=2, method="heuristic", locked={7: 1}),
    ):
        assert (
            find_unbalanceable_piece(problem, options, options.targets(problem)) is None
        )


def test_diagnose_pieces_names_the_cutting_unit() -> None:
    problem = _problem(STUCK)
    options = DesignOptions(n_territories=2, method="heuristic")
    diag = diagnose_pieces(problem, options, options.targets(problem))
    assert diag is not None
    assert diag.cut_off is not None
    assert diag.as_dict()["cut_off"] == {
        "unit": 3,
        "units": [0, 1, 2],
        "shares": [pytest.approx(11 / 9.5), pytest.approx(14 / 13.5)],
        "whole": [1],
    }
    assert "unit 3 alone joins 3 units" in diag.message
    assert "calls 115.8%, revenue 103.7%" in diag.message
    assert "1 whole territory, with the rest joining the territory of unit 3" in (
        diag.message
    )


def test_design_reports_cut_off_piece_as_proven_infeasible() -> None:
    problem = _problem(STUCK)
    options = DesignOptions(
        n_territories=2, method="heuristic", max_iterations=300, time_limit_s=30.0
    )
    result = design(problem, options)
    assert result.status == "infeasible"
    assert result.diagnosis is not None
    assert result.diagnosis.cut_off is not None
    assert result.diagnosis.cut_off.unit == 3
    assert bool(result.contiguous.all())


def test_design_of_balanced_variant_is_feasible() -> None:
    problem = _problem(FREE)
    options = DesignOptions(
        n_territories=2, method="heuristic", max_iterations=300, time_limit_s=30.0
    )
    result = design(problem, options)
    assert result.status == "feasible"
    assert result.diagnosis is None


def test_piece_ruled_out_by_its_totals_alone() -> None:
    """Units 0, 1, 2 with revenue 3 each: 9 of a target 22/2 = 11, short of
    9.9 for a territory of their own; their 11 calls and unit 3's one are
    more than 10.45 for unit 3's territory. No count needs the MIP."""
    weights = [[5, 3], [5, 3], [1, 3], [1, 2], [2, 2], [1, 1], [2, 3], [2, 5]]
    problem = _problem(weights)
    options = DesignOptions(n_territories=2, method="heuristic")
    assert _balanced_plans(problem) == []
    diag = diagnose_pieces(problem, options, options.targets(problem))
    assert diag is not None
    assert diag.cut_off is not None
    assert (diag.cut_off.unit, diag.cut_off.units, diag.cut_off.whole) == (
        3,
        (0, 1, 2),
        (),
    )
    assert "No number of whole territories matches their totals" in diag.message
