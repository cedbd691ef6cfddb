"""Attainment, coverage, penetration and utilisation, undefined cases included."""

from __future__ import annotations

import math

from territory.metrics import (
    attainment,
    penetration,
    pipeline_coverage,
    quota_met,
    utilisation,
)


def test_attainment_with_zero_quota_is_nan_not_inf() -> None:
    a = attainment([120.0, 30.0, 30.0], [100.0, 0.0, -5.0])
    assert a[0] == 1.2
    assert math.isnan(a[1]) and math.isnan(a[2])


def test_coverage_with_quota_already_met_is_nan_and_flagged_met() -> None:
    # quota 100: sales 40 leave 60 to go, pipeline 90 covers it 1.5 times
    cov = pipeline_coverage([90.0, 90.0, 90.0], [100.0, 100.0, 0.0], [40.0, 100.0, 0.0])
    assert cov[0] == 1.5
    assert math.isnan(cov[1]) and math.isnan(cov[2])
    assert quota_met([40.0, 100.0, 0.0], [100.0, 100.0, 0.0]).tolist() == [
        False,
        True,
        False,
    ]


def test_penetration_and_utilisation() -> None:
    assert penetration([25.0, 5.0], [100.0, 0.0])[0] == 0.25
    assert math.isnan(penetration([25.0, 5.0], [100.0, 0.0])[1])
    assert utilisation([2000.0], [1600.0])[0] == 1.25
