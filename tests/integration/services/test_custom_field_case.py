"""Custom field names resolve without regard to case, on both stores.

The rule ``Account.Tier__c equals Strategic`` links territory S. Stored::

    C1  {"tier__c": "Strategic"}                  -> S
    C2  {"Tier__c": "Gold"}                       -> nothing (Gold)
    C3  {"Tier__c": "", "tier__c": "Strategic"}   -> S (first non-blank)
"""

from __future__ import annotations

from pathlib import Path

from rule_store import add_accounts, stored
from sqlalchemy import Engine

from territory.services.assign import assign_accounts, explain_account
from territory.services.rules import import_rules, lint_model

RULE = (
    "territories:\n- {id: S, name: Strategic}\nrules:\n- id: tier\n  items:\n"
    "  - {field: Account.Tier__c, operator: equals, value: Strategic}\n"
    "  territories: [S]\n"
)


def _rules(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tier.yaml"
    path.write_text(RULE)
    import_rules(engine, path, "m", actor="ops", create_model=True)


def test_a_lowercase_stored_field_matches_the_rule(
    engine: Engine, tmp_path: Path
) -> None:
    add_accounts(
        engine,
        [
            {"id": "C1", "custom_fields": {"tier__c": "Strategic"}},
            {"id": "C2", "custom_fields": {"tier__c": "Gold"}},
        ],
    )
    _rules(engine, tmp_path)
    assign_accounts(engine, "m", actor="ops")
    assert [(a, tid) for a, tid, _, _ in stored(engine, "m")] == [("C1", "S")]
    assert explain_account(engine, "m", "C1").assigned == ("S",)
    # no blank decided anything: the field is there, under another case
    assert [f.code for f in lint_model(engine, "m")] == ["accounts_unmatched"]


def test_two_stored_spellings_are_read_as_one_and_lint_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    add_accounts(
        engine,
        [
            {"id": "C1", "custom_fields": {"tier__c": "Strategic"}},
            {"id": "C2", "custom_fields": {"Tier__c": "Gold"}},
            {"id": "C3", "custom_fields": {"Tier__c": "", "tier__c": "Strategic"}},
        ],
    )
    _rules(engine, tmp_path)
    diff = assign_accounts(engine, "m", actor="ops")
    assert diff.inserted == 2
    assert [(a, tid) for a, tid, _, _ in stored(engine, "m")] == [
        ("C1", "S"),
        ("C3", "S"),
    ]
    assert explain_account(engine, "m", "C3").assigned == ("S",)
    findings = {f.code: f for f in lint_model(engine, "m")}
    variants = findings["field_case_variants"]
    assert variants.values == ("Tier__c", "tier__c")
    assert variants.rule_id == "tier"
    assert variants.message.startswith(
        "custom field Tier__c is stored under 2 spellings (Tier__c, tier__c)"
    )
    assert "blank_decided" not in findings
