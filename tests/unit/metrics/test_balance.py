"""Balance indices on hand-computed values."""

from __future__ import annotations

import math

import pytest

from territory.metrics import (
    balance_indices,
    coefficient_of_variation,
    gini,
    max_min_ratio,
)


def test_cv_uses_population_std() -> None:
    # values 1, 2, 3, 6: mean 3, deviations -2,-1,0,3 -> variance 14/4
    assert coefficient_of_variation([1, 2, 3, 6]) == pytest.approx(
        math.sqrt(14 / 4) / 3
    )


def test_cv_undefined_when_mean_zero_or_empty() -> None:
    assert coefficient_of_variation([0.0, 0.0]) is None
    assert coefficient_of_variation([]) is None


def test_gini_mean_difference_form() -> None:
    # 1, 2, 3, 6: Σ_i Σ_j |xi − xj| = 2·(1+2+5+1+4+3) = 32; 2·n²·mean = 2·16·3 = 96
    assert gini([1, 2, 3, 6]) == pytest.approx(32 / 96)
    assert gini([5, 5, 5]) == pytest.approx(0.0)
    # all in one territory out of 4: Σ|xi−xj| = 2·3·4 = 24; 2·16·1 = 32
    assert gini([0, 0, 0, 4]) == pytest.approx(24 / 32)
    assert gini([0, 0]) is None


def test_max_min_undefined_with_zero_minimum() -> None:
    assert max_min_ratio([2, 3, 6]) == pytest.approx(3.0)
    assert max_min_ratio([0, 3, 6]) is None
    b = balance_indices("sales", [0.0, 3.0, 6.0])
    assert b.max_min is None
    assert b.cv == pytest.approx(math.sqrt(6) / 3)  # variance (9+0+9)/3 = 6
    assert (b.n, b.mean, b.minimum, b.maximum) == (3, 3.0, 0.0, 6.0)


def test_indices_ignore_nan() -> None:
    assert max_min_ratio([2.0, float("nan"), 4.0]) == pytest.approx(2.0)
