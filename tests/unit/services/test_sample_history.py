"""Sample sales and pipeline are drawn shares of potential, the same per seed."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from territory.services.sample_history import (
    CUSTOMER_SHARE,
    OPEN_STAGES,
    PIPELINE_CAP,
    SAMPLE_AS_OF,
    SHARE_CAP,
    draw_opportunities,
    draw_sales,
    history_periods,
)

# 4,000 accounts with potentials spread over four orders of magnitude.
POTENTIAL = np.geomspace(100.0, 1_000_000.0, 4_000)


def _yearly(
    account: np.ndarray, period: list[str], amount: np.ndarray, year: str
) -> np.ndarray:
    in_year = np.array([p.startswith(year) for p in period])
    return np.bincount(
        account[in_year], weights=amount[in_year], minlength=len(POTENTIAL)
    )


@pytest.mark.parametrize(
    ("as_of", "year", "expected"),
    [
        (date(2026, 12, 3), 2025, ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]),
        (
            date(2026, 12, 3),
            2026,
            ["2026-Q1", "2026-Q2", "2026-Q3", "2026-10", "2026-11"],
        ),
        (date(2026, 1, 15), 2026, []),
        (date(2026, 4, 1), 2026, ["2026-Q1"]),
        (date(2026, 5, 31), 2026, ["2026-Q1", "2026-04"]),
        (date(2026, 12, 3), 2027, []),
    ],
)
def test_history_periods_are_closed_quarters_then_closed_months(
    as_of: date, year: int, expected: list[str]
) -> None:
    assert [p for p, _ in history_periods(as_of, year)] == expected


def test_sales_are_the_same_for_a_seed_and_differ_for_another() -> None:
    a = draw_sales(POTENTIAL, np.random.default_rng(3))
    b = draw_sales(POTENTIAL, np.random.default_rng(3))
    c = draw_sales(POTENTIAL, np.random.default_rng(4))
    assert np.array_equal(a.account, b.account)
    assert a.period == b.period
    assert np.array_equal(a.amount, b.amount)
    assert not np.array_equal(a.amount[:100], c.amount[:100])


def test_sales_stay_a_plausible_share_of_potential() -> None:
    s = draw_sales(POTENTIAL, np.random.default_rng(7))
    y25 = _yearly(s.account, s.period, s.amount, "2025")
    y26 = _yearly(s.account, s.period, s.amount, "2026")
    customers = y25 > 0
    # About CUSTOMER_SHARE (65 %) of accounts buy; the others have no rows.
    assert customers.mean() == pytest.approx(CUSTOMER_SHARE, abs=0.03)
    assert set(np.unique(s.account)) == set(np.flatnonzero(s.is_customer))
    # A customer's share of potential: Beta(2, 4), median ≈ 0.31, never
    # above SHARE_CAP in any year.
    pen25 = y25[customers] / POTENTIAL[customers]
    assert 0.25 < np.median(pen25) < 0.38
    assert pen25.max() <= SHARE_CAP
    assert (y26 / POTENTIAL).max() <= SHARE_CAP
    # Most customers sit between 10 % and 60 % of their potential, and
    # shares vary from account to account.
    assert np.mean((pen25 > 0.10) & (pen25 < 0.60)) > 0.8
    assert np.std(pen25) / np.mean(pen25) > 0.3
    # Penetration over all accounts (prospects included) is 15-30 %.
    assert 0.15 < y25.sum() / POTENTIAL.sum() < 0.30


def test_sales_grow_modestly_and_2026_stops_at_november() -> None:
    s = draw_sales(POTENTIAL, np.random.default_rng(7))
    assert sorted(set(s.period)) == [
        "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4",
        "2026-10", "2026-11", "2026-Q1", "2026-Q2", "2026-Q3",
    ]  # fmt: skip
    period = np.array(s.period)

    def q1_to_q3(year: str) -> float:
        quarters = [f"{year}-Q{q}" for q in (1, 2, 3)]
        return float(s.amount[np.isin(period, quarters)].sum())

    # January-September 2026 against the same quarters of 2025: about +6 %.
    assert 1.0 < q1_to_q3("2026") / q1_to_q3("2025") < 1.12


def test_open_pipeline_stays_within_potential_and_closes_after_as_of() -> None:
    rng = np.random.default_rng(7)
    s = draw_sales(POTENTIAL, rng)
    o = draw_opportunities(POTENTIAL, s.is_customer, rng)
    pipe = np.bincount(o.account, weights=o.amount, minlength=len(POTENTIAL))
    assert (pipe <= PIPELINE_CAP * POTENTIAL).all()
    assert (o.amount >= 1).all()
    assert np.array_equal(o.amount, np.floor(o.amount))
    # Open pipeline is about half of potential, twice a year's sales or more.
    y25 = _yearly(s.account, s.period, s.amount, "2025")
    assert 0.4 < pipe.sum() / POTENTIAL.sum() < 0.8
    assert pipe.sum() > 2 * y25.sum()
    # Customers have more open opportunities than prospects.
    n_opp = np.bincount(o.account, minlength=len(POTENTIAL))
    assert n_opp[s.is_customer].mean() > 2 * n_opp[~s.is_customer].mean()
    # Close dates: after the as-of day; the last stage within 90 days.
    days = np.array([(d - SAMPLE_AS_OF).days for d in o.close_date])
    assert days.min() >= 1
    last = np.array([st == OPEN_STAGES[-1] for st in o.stage])
    assert days[last].max() <= 90
    assert days.max() <= 90 + 45 * (len(OPEN_STAGES) - 1)
