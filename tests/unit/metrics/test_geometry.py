"""Compactness and contiguity on small drawn cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from territory.metrics import count_pieces, diameter_km, inertia_km, polsby_popper
from territory.metrics.compactness import EARTH_RADIUS_KM, haversine_km

KM_PER_DEG = math.pi / 180 * EARTH_RADIUS_KM


def test_haversine_one_degree_of_latitude() -> None:
    assert float(haversine_km(10.0, 20.0, 11.0, 20.0)) == pytest.approx(KM_PER_DEG)


def test_diameter_is_longest_pair_on_the_equator() -> None:
    # territory 0: points at lon 0, 1, 3 (and a middle point off the line)
    lat = [0.0, 0.0, 0.0, 0.1, 5.0]
    lon = [0.0, 1.0, 3.0, 1.5, 5.0]
    d = diameter_km(lat, lon, [0, 0, 0, 0, 1], 2)
    assert d[0] == pytest.approx(3 * KM_PER_DEG)
    assert d[1] == 0.0


def test_inertia_and_polsby_popper() -> None:
    # four points one degree north, south, east, west of (0, 0)
    r = inertia_km([1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [0, 0, 0, 0], 1)
    assert r[0] == pytest.approx(KM_PER_DEG)
    # circle of radius 1: area π, perimeter 2π -> 1
    assert polsby_popper(math.pi, 2 * math.pi)[0] == pytest.approx(1.0)
    assert np.isnan(polsby_popper(1.0, 0.0)[0])


def test_count_pieces_on_3x3_grid() -> None:
    """Rook grid, units numbered row by row::

        0 1 2      labels  A A B
        3 4 5              B A B
        6 7 8              A A B

    A = {0,1,4,6,7} is one piece; B = {2,5,3} has 3 split off -> 2 pieces.
    """
    edges = [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8)]
    edges += [(0, 3), (3, 6), (1, 4), (4, 7), (2, 5), (5, 8)]
    rows = [a for a, b in edges] + [b for a, b in edges]
    cols = [b for a, b in edges] + [a for a, b in edges]
    adj = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(9, 9))
    labels = [0, 0, 1, 1, 0, 1, 0, 0, 1]
    assert count_pieces(adj, labels, 3).tolist() == [1, 2, 0]
