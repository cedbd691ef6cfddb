"""Travel from a rep's home in staffing: sqrt(D² + d²) per visit, clipped."""

from __future__ import annotations

import math

import numpy as np
import pytest

from territory.services.staffing import _home_travel_km


def _travel(home_to_centre: list[list[float]], max_km: float = 300.0) -> np.ndarray:
    # territory 0 (leaf 0): visits 1 at 3 km and 2 at 4 km from its centre;
    # territory 1 is a parent (not a leaf); territory 2 (leaf 1): one visit at 0 km
    return _home_travel_km(
        np.array(home_to_centre, dtype=np.float64),
        t_idx=np.array([0, 0, 2, 1]),
        visits=np.array([1.0, 2.0, 5.0, 9.0]),
        centre_km=np.array([3.0, 4.0, 0.0, 50.0]),
        leaves=np.array([0, 2]),
        max_one_way_km=max_km,
    )


def test_a_rep_at_the_centre_travels_exactly_the_sizing_distance() -> None:
    got = _travel([[0.0, 0.0]])
    assert got.tolist() == [[1 * 3.0 + 2 * 4.0, 0.0]]


def test_a_rep_away_from_the_centre_travels_the_rms_distance_per_visit() -> None:
    got = _travel([[4.0, 10.0]])
    assert got[0, 0] == pytest.approx(1 * 5.0 + 2 * math.sqrt(32.0))
    assert got[0, 1] == pytest.approx(5 * 10.0)


def test_each_visit_is_clipped_at_the_longest_one_way_trip() -> None:
    got = _travel([[1000.0, 250.0]], max_km=300.0)
    assert got[0].tolist() == pytest.approx([3 * 300.0, 5 * 250.0])


def test_no_accounts_means_no_travel() -> None:
    got = _home_travel_km(
        np.array([[5.0]]),
        t_idx=np.array([], dtype=np.int64),
        visits=np.array([]),
        centre_km=np.array([]),
        leaves=np.array([0]),
        max_one_way_km=300.0,
    )
    assert got.tolist() == [[0.0]]
