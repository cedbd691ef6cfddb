"""Sizing: how many territories a capacity per territory calls for."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from territory.errors import InputError

__all__ = ["territories_for_capacity"]


def territories_for_capacity(
    weights: np.ndarray, capacity: Mapping[int, float] | np.ndarray
) -> int:
    """Return the number of territories so that none exceeds its capacity.

    ``capacity`` maps activity index -> the most one territory should hold
    (e.g. ``{0: 11_000_000}`` for population), or is an ``(m,)`` array with
    ``inf`` for unlimited activities. The answer is the largest
    ``ceil(total_a / capacity_a)`` over the capped activities, at least 1.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[:, None]
    total = w.sum(axis=0)
    if isinstance(capacity, Mapping):
        caps = {int(a): float(c) for a, c in capacity.items()}
    else:
        arr = np.asarray(capacity, dtype=np.float64)
        caps = {a: float(c) for a, c in enumerate(arr) if np.isfinite(c)}
    if not caps:
        raise InputError(
            "give a capacity for at least one activity", code="bad_capacity"
        )
    count = 1
    for a, cap in caps.items():
        if not 0 <= a < w.shape[1]:
            raise InputError(
                f"capacity names activity {a}, but there are {w.shape[1]}",
                code="bad_capacity",
            )
        if not cap > 0:
            raise InputError(
                f"capacity for activity {a} must be > 0, got {cap}", code="bad_capacity"
            )
        count = max(count, math.ceil(total[a] / cap - 1e-12))
    if count > w.shape[0]:
        raise InputError(
            f"the capacity asks for {count} territories but there are only "
            f"{w.shape[0]} units — raise the capacity",
            code="bad_capacity",
            details={"territories": count, "n_units": int(w.shape[0])},
        )
    return int(count)
