"""Workload on hand-computed accounts."""

from __future__ import annotations

import numpy as np
import pytest

from territory.errors import InputError
from territory.metrics import (
    Segment,
    SegmentRule,
    TravelPolicy,
    WorkloadModel,
    account_hours,
    segment_of,
)

MODEL = WorkloadModel(
    segments=(
        Segment("key", 12, 60, 0.5, SegmentRule(min_revenue=1e6)),
        Segment("health", 6, 30, 1.0, SegmentRule(industries=("Healthcare",))),
        Segment("rest", 2, 30, 0.0),
    ),
    travel=TravelPolicy(speed_kmh=50, round_trip=True, max_one_way_km=100),
)


def test_segment_rules_first_match_wins() -> None:
    seg = segment_of(
        MODEL,
        revenue=[2e6, 2e6, 5e5, np.nan],
        employees=[0, 0, 0, 0],
        industry=["Retail", "healthcare", " HEALTHCARE ", None],
        potential=[0, 0, 0, 0],
    )
    assert seg.tolist() == [0, 0, 1, 2]


def test_account_hours_calls_plus_travel() -> None:
    calls, travel = account_hours(MODEL, [0, 1, 2, 1], [25.0, 10.0, 80.0, 500.0])
    # key: 12 calls × 60 min = 12 h; 6 visits × 50 km round trip ÷ 50 km/h = 6 h
    # health: 6 × 30 min = 3 h; 6 visits × 20 km ÷ 50 = 2.4 h
    # rest: 2 × 30 min = 1 h; no visits
    # health far away: one-way capped at 100 km -> 6 × 200 ÷ 50 = 24 h
    assert calls.tolist() == [12.0, 3.0, 1.0, 3.0]
    assert travel.tolist() == pytest.approx([6.0, 2.4, 0.0, 24.0])


def test_last_segment_must_be_catch_all() -> None:
    with pytest.raises(InputError, match="last segment") as exc:
        WorkloadModel(segments=(Segment("k", 1, 1, 0, SegmentRule(min_revenue=1)),))
    assert exc.value.code == "workload_catch_all"
