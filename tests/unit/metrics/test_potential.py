"""Potential formula on hand-computed accounts."""

from __future__ import annotations

import numpy as np
import pytest

from territory.metrics import PotentialFormula, account_potential, market_index


def test_market_index_relative_participation() -> None:
    # county A 60/100, county B 40/100: p̄ = 100/200 = 0.5
    # weight 0.5: A = 0.5 + 0.5·1.2 = 1.1, B = 0.5 + 0.5·0.8 = 0.9, unknown = 1
    idx = market_index([100.0, 100.0, np.nan], [60.0, 40.0, 5.0], 0.5)
    assert idx.tolist() == pytest.approx([1.1, 0.9, 1.0])


def test_potential_formula_and_imported_override() -> None:
    f = PotentialFormula(
        revenue_rate=0.01,
        usd_per_employee=100.0,
        industry_factors={"Technology": 2.0},
        default_industry_factor=1.0,
    )
    pot = account_potential(
        f,
        revenue=[1e6, 1e6, np.nan],
        employees=[50, np.nan, np.nan],
        industry=["technology", None, "Other"],
        market=[1.1, 1.0, 0.9],
        imported=[np.nan, 777.0, np.nan],
    )
    # A: 2.0 × (10 000 + 5 000) × 1.1 = 33 000; B imported; C: 10 000 × 0.9
    assert pot.tolist() == pytest.approx([33_000.0, 777.0, 9_000.0])
