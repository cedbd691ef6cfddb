"""Criterion semantics, checked on single values and through the vectorised engine."""

from __future__ import annotations

import pytest
from rules_builders import build_rule_set

from territory.errors import InputError
from territory.rules import (
    AccountTable,
    Criterion,
    FieldKind,
    Operator,
    RuleEngine,
    compile_criterion,
    parse_operator,
    split_values,
    zip5,
)

T, N, P = FieldKind.TEXT, FieldKind.NUMBER, FieldKind.POSTAL


def _matches(
    field: str,
    op: str,
    value: str | None,
    values: list[object],
    kind: FieldKind,
    value_sets: dict[str, list[str]] | None = None,
) -> list[bool]:
    """Run one criterion through the full engine over one account per value."""
    ids = [f"a{i}" for i in range(len(values))]
    table = AccountTable.from_columns(ids, {field: values}, {field: kind})
    rs = build_rule_set(
        [("T", None)], {"r": [(field, op, value)]}, [("r", "T")], value_sets=value_sets
    )
    ev = RuleEngine(rs, table.kinds()).evaluate(table)
    hit = {a for a, _ in ev.pairs(table)}
    return [i in hit for i in ids]


@pytest.mark.parametrize(
    ("op", "value", "values", "expected"),
    [
        ("equals", "CA", ["CA", " ca ", "Ca", "NY", None, ""], [1, 1, 1, 0, 0, 0]),
        ("equals", "CA, NY", ["CA", "NY", "TX", None], [1, 1, 0, 0]),
        ("notEqual", "CA, NY", ["CA", "NY", "TX", None], [0, 0, 1, 1]),
        ("contains", "tech", ["High Tech", "TECHNOLOGY", "Retail", None], [1, 1, 0, 0]),
        ("contains", "tech,ret", ["High Tech", "Retail", "Energy"], [1, 1, 0]),
        (
            "notContain",
            "tech,ret",
            ["High Tech", "Retail", "Energy", None],
            [0, 0, 1, 1],
        ),
        ("startsWith", "San", ["San Jose", "santa fe", "Pasadena", None], [1, 1, 0, 0]),
        ("lessThan", "m", ["apple", "Zebra", "m", None], [1, 0, 0, 0]),
        ("between", "b..d", ["a", "b", "cat", "d", "e"], [0, 1, 1, 1, 0]),
        ("isNull", None, ["x", None, "  "], [0, 1, 1]),
        ("isNotNull", None, ["x", None, "  "], [1, 0, 0]),
        ("includes", "Gold", ["Gold;Silver", "silver", "GOLD", None], [1, 0, 1, 0]),
        (
            "includes",
            "Gold;Silver,Bronze",
            ["Gold;Silver", "Gold", "bronze"],
            [1, 0, 1],
        ),
        ("excludes", "Gold", ["Gold;Silver", "silver", None], [0, 1, 1]),
    ],
)
def test_text_operators_match_hand_results(
    op: str, value: str | None, values: list[object], expected: list[int]
) -> None:
    assert _matches("industry", op, value, values, T) == [bool(e) for e in expected]


def test_quoted_value_keeps_its_comma() -> None:
    got = _matches(
        "name",
        "equals",
        '"Smith, Jones & Co", Acme',
        ["smith, jones & co", "Smith", "ACME"],
        T,
    )
    assert got == [True, False, True]


def test_split_values_handles_quotes_and_blanks() -> None:
    assert split_values(' a , "b, c" ,, "d ""e"""') == ("a", "b, c", 'd "e"')


def test_split_values_rejects_unbalanced_quote() -> None:
    with pytest.raises(InputError, match="unbalanced double quote") as info:
        split_values('"CA, NY')
    assert info.value.code == "rule_value_quote"


@pytest.mark.parametrize(
    ("op", "value", "values", "expected"),
    [
        ("equals", "1000000", [1e6, 999_999.0, None], [1, 0, 0]),
        ("equals", "10, 20", [10.0, 20.0, 15.0], [1, 1, 0]),
        ("notEqual", "10", [10.0, 11.0, None], [0, 1, 1]),
        ("lessThan", "100", [99.0, 100.0, None], [1, 0, 0]),
        ("lessOrEqual", "100", [99.0, 100.0, 101.0], [1, 1, 0]),
        ("greaterThan", "100", [100.0, 100.5, None], [0, 1, 0]),
        ("greaterOrEqual", "100", [99.9, 100.0], [0, 1]),
        ("between", "10..20", [9.0, 10.0, 20.0, 20.5, None], [0, 1, 1, 0, 0]),
        ("between", "1..2, 5..6", [1.5, 3.0, 5.0], [1, 0, 1]),
        # numbers compare as numbers, not text: "9" < "10" is false as text
        ("lessThan", "10", [9.0, 11.0], [1, 0]),
        ("isNull", None, [None, 0.0], [1, 0]),
    ],
)
def test_number_operators_compare_numerically(
    op: str, value: str | None, values: list[object], expected: list[int]
) -> None:
    assert _matches("annual_revenue", op, value, values, N) == [
        bool(e) for e in expected
    ]


@pytest.mark.parametrize(
    ("op", "value", "values", "expected"),
    [
        # equality is text: leading zeros kept, ZIP+4 is a different text
        ("equals", "02134", ["02134", "2134", "02134-1234", None], [1, 0, 0, 0]),
        ("startsWith", "021", ["02134", "02134-1234", "2134", "K1A 0B1"], [1, 1, 0, 0]),
        ("contains", "34-12", ["02134-1234", "02134"], [1, 0]),
        # ranges compare well-formed ZIPs as 5-digit numbers; ZIP+4 reduced
        (
            "between",
            "02100..02199",
            ["02134", "02134-1234", "021341234", "2134"],
            [1, 1, 1, 0],
        ),
        (
            "lessThan",
            "10000",
            ["09999", "9", "K1A 0B1", "10000", None],
            [1, 0, 0, 0, 0],
        ),
        ("greaterOrEqual", "99950", ["99950", "99999-0001", "abcde"], [1, 1, 0]),
    ],
)
def test_postal_codes_compare_as_text_and_ranges_as_zips(
    op: str, value: str | None, values: list[object], expected: list[int]
) -> None:
    assert _matches("billing_postal_code", op, value, values, P) == [
        bool(e) for e in expected
    ]


def test_in_table_zip_set_matches_zip_plus_four_and_keeps_all_2000_codes() -> None:
    codes = [f"{z:05d}" for z in range(1000, 3000)]  # 2,000 codes, leading zeros
    values = ["01000", "02999", "02999-1234", "03000", "1000", None]
    got = _matches("billing_postal_code", "inTable", "zips", values, P, {"zips": codes})
    assert got == [True, True, True, False, False, False]


def test_in_table_on_text_and_number_fields() -> None:
    assert _matches(
        "billing_state",
        "inTable",
        "west",
        ["ca", "NV", "NY"],
        T,
        {"west": ["CA", " nv"]},
    ) == [True, True, False]
    assert _matches(
        "employees", "inTable", "sizes", [10.0, 20.0, None], N, {"sizes": ["10", "30"]}
    ) == [True, False, False]


def test_zip5_reduces_zip_plus_four_and_rejects_others() -> None:
    assert [
        zip5(v) for v in ["00501", "02134-1234", "021341234", "9", "K1A0B1", " 10001 "]
    ] == [501, 2134, 2134, None, None, 10001]


@pytest.mark.parametrize(
    ("field_kind", "op", "value", "code"),
    [
        (N, "contains", "5", "rule_operator_field_kind"),
        (N, "equals", "lots", "rule_value_not_number"),
        (T, "equals", "  ", "rule_value_missing"),
        (N, "between", "10", "rule_between_syntax"),
        (N, "between", "20..10", "rule_between_order"),
        (N, "between", "..10", "rule_between_syntax"),
        (P, "lessThan", "K1A", "rule_value_not_zip"),
        (T, "inTable", "nope", "rule_value_set_missing"),
    ],
)
def test_compile_rejects_bad_criteria_with_clear_codes(
    field_kind: FieldKind, op: str, value: str, code: str
) -> None:
    with pytest.raises(InputError) as info:
        compile_criterion(Criterion("f", Operator(op), value), field_kind, {})
    assert info.value.code == code
    assert "f " in info.value.message


def test_parse_operator_accepts_any_case_and_rejects_unknown() -> None:
    assert parse_operator("STARTSWITH") is Operator.STARTS_WITH
    with pytest.raises(InputError, match="use one of") as info:
        parse_operator("within")
    assert info.value.code == "rule_operator_unknown"


def test_scalar_tests_agree_with_blank_rules() -> None:
    cc = compile_criterion(Criterion("f", Operator.NOT_EQUAL, "a"), T)
    assert cc.is_negative
    assert not compile_criterion(Criterion("f", Operator.EQUALS, "a"), T).is_negative
