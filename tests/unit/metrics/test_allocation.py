"""Owner assignment optimum on a 3×3 matrix, and top-down quota allocation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from territory.errors import InputError
from territory.metrics import allocate_quota, assign_owners, build_hierarchy

# reps (rows) × territories (columns)
COST = [[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]]


def test_assignment_optimum_3x3_matches_brute_force() -> None:
    # By hand: rep0→T1 (1) + rep1→T0 (2) + rep2→T2 (2) = 5; every other
    # permutation costs more (e.g. rep1→T1 forces 4+2+... ≥ 6).
    best = min(
        sum(COST[r][t] for r, t in enumerate(p))
        for p in itertools.permutations(range(3))
    )
    res = assign_owners(COST)
    assert best == 5.0
    assert res.cost == 5.0
    assert res.owner.tolist() == [1, 0, 2]
    assert res.vacant.size == 0 and res.surplus.size == 0


def test_assignment_respects_forbidden_and_locked_pairs() -> None:
    allowed = np.ones((3, 3), dtype=bool)
    allowed[1, 0] = False  # rep1 lacks capacity for T0
    res = assign_owners(COST, allowed, locked=[(2, 1)])
    # rep2 locked to T1 (2); rep0/rep1 over T0/T2 with rep1→T0 forbidden:
    # rep0→T0 (4) + rep1→T2 (5) = 9
    assert res.owner.tolist() == [0, 2, 1]
    assert res.cost == 11.0


def test_assignment_reports_vacancy_and_surplus() -> None:
    # two reps, three territories: one territory is vacant
    res = assign_owners([[1.0, 9.0, 9.0], [9.0, 1.0, 9.0]])
    assert res.owner.tolist() == [0, 1, -1]
    assert res.vacant.tolist() == [2]
    # three reps, one territory: two surplus
    res = assign_owners([[5.0], [1.0], [3.0]])
    assert res.owner.tolist() == [1]
    assert res.surplus.tolist() == [0, 2]
    # a forbidden-only territory is vacant rather than badly staffed
    res = assign_owners([[1.0, 1.0]], allowed=[[True, False]])
    assert res.owner.tolist() == [0, -1]


def test_locked_pairs_must_not_collide() -> None:
    with pytest.raises(InputError, match="at most once") as exc:
        assign_owners(COST, locked=[(0, 1), (0, 2)])
    assert exc.value.code == "staff_lock"


def test_quota_allocation_top_down_blend() -> None:
    """Region R with districts D1 (T1, T2) and D2 (T3).

    own potential: T1 60, T2 20, T3 20  -> D1 80, D2 20, R 100
    own history:   T1 10, T2 30, T3 60  -> D1 40, D2 60, R 100
    blend 0.75, total 1000:
      D1 = 1000 × (0.75·0.8 + 0.25·0.4) = 700;  D2 = 300
      T1 = 700 × (0.75·60/80 + 0.25·10/40) = 700 × 0.625 = 437.5; T2 = 262.5
      T3 = 300 (only child of D2)
    """
    h = build_hierarchy([-1, 0, 0, 1, 1, 2])
    pot = [0, 0, 0, 60, 20, 20]
    hist = [0, 0, 0, 10, 30, 60]
    q = allocate_quota(1000.0, h, pot, hist, 0.75)
    assert q.tolist() == pytest.approx([1000, 700, 300, 437.5, 262.5, 300])


def test_quota_falls_back_when_a_share_is_undefined() -> None:
    h = build_hierarchy([-1, -1, -1])
    # no history at all: potential alone; then neither: equal split
    assert allocate_quota(90.0, h, [1, 2, 0], [0, 0, 0], 0.5).tolist() == [
        30.0,
        60.0,
        0.0,
    ]
    assert allocate_quota(90.0, h, [0, 0, 0], [0, 0, 0], 0.5).tolist() == [
        30.0,
        30.0,
        30.0,
    ]
    with pytest.raises(InputError, match="Blend"):
        allocate_quota(1.0, h, [1, 1, 1], [1, 1, 1], 1.5)
