"""Boolean filter parsing and its validation messages."""

from __future__ import annotations

import pytest

from territory.errors import InputError
from territory.rules import parse_filter
from territory.rules.boolean_filter import FilterOps, evaluate_filter

_BOOL: FilterOps[bool] = FilterOps(
    lambda a, b: a and b, lambda a, b: a or b, lambda a: not a, lambda: True
)


def _truth(text: str | None, n: int, values: list[bool]) -> bool:
    return evaluate_filter(parse_filter(text, n, "r"), lambda i: values[i - 1], _BOOL)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        (None, [True, True, True], True),
        (None, [True, False, True], False),
        ("(1 AND 2) OR 3", [False, True, True], True),
        ("(1 AND 2) OR 3", [False, True, False], False),
        ("1 and (2 or 3)", [True, False, True], True),
        ("NOT 1 AND 2 AND 3", [False, True, True], True),
        ("((1)) OR (2 AND NOT 3)", [False, True, False], True),
        ("1 OR 2 OR 3", [False, False, False], False),
    ],
)
def test_filter_evaluates_like_hand_truth_table(
    text: str | None, values: list[bool], expected: bool
) -> None:
    assert _truth(text, 3, values) is expected


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("1 AND 4", "rule_filter_missing_item", "item 4 does not exist"),
        ("0 OR 1 OR 2 OR 3", "rule_filter_missing_item", "item 0 does not exist"),
        ("(1 AND 2 OR 3", "rule_filter_mixed", "mixes AND and OR"),
        ("(1 AND 2) OR 3)", "rule_filter_parentheses", "unbalanced"),
        ("((1 AND 2) OR 3", "rule_filter_parentheses", "unbalanced"),
        ("1 AND 2 OR 3", "rule_filter_mixed", "add parentheses"),
        ("1 AND 2", "rule_filter_unused_item", "item 3 is never used"),
        ("1", "rule_filter_unused_item", "items 2, 3 are never used"),
        ("1 AND 2 AND", "rule_filter_syntax", "ends too early"),
        ("1 XOR 2 XOR 3", "rule_filter_syntax", "unknown word 'XOR'"),
        ("1 & 2 & 3", "rule_filter_syntax", "unexpected character '&'"),
        ("1 2 3", "rule_filter_syntax", "follows a complete expression"),
        ("AND 1 AND 2 AND 3", "rule_filter_syntax", "no left operand"),
        ("__import__('os')", "rule_filter_syntax", "unexpected character"),
    ],
)
def test_filter_rejects_bad_text_with_a_clear_message(
    text: str, code: str, fragment: str
) -> None:
    with pytest.raises(InputError) as info:
        parse_filter(text, 3, "R-7")
    assert info.value.code == code
    assert fragment in info.value.message
    assert "rule 'R-7'" in info.value.message
    assert info.value.details == {"rule": "R-7", "filter": text}


def test_blank_filter_means_all_items_anded() -> None:
    node = parse_filter("  ", 2, "r")
    assert node.op == "and"
    assert [c.item for c in node.children] == [1, 2]
