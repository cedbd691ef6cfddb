"""Ratios that track performance against quota and potential.

Undefined cases give NaN — null in files, ``n/a`` in the terminal — never an
infinity or an error:

* attainment = sales ÷ quota; NaN when the quota is zero, negative or missing;
* penetration = sales ÷ potential; NaN when the potential is not > 0;
* pipeline coverage = open pipeline ÷ remaining quota, where remaining quota
  = quota − sales; NaN when the quota is not > 0 **or already met**
  (remaining ≤ 0) — callers show that case as ``met`` using
  :func:`quota_met`;
* utilisation = workload hours ÷ capacity hours; NaN when capacity is not > 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["attainment", "penetration", "pipeline_coverage", "quota_met", "utilisation"]

FloatArray = npt.NDArray[np.float64]


def _ratio(num: npt.ArrayLike, den: npt.ArrayLike) -> FloatArray:
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    n, d = np.broadcast_arrays(np.atleast_1d(n), np.atleast_1d(d))
    out = np.full(n.shape, np.nan)
    ok = np.isfinite(d) & (d > 0) & np.isfinite(n)
    out[ok] = n[ok] / d[ok]
    return out


def attainment(sales: npt.ArrayLike, quota: npt.ArrayLike) -> FloatArray:
    """Return sales ÷ quota (NaN where quota ≤ 0 or missing).

    Examples
    --------
    >>> attainment([50.0, 10.0], [100.0, 0.0]).tolist()
    [0.5, nan]
    """
    return _ratio(sales, quota)


def penetration(sales: npt.ArrayLike, potential: npt.ArrayLike) -> FloatArray:
    """Return sales ÷ potential (NaN where potential ≤ 0).

    Examples
    --------
    >>> penetration([25.0], [100.0]).tolist()
    [0.25]
    """
    return _ratio(sales, potential)


def quota_met(sales: npt.ArrayLike, quota: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return whether a positive quota is already reached by sales.

    Examples
    --------
    >>> quota_met([100.0, 50.0, 5.0], [100.0, 100.0, 0.0]).tolist()
    [True, False, False]
    """
    s = np.atleast_1d(np.asarray(sales, dtype=np.float64))
    q = np.atleast_1d(np.asarray(quota, dtype=np.float64))
    return np.asarray((q > 0) & (s >= q))


def pipeline_coverage(
    open_pipeline: npt.ArrayLike, quota: npt.ArrayLike, sales: npt.ArrayLike
) -> FloatArray:
    """Return open pipeline ÷ (quota − sales).

    NaN where the quota is not > 0 or is already met (remaining ≤ 0).

    Examples
    --------
    >>> pipeline_coverage([300.0, 300.0], [100.0, 100.0], [40.0, 120.0]).tolist()
    [5.0, nan]
    """
    q = np.asarray(quota, dtype=np.float64)
    remaining = q - np.asarray(sales, dtype=np.float64)
    remaining = np.where(q > 0, remaining, np.nan)
    return _ratio(open_pipeline, remaining)


def utilisation(
    workload_hours: npt.ArrayLike, capacity_hours: npt.ArrayLike
) -> FloatArray:
    """Return workload ÷ capacity (NaN where capacity ≤ 0).

    Examples
    --------
    >>> utilisation([800.0], [1600.0]).tolist()
    [0.5]
    """
    return _ratio(workload_hours, capacity_hours)
