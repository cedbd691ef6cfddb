"""Balance indices: how evenly a measure is spread across territories.

* coefficient of variation: population standard deviation ÷ mean
  (``numpy.std`` with ``ddof=0``);
* max/min ratio: largest ÷ smallest value, **undefined** (``None``) when the
  smallest value is zero or negative — shown as ``—`` in the terminal and as
  null in files;
* Gini: the mean-difference form
  ``G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄)``, computed from the sorted values as
  ``G = Σ_k (2k − n − 1)·x_(k) / (n Σx)`` (``k`` from 1).

CV and Gini are undefined (``None``) when the mean is zero or there are no
values; for a single value both are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BalanceIndices",
    "balance_indices",
    "coefficient_of_variation",
    "gini",
    "max_min_ratio",
]


def _as_array(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


def coefficient_of_variation(values: npt.ArrayLike) -> float | None:
    """Return the population standard deviation divided by the mean.

    Non-finite values are ignored. ``None`` when there are no values or the
    mean is zero.

    Examples
    --------
    >>> coefficient_of_variation([2.0, 4.0, 6.0])  # sd = sqrt(8/3), mean 4
    0.408248290463863
    """
    x = _as_array(values)
    if x.size == 0:
        return None
    mean = float(x.mean())
    if mean == 0.0:
        return None
    return float(x.std(ddof=0) / abs(mean))


def max_min_ratio(values: npt.ArrayLike) -> float | None:
    """Return the largest value divided by the smallest.

    ``None`` (undefined) when there are no values or the smallest is ≤ 0.

    Examples
    --------
    >>> max_min_ratio([2.0, 4.0, 6.0])
    3.0
    >>> max_min_ratio([0.0, 4.0]) is None
    True
    """
    x = _as_array(values)
    if x.size == 0:
        return None
    low = float(x.min())
    if low <= 0.0:
        return None
    return float(x.max()) / low


def gini(values: npt.ArrayLike) -> float | None:
    """Return the Gini coefficient in its mean-difference form.

    ``None`` when there are no values or their sum is zero.

    Examples
    --------
    >>> gini([2.0, 4.0, 6.0])  # Σ|xi-xj| = 16, 2·n²·mean = 72
    0.2222222222222222
    """
    x = _as_array(values)
    n = x.size
    if n == 0:
        return None
    total = float(x.sum())
    if total == 0.0:
        return None
    coef = 2.0 * np.arange(1, n + 1, dtype=np.float64) - n - 1.0
    return float(np.dot(coef, np.sort(x))) / (n * total)


@dataclass(frozen=True, slots=True)
class BalanceIndices:
    """Balance of one measure across ``n`` territories."""

    measure: str
    n: int
    mean: float | None
    minimum: float | None
    maximum: float | None
    cv: float | None
    max_min: float | None
    gini: float | None


def balance_indices(measure: str, values: npt.ArrayLike) -> BalanceIndices:
    """Return every balance index of ``values`` (one per territory).

    Examples
    --------
    >>> b = balance_indices("accounts", [0.0, 5.0, 10.0])
    >>> (b.cv, b.max_min)
    (0.816496580927726, None)
    """
    x = _as_array(values)
    return BalanceIndices(
        measure=measure,
        n=int(x.size),
        mean=float(x.mean()) if x.size else None,
        minimum=float(x.min()) if x.size else None,
        maximum=float(x.max()) if x.size else None,
        cv=coefficient_of_variation(x),
        max_min=max_min_ratio(x),
        gini=gini(x),
    )
