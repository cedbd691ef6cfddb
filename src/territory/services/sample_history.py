"""Sample sales history and open opportunities drawn from account potential.

The sample figures hang together with the product's own potential formula
(``territory.metrics.potential``): an account's yearly sales are a drawn
share of its potential (its "share of wallet"), and its open pipeline is a
few opportunities, each a drawn share of that potential. The rules, in plain
words, are in docs/data-sources.md ("Sample accounts").

The sample stands on ``SAMPLE_AS_OF`` (3 December 2026): 2025 is complete,
2026 holds the months closed so far (January to November). Each year is
split over its closed quarters (``2025-Q1``), then the closed months of the
open quarter (``2026-10``, ``2026-11``); these roll up into the year in
metrics and quotas. The month not yet closed is drawn too, and left out, so
a year's booked rows never exceed its drawn total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

__all__ = [
    "CUSTOMER_SHARE",
    "HISTORY_YEARS",
    "OPEN_STAGES",
    "PIPELINE_CAP",
    "SAMPLE_AS_OF",
    "SHARE_CAP",
    "SampleOpportunities",
    "SampleSales",
    "draw_opportunities",
    "draw_sales",
    "history_periods",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The day the sample stands on: history up to the last closed month before it.
SAMPLE_AS_OF = date(2026, 12, 3)
#: Years of sample sales history (the last one up to ``SAMPLE_AS_OF``).
HISTORY_YEARS: tuple[int, ...] = (2025, 2026)
#: Share of accounts that are customers (have sales); the rest are prospects.
CUSTOMER_SHARE = 0.65
#: A customer's yearly share of potential: Beta(a, b), mean a / (a + b) = 1/3.
_SHARE_BETA = (2.0, 4.0)
#: A year's sales never exceed this share of the account's potential.
SHARE_CAP = 0.8
#: Year-on-year growth of a customer's sales: normal, clipped to the range.
_GROWTH_MEAN, _GROWTH_SD, _GROWTH_RANGE = 0.06, 0.08, (-0.25, 0.40)
#: Dirichlet concentration per month: how evenly a year spreads over months.
_MONTH_ALPHA = 8.0
#: Mean open opportunities per customer and per prospect (Poisson).
_OPPS_PER_CUSTOMER, _OPPS_PER_PROSPECT = 2.0, 0.8
#: One opportunity's amount as a share of potential: Beta(a, b), mean 0.4.
_OPP_BETA = (2.0, 3.0)
#: An account's open pipeline never exceeds this multiple of its potential.
PIPELINE_CAP = 1.0
#: Open stages, earliest first; a later stage closes sooner.
OPEN_STAGES: tuple[str, ...] = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
#: Close dates fall 1 .. 90 + 45 × (stages still ahead) days after ``as_of``.
_CLOSE_DAYS, _CLOSE_DAYS_PER_STAGE = 90, 45


@dataclass(frozen=True, slots=True)
class SampleSales:
    """Sales-history rows: ``account`` indexes the accounts, one row each."""

    account: IntArray
    period: list[str]
    amount: FloatArray
    is_customer: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class SampleOpportunities:
    """Open opportunities: ``account`` indexes the accounts, one row each."""

    account: IntArray
    amount: FloatArray
    stage: list[str]
    close_date: list[date]


def history_periods(as_of: date, year: int) -> list[tuple[str, int]]:
    """Return the closed periods of ``year`` before ``as_of`` and their months.

    Whole quarters are one period each; the closed months of a quarter still
    open are one period each. A year already over is four quarters.

    Examples
    --------
    >>> history_periods(date(2026, 12, 3), 2026)[-3:]
    [('2026-Q3', 3), ('2026-10', 1), ('2026-11', 1)]
    >>> len(history_periods(date(2026, 12, 3), 2025))
    4
    """
    # Months of ``year`` closed before ``as_of``.
    closed = min(12, max(0, 12 * (as_of.year - year) + as_of.month - 1))
    out = [(f"{year}-Q{q + 1}", 3) for q in range(closed // 3)]
    out += [(f"{year}-{m:02d}", 1) for m in range(closed // 3 * 3 + 1, closed + 1)]
    return out


def draw_sales(
    potential: FloatArray, rng: np.random.Generator, as_of: date = SAMPLE_AS_OF
) -> SampleSales:
    """Draw sales-history rows for accounts with ``potential`` (USD, ``(n,)``).

    About ``CUSTOMER_SHARE`` of the accounts are customers. A customer's
    first-year share of potential is Beta-distributed, each later year grows
    by a drawn rate, and no year exceeds ``SHARE_CAP`` × potential. A year's
    total is spread over its months (Dirichlet) and booked for the closed
    periods only, rounded down to cents; rows rounding to 0 are left out.
    """
    n = len(potential)
    is_customer = rng.random(n) < CUSTOMER_SHARE
    cust = np.flatnonzero(is_customer)
    share = np.empty((len(cust), len(HISTORY_YEARS)), dtype=np.float64)
    share[:, 0] = rng.beta(*_SHARE_BETA, size=len(cust))
    for y in range(1, len(HISTORY_YEARS)):
        growth = np.clip(
            rng.normal(_GROWTH_MEAN, _GROWTH_SD, size=len(cust)), *_GROWTH_RANGE
        )
        share[:, y] = share[:, y - 1] * (1.0 + growth)
    yearly = np.minimum(share, SHARE_CAP) * potential[cust, None]
    accounts: list[IntArray] = []
    periods: list[str] = []
    amounts: list[FloatArray] = []
    for y, year in enumerate(HISTORY_YEARS):
        parts = history_periods(as_of, year)
        months = [m for _, m in parts]
        open_months = 12 - sum(months)
        shape = _MONTH_ALPHA * np.array(
            months + ([open_months] if open_months else []), dtype=np.float64
        )
        weights = rng.gamma(shape, size=(len(cust), len(shape)))
        weights /= weights.sum(axis=1, keepdims=True)
        booked = np.floor(yearly[:, y, None] * weights[:, : len(parts)] * 100) / 100
        for k, (label, _) in enumerate(parts):
            keep = booked[:, k] > 0
            accounts.append(cust[keep])
            periods += [label] * int(keep.sum())
            amounts.append(booked[keep, k])
    account = np.concatenate(accounts) if accounts else np.zeros(0, np.int64)
    amount = np.concatenate(amounts) if amounts else np.zeros(0, np.float64)
    order = np.argsort(account, kind="stable")
    return SampleSales(
        account=account[order].astype(np.int64),
        period=[periods[i] for i in order],
        amount=amount[order],
        is_customer=is_customer,
    )


def draw_opportunities(
    potential: FloatArray,
    is_customer: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    as_of: date = SAMPLE_AS_OF,
) -> SampleOpportunities:
    """Draw open opportunities for accounts with ``potential`` (USD, ``(n,)``).

    Customers have more open opportunities than prospects (Poisson). Each
    amount is a Beta-distributed share of potential; an account whose
    opportunities add up to more than ``PIPELINE_CAP`` × potential has them
    scaled down to it. Amounts are whole USD (at least 1). A later stage
    closes sooner: within 90 days at the last stage, 45 days more per stage
    still ahead.
    """
    n = len(potential)
    mean = np.where(is_customer, _OPPS_PER_CUSTOMER, _OPPS_PER_PROSPECT)
    n_opp = rng.poisson(mean, size=n)
    owner = np.repeat(np.arange(n, dtype=np.int64), n_opp)
    m = len(owner)
    raw = potential[owner] * rng.beta(*_OPP_BETA, size=m)
    total = np.bincount(owner, weights=raw, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(
            total > PIPELINE_CAP * potential, PIPELINE_CAP * potential / total, 1.0
        )
    amount = np.maximum(np.floor(raw * scale[owner]), 1.0)
    stage = rng.integers(0, len(OPEN_STAGES), size=m)
    ahead = len(OPEN_STAGES) - 1 - stage
    days = rng.integers(1, _CLOSE_DAYS + _CLOSE_DAYS_PER_STAGE * ahead + 1)
    return SampleOpportunities(
        account=owner,
        amount=amount,
        stage=[OPEN_STAGES[s] for s in stage],
        close_date=[as_of + timedelta(days=int(d)) for d in days],
    )
