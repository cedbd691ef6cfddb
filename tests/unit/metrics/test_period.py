"""Periods: parsing and roll-up of finer into coarser."""

from __future__ import annotations

import pytest

from territory.errors import InputError
from territory.metrics import Grain, Period, parse_period, roll_up, within


@pytest.mark.parametrize(
    ("text", "expected", "grain"),
    [
        ("2027", Period(2027), Grain.YEAR),
        ("2027-Q4", Period(2027, quarter=4), Grain.QUARTER),
        ("2027-03", Period(2027, month=3), Grain.MONTH),
    ],
)
def test_parse_period_accepts_three_forms(
    text: str, expected: Period, grain: Grain
) -> None:
    p = parse_period(text)
    assert p == expected
    assert p.grain is grain
    assert str(p) == text


@pytest.mark.parametrize("text", ["27", "2027-Q5", "2027-13", "2027/03", "Q1-2027"])
def test_parse_period_rejects_other_forms(text: str) -> None:
    with pytest.raises(InputError, match="2027-Q1") as exc:
        parse_period(text)
    assert exc.value.code == "bad_period"


def test_roll_up_months_into_quarters_and_years() -> None:
    periods = ["2027-01", "2027-03", "2027-04", "2027-12", "2027-Q3", "2028"]
    assert roll_up(periods, Grain.QUARTER) == [
        "2027-Q1",
        "2027-Q1",
        "2027-Q2",
        "2027-Q4",
        "2027-Q3",
        None,  # a year cannot be split into quarters
    ]
    assert roll_up(periods, Grain.YEAR) == ["2027"] * 5 + ["2028"]


def test_within_selects_finer_periods_inside_target() -> None:
    periods = ["2027-02", "2027-Q1", "2027-04", "2027", "2026-01"]
    assert within(periods, parse_period("2027")).tolist() == [
        True,
        True,
        True,
        True,
        False,
    ]
    assert within(periods, parse_period("2027-Q1")).tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]
