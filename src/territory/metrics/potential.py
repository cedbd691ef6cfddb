"""Account potential: the yearly spend an account could place with us (USD).

``potential = industry_factor × firmographic_base × market_index`` where

* ``firmographic_base = revenue_rate × annual_revenue + usd_per_employee ×
  employees`` (a missing figure counts as 0); when both are missing the base
  is ``unknown_base_usd``;
* ``industry_factor`` comes from a table of industries (case-insensitive),
  ``default_industry_factor`` for any other industry or none;
* ``market_index = 1 − market_weight + market_weight × p / p̄`` with ``p`` the
  labour-force participation (labour force ÷ population) of the account's
  county and ``p̄`` the same ratio over all counties given (their totals).
  An account whose county has no population or labour force gets index 1.

An imported value (for example the custom field ``potential``) replaces the
formula for that account wherever it is a finite number ≥ 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from territory.errors import InputError
from territory.metrics.categories import Categories, as_categories

__all__ = ["PotentialFormula", "account_potential", "market_index"]

FloatArray = npt.NDArray[np.float64]


def _default_factors() -> dict[str, float]:
    return {
        "technology": 1.5,
        "financial services": 1.3,
        "finance": 1.3,
        "healthcare": 1.2,
        "manufacturing": 1.1,
        "retail": 0.9,
        "education": 0.8,
        "government": 0.8,
        "non-profit": 0.6,
    }


@dataclass(frozen=True, slots=True)
class PotentialFormula:
    """Coefficients of the potential formula (see the module docstring)."""

    revenue_rate: float = 0.002
    usd_per_employee: float = 150.0
    unknown_base_usd: float = 10_000.0
    industry_factors: Mapping[str, float] = field(default_factory=_default_factors)
    default_industry_factor: float = 1.0
    market_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.market_weight <= 1.0:
            raise InputError(
                f"market_weight is {self.market_weight}; it is a share between 0 "
                "and 1.",
                code="potential_formula",
            )
        for name, value in (
            ("revenue_rate", self.revenue_rate),
            ("usd_per_employee", self.usd_per_employee),
            ("unknown_base_usd", self.unknown_base_usd),
            ("default_industry_factor", self.default_industry_factor),
            *self.industry_factors.items(),
        ):
            if not (np.isfinite(value) and value >= 0):
                raise InputError(
                    f"Potential coefficient '{name}' is {value}; it must be a "
                    "number ≥ 0.",
                    code="potential_formula",
                )


def market_index(
    population: npt.ArrayLike, labor_force: npt.ArrayLike, weight: float
) -> FloatArray:
    """Return the market index of each county (shape of the inputs).

    Examples
    --------
    >>> market_index([100.0, 100.0], [60.0, 40.0], 0.5).tolist()  # p̄ = 0.5
    [1.1, 0.9]
    """
    pop = np.asarray(population, dtype=np.float64)
    lf = np.asarray(labor_force, dtype=np.float64)
    ok = np.isfinite(pop) & np.isfinite(lf) & (pop > 0) & (lf >= 0)
    out = np.ones(pop.shape, dtype=np.float64)
    if not ok.any() or lf[ok].sum() <= 0:
        return out
    p_bar = lf[ok].sum() / pop[ok].sum()
    out[ok] = 1.0 - weight + weight * (lf[ok] / pop[ok]) / p_bar
    return out


def account_potential(
    formula: PotentialFormula,
    *,
    revenue: npt.ArrayLike,
    employees: npt.ArrayLike,
    industry: Categories | Sequence[str | None] | npt.NDArray[np.object_],
    market: npt.ArrayLike,
    imported: npt.ArrayLike | None = None,
) -> FloatArray:
    """Return each account's potential in USD, shape ``(n_accounts,)``.

    ``market`` is the market index of each account's county (1 when unknown);
    ``imported`` holds replacement values (NaN where the formula applies).

    Examples
    --------
    >>> f = PotentialFormula(industry_factors={"retail": 0.5})
    >>> account_potential(f, revenue=[1e6, np.nan], employees=[10, np.nan],
    ...                   industry=["Retail", None], market=[1.0, 1.2],
    ...                   imported=[np.nan, np.nan]).tolist()
    [1750.0, 12000.0]
    """
    rev = np.asarray(revenue, dtype=np.float64)
    emp = np.asarray(employees, dtype=np.float64)
    base = formula.revenue_rate * np.nan_to_num(
        rev, nan=0.0
    ) + formula.usd_per_employee * np.nan_to_num(emp, nan=0.0)
    unknown = ~np.isfinite(rev) & ~np.isfinite(emp)
    base = np.where(unknown, formula.unknown_base_usd, base)
    factors = as_categories(industry).lookup(
        dict(formula.industry_factors), formula.default_industry_factor
    )
    pot = factors * base * np.asarray(market, dtype=np.float64)
    if imported is not None:
        imp = np.asarray(imported, dtype=np.float64)
        use = np.isfinite(imp) & (imp >= 0)
        pot = np.where(use, imp, pot)
    return np.asarray(pot, dtype=np.float64)
