"""Workload: the yearly hours an account asks of the rep who covers it.

``hours = calls_per_year × minutes_per_call / 60 + travel_hours`` where

* the account's *segment* sets ``calls_per_year``, ``minutes_per_call`` and
  ``in_person_share`` (the share of calls made as visits). Segments are
  tried in order; the first whose every condition holds wins, and the last
  segment must have no conditions (the catch-all) so no account is left out;
* ``travel_hours = calls_per_year × in_person_share × trip_km / speed_kmh``
  with ``trip_km = 2 × distance`` for a round trip (``1 ×`` otherwise) and
  ``distance`` the one-way km from the rep's home to the account — or, when
  no rep is set, from the territory's centre (its spread) — capped at
  ``max_one_way_km``.

Conditions compare revenue (USD), employees, industry (case-insensitive) and
potential (USD). A missing value never satisfies a numeric condition.
Territories sum their accounts' hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from territory.errors import InputError
from territory.metrics.categories import Categories, as_categories

__all__ = [
    "Segment",
    "SegmentRule",
    "TravelPolicy",
    "WorkloadModel",
    "account_hours",
    "default_workload_model",
    "segment_of",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """Conditions an account must meet to fall in a segment (all must hold).

    Bounds are inclusive below and exclusive above: ``min_revenue ≤ revenue <
    max_revenue``.
    """

    min_revenue: float | None = None
    max_revenue: float | None = None
    min_employees: float | None = None
    max_employees: float | None = None
    min_potential: float | None = None
    max_potential: float | None = None
    industries: tuple[str, ...] = ()

    @property
    def is_catch_all(self) -> bool:
        """Return whether the rule has no condition at all."""
        return not self.industries and all(
            v is None
            for v in (
                self.min_revenue,
                self.max_revenue,
                self.min_employees,
                self.max_employees,
                self.min_potential,
                self.max_potential,
            )
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """A group of accounts worked with the same call pattern."""

    name: str
    calls_per_year: float
    minutes_per_call: float
    in_person_share: float = 0.0
    when: SegmentRule = field(default_factory=SegmentRule)

    def __post_init__(self) -> None:
        for label, value in (
            ("calls_per_year", self.calls_per_year),
            ("minutes_per_call", self.minutes_per_call),
        ):
            if not (np.isfinite(value) and value >= 0):
                raise InputError(
                    f"Segment '{self.name}': {label} is {value}; it must be a "
                    "number ≥ 0.",
                    code="workload_segment",
                )
        if not 0.0 <= self.in_person_share <= 1.0:
            raise InputError(
                f"Segment '{self.name}': in_person_share is {self.in_person_share};"
                " it is a share between 0 and 1.",
                code="workload_segment",
            )


@dataclass(frozen=True, slots=True)
class TravelPolicy:
    """How distance turns into travel hours."""

    speed_kmh: float = 60.0
    round_trip: bool = True
    max_one_way_km: float = 400.0

    def __post_init__(self) -> None:
        if not self.speed_kmh > 0:
            raise InputError(
                f"Travel speed_kmh is {self.speed_kmh}; it must be > 0.",
                code="workload_travel",
            )


@dataclass(frozen=True, slots=True)
class WorkloadModel:
    """Segments (first match wins, last is the catch-all), travel and capacity."""

    segments: tuple[Segment, ...]
    travel: TravelPolicy = field(default_factory=TravelPolicy)
    capacity_hours: float = 1600.0

    def __post_init__(self) -> None:
        if not self.segments:
            raise InputError(
                "The workload model has no segments; define at least one.",
                code="workload_segments",
            )
        if not self.segments[-1].when.is_catch_all:
            raise InputError(
                f"The last workload segment ('{self.segments[-1].name}') has "
                "conditions; the last segment must have none so every account "
                "falls in a segment.",
                code="workload_catch_all",
            )
        names = [s.name for s in self.segments]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(
                f"Workload segment names repeat: {', '.join(dup)}; name each once.",
                code="workload_segments",
            )
        if not self.capacity_hours > 0:
            raise InputError(
                f"capacity_hours is {self.capacity_hours}; it must be > 0.",
                code="workload_capacity",
            )


def default_workload_model() -> WorkloadModel:
    """Return the documented defaults (see docs/workload.md).

    Examples
    --------
    >>> [s.name for s in default_workload_model().segments]
    ['key', 'mid', 'small']
    """
    return WorkloadModel(
        segments=(
            Segment("key", 24.0, 90.0, 0.5, SegmentRule(min_revenue=100e6)),
            Segment("mid", 12.0, 60.0, 0.25, SegmentRule(min_revenue=10e6)),
            Segment("small", 4.0, 45.0, 0.0),
        )
    )


def _between(
    values: FloatArray, low: float | None, high: float | None
) -> npt.NDArray[np.bool_]:
    ok = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        if low is not None:
            ok &= values >= low
        if high is not None:
            ok &= values < high
    return ok


def segment_of(
    model: WorkloadModel,
    *,
    revenue: npt.ArrayLike,
    employees: npt.ArrayLike,
    industry: Categories | Sequence[str | None] | npt.NDArray[np.object_],
    potential: npt.ArrayLike,
) -> npt.NDArray[np.int64]:
    """Return each account's segment index into ``model.segments``.

    All inputs have shape ``(n_accounts,)``; missing numbers are NaN and a
    missing industry is ``None`` (or give the industries already encoded as
    :class:`~territory.metrics.categories.Categories`).

    Examples
    --------
    >>> m = default_workload_model()
    >>> segment_of(m, revenue=[2e8, 2e7, np.nan], employees=[0, 0, 0],
    ...            industry=[None] * 3, potential=[0, 0, 0]).tolist()
    [0, 1, 2]
    """
    rev = np.asarray(revenue, dtype=np.float64)
    emp = np.asarray(employees, dtype=np.float64)
    pot = np.asarray(potential, dtype=np.float64)
    n = rev.shape[0]
    ind = as_categories(industry)
    out = np.full(n, len(model.segments) - 1, dtype=np.int64)
    undecided = np.ones(n, dtype=bool)
    for k, seg in enumerate(model.segments[:-1]):
        r = seg.when
        hit = undecided.copy()
        if r.min_revenue is not None or r.max_revenue is not None:
            hit &= _between(rev, r.min_revenue, r.max_revenue)
        if r.min_employees is not None or r.max_employees is not None:
            hit &= _between(emp, r.min_employees, r.max_employees)
        if r.min_potential is not None or r.max_potential is not None:
            hit &= _between(pot, r.min_potential, r.max_potential)
        if r.industries:
            hit &= ind.isin(r.industries)
        out[hit] = k
        undecided &= ~hit
    return out


def account_hours(
    model: WorkloadModel,
    segment: npt.ArrayLike,
    distance_km: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Return ``(call_hours, travel_hours)`` per account, each ``(n_accounts,)``.

    ``distance_km`` is the one-way distance to the account (NaN counts as 0:
    an account without a location adds no travel).

    Examples
    --------
    >>> m = default_workload_model()
    >>> calls, travel = account_hours(m, [0], [30.0])
    >>> float(calls[0]), float(travel[0])  # 24×90/60; 24×0.5×60 km ÷ 60 km/h
    (36.0, 12.0)
    """
    seg = np.asarray(segment, dtype=np.int64)
    calls = np.array([s.calls_per_year for s in model.segments])[seg]
    minutes = np.array([s.minutes_per_call for s in model.segments])[seg]
    share = np.array([s.in_person_share for s in model.segments])[seg]
    d = np.nan_to_num(np.asarray(distance_km, dtype=np.float64), nan=0.0)
    d = np.clip(d, 0.0, model.travel.max_one_way_km)
    trip = d * (2.0 if model.travel.round_trip else 1.0)
    call_hours = calls * minutes / 60.0
    travel_hours = calls * share * trip / model.travel.speed_kmh
    return call_hours.astype(np.float64), travel_hours.astype(np.float64)
