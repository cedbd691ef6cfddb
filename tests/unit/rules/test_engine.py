"""Territory-level semantics: rule sets, inheritance, lowest territory, catch-all.

The hierarchy used by most tests::

    West (rule w: state in CA,OR,WA; applies to children)
    ├── NorCal (rule n: city in San Francisco,Oakland)
    │   └── Enterprise-NC (rule e: revenue >= 1,000,000)
    └── SoCal (rule s: city startsWith Los)
    Named (rule k: Tier__c equals Key)      <- a second branch
"""

from __future__ import annotations

import numpy as np
import pytest
from rules_builders import build_rule_set, build_table

from territory.errors import ValidationFailed
from territory.rules import RuleEngine

ACCOUNTS = [
    {
        "id": "A1",
        "billing_state": "CA",
        "billing_city": "San Francisco",
        "annual_revenue": 5e6,
    },
    {
        "id": "A2",
        "billing_state": "CA",
        "billing_city": "Oakland",
        "annual_revenue": 2e5,
    },
    {
        "id": "A3",
        "billing_state": "CA",
        "billing_city": "Los Angeles",
        "annual_revenue": 1e6,
        "Tier__c": "Key",
    },
    {
        "id": "A4",
        "billing_state": "NV",
        "billing_city": "San Francisco",
        "annual_revenue": 9e6,
    },
    {
        "id": "A5",
        "billing_state": "OR",
        "billing_city": "Portland",
        "annual_revenue": None,
    },
    {
        "id": "A6",
        "billing_state": None,
        "billing_city": "Oakland",
        "annual_revenue": 3e6,
        "Tier__c": "key ",
    },
]


def _hierarchy(**kw: object) -> object:
    return build_rule_set(
        [
            ("West", None),
            ("NorCal", "West"),
            ("Enterprise-NC", "NorCal"),
            ("SoCal", "West"),
            ("Named", None),
        ]
        + list(kw.pop("extra_territories", [])),  # type: ignore[call-overload]
        {
            "w": [("Account.BillingState", "equals", "CA,OR,WA")],
            "n": [("billing_city", "equals", "San Francisco, Oakland")],
            "e": [("Account.AnnualRevenue", "greaterOrEqual", "1000000")],
            "s": [("billing_city", "startsWith", "Los")],
            "k": [("Account.Tier__c", "equals", "Key")],
            **kw.pop("extra_rules", {}),  # type: ignore[dict-item]
        },
        [
            ("w", "West", True),
            ("n", "NorCal"),
            ("e", "Enterprise-NC"),
            ("s", "SoCal"),
            ("k", "Named"),
        ]
        + list(kw.pop("extra_links", [])),  # type: ignore[call-overload]
        **kw,  # type: ignore[arg-type]
    )


def _pairs(
    rs: object, rows: list[dict[str, object]] = ACCOUNTS
) -> list[tuple[str, str]]:
    table = build_table(rows)
    return RuleEngine(rs, table.kinds()).evaluate(table).pairs(table)  # type: ignore[arg-type]


def test_hierarchy_assigns_lowest_territory_and_other_branches() -> None:
    # A1: West ✓ NorCal ✓ Enterprise ✓ -> lowest is Enterprise-NC
    # A2: West ✓ NorCal ✓ Enterprise ✗ (200k) -> NorCal
    # A3: West ✓ SoCal ✓ ; Enterprise-NC ✓ too: NorCal's rule n is local, so it
    #     does not gate Enterprise-NC (w inherited + e: 1,000,000 >= 1,000,000);
    #     Named ✓ on another branch -> Enterprise-NC, SoCal and Named
    # A4: NV fails inherited rule w: NorCal and Enterprise never see it
    # A5: OR -> West ✓ (only West: its children fail) ; A6: blank state fails w; Named ✓
    assert _pairs(_hierarchy()) == [
        ("A1", "Enterprise-NC"),
        ("A2", "NorCal"),
        ("A3", "Enterprise-NC"),
        ("A3", "Named"),
        ("A3", "SoCal"),
        ("A5", "West"),
        ("A6", "Named"),
    ]


def test_local_rule_of_parent_does_not_gate_children() -> None:
    # West's rule is local here (not applied to children): NorCal matches A4 (NV)
    rs = build_rule_set(
        [("West", None), ("NorCal", "West")],
        {
            "w": [("billing_state", "equals", "CA")],
            "n": [("billing_city", "equals", "San Francisco")],
        },
        [("w", "West", False), ("n", "NorCal")],
    )
    assert _pairs(rs) == [
        ("A1", "NorCal"),
        ("A2", "West"),
        ("A3", "West"),
        ("A4", "NorCal"),
    ]


def test_several_rules_on_one_territory_must_all_match() -> None:
    rs = build_rule_set(
        [("T", None)],
        {
            "r1": [("billing_state", "equals", "CA")],
            "r2": [("annual_revenue", "greaterThan", "500000")],
        },
        [("r1", "T"), ("r2", "T")],
    )
    assert _pairs(rs) == [("A1", "T"), ("A3", "T")]


def test_child_with_only_inherited_rules_receives_what_parent_passes_on() -> None:
    rs = build_rule_set(
        [("West", None), ("Child", "West")],
        {"w": [("billing_state", "equals", "OR")]},
        [("w", "West", True)],
    )
    assert _pairs(rs) == [("A5", "Child")]


def test_territory_with_empty_rule_set_receives_nothing() -> None:
    rs = build_rule_set(
        [("Empty", None), ("T", None)],
        {"r": [("billing_state", "equals", "OR")]},
        [("r", "T")],
    )
    assert _pairs(rs) == [("A5", "T")]


def test_inactive_rule_is_ignored() -> None:
    rs = build_rule_set(
        [("T", None)],
        {
            "r": [("billing_state", "equals", "OR")],
            "off": [("billing_state", "equals", "CA")],
        },
        [("r", "T"), ("off", "T")],
        inactive=["off"],
    )
    assert _pairs(rs) == [("A5", "T")]


def test_catch_all_receives_only_unmatched_accounts() -> None:
    rs = _hierarchy(extra_territories=[("Rest", None)], catch_all="Rest")
    got = _pairs(rs)
    assert ("A4", "Rest") in got  # NV matched nothing
    assert [p for p in got if p[1] == "Rest"] == [("A4", "Rest")]


def test_boolean_filter_with_or_selects_accounts() -> None:
    rs = build_rule_set(
        [("T", None)],
        {
            "r": [
                ("billing_state", "equals", "NV"),
                ("billing_city", "equals", "Oakland"),
                ("annual_revenue", "lessThan", "1000000"),
            ]
        },
        [("r", "T")],
        filters={"r": "1 OR (2 AND 3)"},
    )
    # A4 (NV) by item 1; A2 (Oakland, 200k) by 2 AND 3; A6 Oakland but 3M fails 3
    assert _pairs(rs) == [("A2", "T"), ("A4", "T")]


def test_result_does_not_depend_on_row_order() -> None:
    rs = _hierarchy(extra_territories=[("Rest", None)], catch_all="Rest")
    expected = _pairs(rs)
    rng = np.random.default_rng(7)
    for _ in range(5):
        shuffled = [ACCOUNTS[i] for i in rng.permutation(len(ACCOUNTS))]
        assert _pairs(rs, shuffled) == expected
    # the order of rules and links in the input does not matter either
    reordered = build_rule_set(
        [
            ("Rest", None),
            ("Named", None),
            ("SoCal", "West"),
            ("Enterprise-NC", "NorCal"),
            ("NorCal", "West"),
            ("West", None),
        ],
        {
            r.id: [(i.field, i.operator.value, i.value) for i in r.items]
            for r in reversed(rs.rules)
        },  # type: ignore[attr-defined]
        [
            (lk.rule_id, lk.territory_id, lk.apply_to_children)
            for lk in reversed(rs.links)
        ],  # type: ignore[attr-defined]
        catch_all="Rest",
    )
    assert _pairs(reordered) == expected


def test_evaluating_selected_rows_matches_full_run() -> None:
    rs = _hierarchy(extra_territories=[("Rest", None)], catch_all="Rest")
    table = build_table(ACCOUNTS)
    engine = RuleEngine(rs, table.kinds())  # type: ignore[arg-type]
    full = engine.evaluate(table).pairs(table)
    for row in range(len(ACCOUNTS)):
        part = engine.evaluate(table, np.array([row])).pairs(table)
        assert part == [p for p in full if p[0] == ACCOUNTS[row]["id"]]


def test_rule_set_validation_lists_every_problem() -> None:
    rs = build_rule_set(
        [("A", None), ("B", "A"), ("B", None), ("C", "Z")],
        {
            "r": [("billing_state", "equals", "CA")],
            "bad": [("Account.Colour", "equals", "x")],
        },
        [("r", "A"), ("ghost", "A"), ("r", "Q")],
        filters={"r": "1 AND 2"},
        types=[("geo", 1), ("overlay", 1)],
        catch_all="A",
    )
    with pytest.raises(ValidationFailed) as info:
        RuleEngine(rs)
    text = str(info.value)
    assert info.value.code == "rule_set_invalid"
    for fragment in [
        "territory 'B' appears more than once",
        "rule 'ghost', which does not exist",
        "territory 'Q', which does not exist",
        "names parent 'Z'",
        "share priority 1",
        "item 2 does not exist",
        "'Account.Colour' is not an account field",
    ]:
        assert fragment in text


def test_item_that_does_not_fit_its_field_is_rejected() -> None:
    rs = build_rule_set(
        [("T", None)], {"r": [("annual_revenue", "contains", "5")]}, [("r", "T")]
    )
    with pytest.raises(ValidationFailed, match="cannot be evaluated") as info:
        RuleEngine(rs)
    assert "does not apply to the number field" in str(info.value)
    assert info.value.code == "rule_item_invalid"


def test_two_catch_alls_are_rejected() -> None:
    from territory.domain import Territory
    from territory.rules import RuleSet

    rs = RuleSet(
        (
            Territory("X", "m", "X", is_catch_all=True),
            Territory("Y", "m", "Y", is_catch_all=True),
        ),
        (),
        (),
    )
    with pytest.raises(ValidationFailed, match="at most one catch-all"):
        RuleEngine(rs)
