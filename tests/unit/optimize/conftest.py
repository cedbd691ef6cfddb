"""Drawn grids for the design engine tests.

Every grid is drawn in its docstring with unit indices; weights are listed
in full so that the expected values can be derived by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from optimize_grids import grid_problem

from territory.optimize import DesignProblem


@pytest.fixture
def grid_3x3() -> DesignProblem:
    """3x3 grid, every weight 1, tolerance 0.

    ::

        0 1 2
        3 4 5
        6 7 8
    """
    return grid_problem(3, 3)


@pytest.fixture
def grid_4x5() -> DesignProblem:
    """4x5 grid with two activities, tolerance 0.10 on both.

    ::

         0  1  2  3  4
         5  6  7  8  9
        10 11 12 13 14
        15 16 17 18 19

    activity 0 is 1 everywhere (total 20); activity 1 is the column index + 1
    (1 2 3 4 5 per row, total 60).
    """
    w = np.array([[1.0, c + 1.0] for _r in range(4) for c in range(5)])
    return grid_problem(4, 5, w, [0.10, 0.10])
