"""Allocation: reps to territories (one owner each) and quota down the hierarchy.

**Owners.** A rectangular linear sum assignment (Crouse 2016, as implemented
by ``scipy.optimize.linear_sum_assignment``) picks at most one territory per
rep and one rep per territory minimising the summed cost. Pairs that break a
constraint (capacity, say) cost more than every allowed assignment together,
so the optimum first maximises the number of allowed pairs and then
minimises cost; any forbidden pair it still had to take is dropped and
reported as a vacancy. Locked pairs are fixed before solving.

**Quota.** Top-down: the total is split among top-level territories, then
each territory's quota among its children, in proportion to
``blend × potential share + (1 − blend) × history share``, where a child's
share is its rolled-up value (own + descendants) over its parent's. A
parent's own accounts keep the part of its quota that its children do not
receive. A share whose denominator is zero is replaced by the other share;
when both are zero the children split the quota equally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from territory.errors import InputError
from territory.metrics.hierarchy import Hierarchy

__all__ = ["OwnerAssignment", "allocate_quota", "assign_owners"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class OwnerAssignment:
    """Result of :func:`assign_owners`.

    ``owner`` has shape ``(n_territories,)``: the rep index owning each
    territory, ``-1`` for a vacancy. ``vacant`` and ``surplus`` list the
    territory and rep indices left without a partner; ``cost`` is the summed
    cost of the chosen pairs.
    """

    owner: IntArray
    vacant: IntArray
    surplus: IntArray
    cost: float


def assign_owners(
    cost: npt.ArrayLike,
    allowed: npt.ArrayLike | None = None,
    locked: Sequence[tuple[int, int]] = (),
) -> OwnerAssignment:
    """Return the cheapest one-to-one matching of reps (rows) to territories.

    Parameters
    ----------
    cost
        Shape ``(n_reps, n_territories)``, finite.
    allowed
        Boolean, same shape; ``False`` marks a forbidden pair. Default: all
        allowed.
    locked
        ``(rep, territory)`` index pairs that must be kept.

    Raises
    ------
    InputError
        When a locked pair repeats a rep or a territory, or is out of range.

    Examples
    --------
    >>> r = assign_owners([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    >>> r.owner.tolist(), r.cost
    ([1, 0, 2], 5.0)
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2:
        raise InputError("The cost matrix must be 2-D (reps × territories).")
    n_r, n_t = c.shape
    ok = (
        np.ones(c.shape, dtype=bool)
        if allowed is None
        else np.asarray(allowed, dtype=bool)
    )
    owner = np.full(n_t, -1, dtype=np.int64)
    rep_used = np.zeros(n_r, dtype=bool)
    for r, t in locked:
        if not (0 <= r < n_r and 0 <= t < n_t):
            raise InputError(
                f"Locked pair ({r}, {t}) is outside the staffing problem.",
                code="staff_lock",
            )
        if rep_used[r] or owner[t] >= 0:
            raise InputError(
                "Locked pairs give a rep two territories or a territory two "
                "owners; lock each rep and each territory at most once.",
                code="staff_lock",
                details={"rep": r, "territory": t},
            )
        owner[t] = r
        rep_used[r] = True
    free_r = np.flatnonzero(~rep_used)
    free_t = np.flatnonzero(owner < 0)
    total = float(sum(c[owner[t], t] for t in np.flatnonzero(owner >= 0)))
    if free_r.size and free_t.size:
        sub = c[np.ix_(free_r, free_t)]
        sub_ok = ok[np.ix_(free_r, free_t)]
        finite = sub[sub_ok]
        big = (float(np.abs(finite).sum()) + 1.0) * 2.0 if finite.size else 1.0
        work = np.where(sub_ok, sub, big)
        # scipy.optimize costs a third of a second to import: only here.
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(work)
        for i, j in zip(rows, cols, strict=True):
            if sub_ok[i, j]:
                owner[free_t[j]] = free_r[i]
                total += float(sub[i, j])
    taken = np.zeros(n_r, dtype=bool)
    taken[owner[owner >= 0]] = True
    return OwnerAssignment(
        owner=owner,
        vacant=np.flatnonzero(owner < 0).astype(np.int64),
        surplus=np.flatnonzero(~taken).astype(np.int64),
        cost=total,
    )


def _share(num: FloatArray, den: FloatArray) -> tuple[FloatArray, FloatArray]:
    ok = den > 0
    out = np.zeros_like(num)
    out[ok] = num[ok] / den[ok]
    return out, ok.astype(np.float64)


def allocate_quota(
    total: float,
    hierarchy: Hierarchy,
    own_potential: npt.ArrayLike,
    own_history: npt.ArrayLike,
    blend: float,
) -> FloatArray:
    """Return each territory's quota (its own accounts plus descendants).

    ``own_potential`` and ``own_history`` have shape ``(n,)`` and hold the
    values of the accounts placed directly in each territory. The quotas of
    the top-level territories add up to ``total``.

    Raises
    ------
    InputError
        When ``blend`` is outside [0, 1] or ``total`` is negative.

    Examples
    --------
    >>> from territory.metrics.hierarchy import build_hierarchy
    >>> h = build_hierarchy([-1, 0, 0])
    >>> allocate_quota(100.0, h, [0, 30, 10], [0, 10, 30], 0.5).tolist()
    [100.0, 50.0, 50.0]
    """
    if not 0.0 <= blend <= 1.0:
        raise InputError(
            f"Blend {blend} is outside 0..1; it is the weight of potential "
            "(1 = potential only, 0 = sales history only).",
            code="quota_blend",
        )
    if not (np.isfinite(total) and total >= 0):
        raise InputError(
            f"Quota total {total} must be a number ≥ 0.", code="quota_total"
        )
    n = hierarchy.n
    pot = hierarchy.roll_up(np.asarray(own_potential, dtype=np.float64))
    hist = hierarchy.roll_up(np.asarray(own_history, dtype=np.float64))
    parent = hierarchy.parent
    # Denominators: the parent's rolled value; for regions, the grand total.
    roots = parent < 0
    den_pot = np.where(roots, pot[roots].sum(), pot[np.maximum(parent, 0)])
    den_hist = np.where(roots, hist[roots].sum(), hist[np.maximum(parent, 0)])
    s_pot, has_pot = _share(pot, den_pot)
    s_hist, has_hist = _share(hist, den_hist)
    w_pot = np.where(has_hist > 0, blend, 1.0) * has_pot
    w_hist = np.where(has_pot > 0, 1.0 - blend, 1.0) * has_hist
    share = w_pot * s_pot + w_hist * s_hist
    # Equal split where neither share is defined.
    key = np.where(roots, n, parent)
    siblings = np.bincount(key, minlength=n + 1)
    neither = (has_pot == 0) & (has_hist == 0)
    share = np.where(neither, 1.0 / siblings[key], share)
    quota = np.zeros(n, dtype=np.float64)
    for d in range(int(hierarchy.depth.max(initial=-1)) + 1):
        at = np.flatnonzero(hierarchy.depth == d)
        pool = np.where(roots[at], total, quota[np.maximum(parent[at], 0)])
        quota[at] = pool * share[at]
    return quota
