"""Periods: ``2027`` (year), ``2027-Q1`` (quarter) and ``2027-03`` (month).

A finer period rolls up into the coarser period that contains it
(``2027-03`` → ``2027-Q1`` → ``2027``). A coarser period never splits into
finer ones: a yearly sales row cannot be credited to one quarter, so it rolls
to ``None`` at a finer grain and callers report it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from territory.errors import InputError

__all__ = ["Grain", "Period", "parse_period", "roll_up", "within"]

_PATTERN = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(0[1-9]|1[0-2])))?$")


class Grain(IntEnum):
    """How fine a period is; a larger value is finer."""

    YEAR = 1
    QUARTER = 2
    MONTH = 3


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar year, quarter or month."""

    year: int
    quarter: int | None = None
    month: int | None = None

    @property
    def grain(self) -> Grain:
        """Return how fine this period is."""
        if self.month is not None:
            return Grain.MONTH
        if self.quarter is not None:
            return Grain.QUARTER
        return Grain.YEAR

    def __str__(self) -> str:
        if self.month is not None:
            return f"{self.year:04d}-{self.month:02d}"
        if self.quarter is not None:
            return f"{self.year:04d}-Q{self.quarter}"
        return f"{self.year:04d}"

    def at(self, grain: Grain) -> Period | None:
        """Return the period of ``grain`` containing this one (None if finer).

        Examples
        --------
        >>> str(parse_period("2027-05").at(Grain.QUARTER))
        '2027-Q2'
        >>> parse_period("2027").at(Grain.MONTH) is None
        True
        """
        if grain > self.grain:
            return None
        if grain is Grain.YEAR:
            return Period(self.year)
        if grain is Grain.QUARTER:
            q = self.quarter if self.month is None else (self.month - 1) // 3 + 1
            return Period(self.year, quarter=q)
        return self

    def members(self) -> list[str]:
        """Return every period text that lies inside this one (itself included).

        Used to select stored rows with ``period IN (...)`` instead of
        parsing every row.

        Examples
        --------
        >>> parse_period("2027-Q2").members()
        ['2027-Q2', '2027-04', '2027-05', '2027-06']
        >>> len(parse_period("2027").members())
        17
        """
        if self.grain is Grain.MONTH:
            return [str(self)]
        if self.grain is Grain.QUARTER:
            assert self.quarter is not None
            first = 3 * (self.quarter - 1) + 1
            return [str(self)] + [
                str(Period(self.year, month=m)) for m in range(first, first + 3)
            ]
        quarters = [str(Period(self.year, quarter=q)) for q in range(1, 5)]
        months = [str(Period(self.year, month=m)) for m in range(1, 13)]
        return [str(self), *quarters, *months]

    def coarser(self) -> list[str]:
        """Return the periods that contain this one, finest first (itself not).

        A stored row of one of these cannot be split into this period.

        Examples
        --------
        >>> parse_period("2027-05").coarser()
        ['2027-Q2', '2027']
        >>> parse_period("2027").coarser()
        []
        """
        out = []
        for grain in (Grain.QUARTER, Grain.YEAR):
            if grain < self.grain:
                outer = self.at(grain)
                assert outer is not None
                out.append(str(outer))
        return out

    def months(self) -> frozenset[int]:
        """Return the calendar months (1-12) the period covers.

        Examples
        --------
        >>> sorted(parse_period("2027-Q2").months())
        [4, 5, 6]
        """
        if self.month is not None:
            return frozenset({self.month})
        if self.quarter is not None:
            first = 3 * (self.quarter - 1) + 1
            return frozenset(range(first, first + 3))
        return frozenset(range(1, 13))

    def last_day(self) -> date:
        """Return the last calendar day of the period.

        Examples
        --------
        >>> [str(parse_period(p).last_day()) for p in ("2027", "2027-Q1", "2028-02")]
        ['2027-12-31', '2027-03-31', '2028-02-29']
        """
        if self.month is not None:
            month = self.month
        elif self.quarter is not None:
            month = 3 * self.quarter
        else:
            month = 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def contains(self, other: Period) -> bool:
        """Return whether ``other`` lies inside this period (or equals it)."""
        return other.at(self.grain) == self


def parse_period(text: str) -> Period:
    """Parse ``2027``, ``2027-Q1`` or ``2027-03``.

    Raises
    ------
    InputError
        When ``text`` is in none of these forms.

    Examples
    --------
    >>> parse_period("2027-Q3")
    Period(year=2027, quarter=3, month=None)
    """
    m = _PATTERN.match(str(text).strip())
    if m is None:
        raise InputError(
            f"Period {text!r} is not understood; write a year (2027), a quarter "
            "(2027-Q1) or a month (2027-03).",
            code="bad_period",
            details={"period": text},
        )
    year, quarter, month = m.groups()
    return Period(
        int(year),
        quarter=int(quarter) if quarter else None,
        month=int(month) if month else None,
    )


def roll_up(periods: Iterable[str], grain: Grain) -> list[str | None]:
    """Return each period rolled up to ``grain`` (None where it is coarser).

    Distinct values are parsed once, so this stays cheap on millions of rows.

    Raises
    ------
    InputError
        When a period cannot be parsed (naming it).

    Examples
    --------
    >>> roll_up(["2027-01", "2027-Q2", "2027"], Grain.QUARTER)
    ['2027-Q1', '2027-Q2', None]
    """
    values = list(periods)
    cache: dict[str, str | None] = {}
    for v in set(values):
        p = parse_period(v).at(grain)
        cache[v] = None if p is None else str(p)
    return [cache[v] for v in values]


def within(periods: npt.ArrayLike, target: Period) -> npt.NDArray[np.bool_]:
    """Return a mask of the periods that lie inside ``target``.

    Raises
    ------
    InputError
        When a period cannot be parsed.

    Examples
    --------
    >>> within(["2027-03", "2027-Q2", "2026", "2027"], parse_period("2027-Q1")).tolist()
    [True, False, False, False]
    """
    arr = np.asarray(periods, dtype=object)
    uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
    hits = np.array([target.contains(parse_period(u)) for u in uniq], dtype=bool)
    return hits[inverse] if uniq.size else np.zeros(arr.shape, dtype=bool)
