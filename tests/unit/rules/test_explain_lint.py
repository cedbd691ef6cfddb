"""Explanations of one account, lint findings and opportunity territory choice."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rules_builders import build_rule_set, build_table

from territory.errors import NotFound
from territory.rules import RuleEngine, choose_opportunity_territory, explain, lint

ACCOUNTS = [
    {
        "id": "A1",
        "billing_state": "CA",
        "billing_city": "San Francisco",
        "annual_revenue": 5e6,
        "billing_postal_code": "94105",
    },
    {
        "id": "A2",
        "billing_state": "CA",
        "billing_city": "Oakland",
        "annual_revenue": 2e5,
        "billing_postal_code": "K1A 0B1",
    },
    {
        "id": "A3",
        "billing_state": None,
        "billing_city": "Oakland",
        "annual_revenue": 3e6,
        "billing_postal_code": "9",
    },
    {
        "id": "A4",
        "billing_state": "NY",
        "billing_city": "Albany",
        "annual_revenue": None,
        "billing_postal_code": "12207",
    },
]


def _setup() -> tuple[RuleEngine, object]:
    rs = build_rule_set(
        [
            ("West", None, "geo"),
            ("NorCal", "West", "geo"),
            ("Big", "NorCal", "geo"),
            ("Bay", None, "geo"),
        ],
        {
            "w": [("billing_state", "equals", "CA")],
            "n": [("billing_city", "equals", "San Francisco,Oakland")],
            "b": [("annual_revenue", "greaterOrEqual", "1000000")],
            "z": [("billing_postal_code", "between", "94000..94999")],
            "never": [
                ("billing_state", "equals", "CA"),
                ("billing_state", "equals", "NY"),
            ],
        },
        [
            ("w", "West", True),
            ("n", "NorCal", True),
            ("b", "Big"),
            ("z", "Bay"),
            ("never", "West"),
        ],
        types=[("geo", 10)],
    )
    table = build_table(ACCOUNTS)
    return RuleEngine(rs, table.kinds()), table


def test_explain_names_inheritance_failing_item_and_lowest_winner() -> None:
    engine, table = _setup()
    ex = explain(engine, table, "A2")  # type: ignore[arg-type]
    assert ex.assigned == ("NorCal",)
    by_id = {t.territory_id: t for t in ex.territories}
    big = by_id["Big"]
    assert not big.matched
    assert big.reason.startswith(
        "failed rule b: annual_revenue greaterOrEqual '1000000': 200000.0 -> no"
    )
    norcal = by_id["NorCal"]
    assert norcal.assigned
    assert [(r.rule_id, r.inherited_from) for r in norcal.rules] == [
        ("w", "West"),
        ("n", None),
    ]
    west = by_id["West"]
    assert west.reason.startswith("failed rule never")
    text = "\n".join(ex.lines())
    assert "Account A2 sits in no territory of this model" in text
    assert "The rules put it in: NorCal" in text
    assert "  - the rules would add it to NorCal on the next run" in text
    assert "rule w 'w' (inherited from West): matched" in text


def test_explain_says_why_the_parent_lost_to_a_lower_territory() -> None:
    rs = build_rule_set(
        [("West", None), ("NorCal", "West")],
        {
            "w": [("billing_state", "equals", "CA")],
            "n": [("billing_city", "equals", "Oakland")],
        },
        [("w", "West"), ("n", "NorCal")],
    )
    table = build_table(ACCOUNTS)
    ex = explain(RuleEngine(rs, table.kinds()), table, "A2")
    west = next(t for t in ex.territories if t.territory_id == "West")
    assert west.matched and not west.assigned
    assert (
        "lower territory NorCal on the same branch also matched and wins" in west.reason
    )


def test_explain_blank_field_reason_and_unknown_account() -> None:
    engine, table = _setup()
    ex = explain(engine, table, "A3")  # type: ignore[arg-type]
    west = next(t for t in ex.territories if t.territory_id == "NorCal")
    assert (
        "blank -> no (a blank field never matches a positive criterion)" in west.reason
    )
    with pytest.raises(
        NotFound, match="Account 'nope' is not among the accounts"
    ) as info:
        explain(engine, table, "nope")  # type: ignore[arg-type]
    assert info.value.code == "account_not_found"


def test_lint_reports_each_kind_of_finding() -> None:
    engine, table = _setup()
    findings = lint(engine, table)  # type: ignore[arg-type]
    by_code: dict[str, list[object]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    never = [f for f in findings if f.code == "rule_never_matches"]
    assert [f.rule_id for f in never] == ["never"]
    assert "disjoint values" in never[0].message
    unmatched = by_code["accounts_unmatched"][0]
    # A3 (blank state) and A4 (NY) match no territory: Bay needs a 94xxx ZIP
    assert unmatched.accounts == ("A3", "A4") and unmatched.count == 2  # type: ignore[attr-defined]
    blank = [f for f in findings if f.code == "blank_decided"]
    assert [(f.rule_id, f.accounts) for f in blank] == [("b", ("A4",)), ("w", ("A3",))]
    zips = by_code["zip_not_comparable"][0]
    assert zips.accounts == ("A2", "A3") and zips.values == ("9", "k1a 0b1")  # type: ignore[attr-defined]
    # A1 lands in Big (geo) and Bay (geo): same type twice
    same = by_code["same_type_twice"][0]
    assert same.accounts == ("A1",) and same.values == ("Bay", "Big")  # type: ignore[attr-defined]


def test_lint_reports_territories_with_identical_rule_sets() -> None:
    rs = build_rule_set(
        [("X", None), ("Y", None)],
        {"r": [("billing_state", "equals", "CA")]},
        [("r", "X"), ("r", "Y")],
    )
    table = build_table(ACCOUNTS)
    findings = lint(RuleEngine(rs, table.kinds()), table)
    shadow = [f for f in findings if f.code == "territories_shadow"]
    assert shadow and shadow[0].values == ("X", "Y")


@pytest.mark.parametrize(
    ("territories", "expected"),
    [
        (["T-geo", "T-named"], "T-named"),  # named (priority 5) beats geo (1)
        (["T-geo"], "T-geo"),
        (["T-named", "T-named2", "T-geo"], None),  # tie at the top gives none
        ([], None),  # an account with no territory gives none
        (["T-untyped"], None),
    ],
)
def test_opportunity_territory_by_type_priority(
    territories: list[str], expected: str | None
) -> None:
    type_of = {
        "T-geo": "geo",
        "T-named": "named",
        "T-named2": "named",
        "T-untyped": None,
    }
    got = choose_opportunity_territory(territories, type_of, {"geo": 1, "named": 5})
    assert got.territory_id == expected
    if len(territories) == 3:
        assert "tie at priority 5" in got.reason


def test_a_blank_that_decides_a_match_is_reported_too() -> None:
    """``billing_state notEqual NY``: B1 (CA) passes on its value, B2 (blank)
    passes only because a blank matches a negative item, B3 (NY) fails.
    ``billing_city equals Oakland``: B2 (blank city) fails only because of
    the blank."""
    rs = build_rule_set(
        [("X", None), ("Y", None)],
        {
            "not-ny": [("billing_state", "notEqual", "NY")],
            "oak": [("billing_city", "equals", "Oakland")],
        },
        [("not-ny", "X"), ("oak", "Y")],
    )
    table = build_table(
        [
            {"id": "B1", "billing_state": "CA", "billing_city": "Oakland"},
            {"id": "B2", "billing_state": None, "billing_city": None},
            {"id": "B3", "billing_state": "NY", "billing_city": "Albany"},
        ]
    )
    blank = [
        (f.rule_id, f.message, f.accounts, f.values)
        for f in lint(RuleEngine(rs, table.kinds()), table)
        if f.code == "blank_decided"
    ]
    assert blank == [
        (
            "not-ny",
            "rule not-ny accepts 1 account only because billing_state is blank (a "
            "blank field always matches notEqual, notContain and excludes)",
            ("B2",),
            ("billing_state",),
        ),
        (
            "oak",
            "rule oak rejects 1 account only because billing_city is blank",
            ("B2",),
            ("billing_city",),
        ),
    ]


def test_lint_names_territories_and_stored_field_spellings() -> None:
    rs = build_rule_set(
        [("T-BAY", None), ("T-NY", None)],
        {"bay": [("Account.Tier__c", "equals", "Gold")]},
        [("bay", "T-BAY"), ("bay", "T-NY")],
    )
    rs = replace(
        rs,
        territories=tuple(
            replace(x, name="Bay Area") if x.id == "T-BAY" else x
            for x in rs.territories
        ),
    )
    table = build_table([{"id": "A", "tier__c": "Silver"}])
    findings = lint(
        RuleEngine(rs, table.kinds()),
        table,
        case_variants={"Tier__c": ("Tier__c", "tier__c")},
    )
    messages: dict[str, list[str]] = {}
    for f in findings:
        messages.setdefault(f.code, []).append(f.message)
    assert messages["territory_never_matches"] == [
        "territory Bay Area (T-BAY) matches no account; its rule set (bay) is "
        "never satisfied as a whole",
        "territory T-NY matches no account; its rule set (bay) is never "
        "satisfied as a whole",
    ]
    assert messages["territories_shadow"] == [
        "territories Bay Area (T-BAY), T-NY have the same rule set (bay) and "
        "always receive the same accounts"
    ]
    assert messages["field_case_variants"] == [
        "custom field Tier__c is stored under 2 spellings (Tier__c, tier__c) that "
        "differ only by case; rules bay read them as one field (where both are "
        "set, Tier__c wins): re-import the accounts with one spelling"
    ]
    # the rule's Tier__c is the table's tier__c: A is not blank, just Silver
    assert "blank_decided" not in messages


def test_custom_fields_resolve_without_regard_to_case() -> None:
    """A rule on ``Account.Tier__c`` reads a column stored as ``tier__c``."""
    rs = build_rule_set(
        [("S", None)],
        {"s": [("Account.Tier__c", "equals", "strategic")]},
        [("s", "S")],
    )
    table = build_table(
        [{"id": "A", "tier__c": "Strategic"}, {"id": "B", "tier__c": "Gold"}]
    )
    engine = RuleEngine(rs, table.kinds())
    assert engine.evaluate(table).pairs(table) == [("A", "S")]
    assert explain(engine, table, "A").assigned == ("S",)
    bare = RuleEngine(rs)  # compiled without the table's kinds
    assert bare.evaluate_record({"id": "A", "TIER__C": "Strategic"}) == [0]
    assert bare.evaluate_record({"id": "B", "tier__c": "Gold"}) == []
