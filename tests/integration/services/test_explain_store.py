"""`explain` starts from where the account sits in the store, on both stores.

The org is ``examples/rules.yaml``. A05 (CA, 94105, 50 M USD) and A06 (CA,
94107, 50 M USD) are assigned by the rules to the Bay Area (Pacific states
inherited from Pacific, plus the Bay Area ZIP range). Then:

* A05 is also put in Northeast Commercial by hand (a manual import);
* A06 is flagged excluded from realignment and moves to NY: the rules now
  give Northeast Commercial (East and Northeast states inherited, revenue
  under 100 M), but it really still sits in the Bay Area.
"""

from __future__ import annotations

from pathlib import Path

from rule_store import add_accounts, add_assignments, add_model
from sqlalchemy import Engine, update

from territory.rules import StoredAssociation
from territory.services.assign import assign_accounts, explain_account
from territory.services.rules import import_rules
from territory.storage import tables as t

RULES = Path(__file__).resolve().parents[3] / "examples" / "rules.yaml"
BAY = "Bay Area (bay-area)"
NE_COM = "Northeast Commercial (northeast-commercial)"


def _org(engine: Engine) -> None:
    add_accounts(
        engine,
        [
            {"id": "A05", "billing_state": "CA", "billing_postal_code": "94105",
             "annual_revenue": 5e7},
            {"id": "A06", "billing_state": "CA", "billing_postal_code": "94107",
             "annual_revenue": 5e7},
        ],
    )  # fmt: skip
    import_rules(engine, RULES, "fy27", actor="ops", create_model=True)
    assign_accounts(engine, "fy27", actor="ops")


def test_explain_lists_a_manual_association_beside_the_rules(engine: Engine) -> None:
    _org(engine)
    add_assignments(engine, "fy27", [("A05", "northeast-commercial", "manual", None)])
    ex = explain_account(engine, "fy27", "A05")
    assert ex.stored == (
        StoredAssociation("bay-area", "rule", "bay-area-zips"),
        StoredAssociation("northeast-commercial", "manual", None),
    )
    assert ex.assigned == ("bay-area",) and not ex.excluded
    assert not ex.changes_on_next_run
    lines = ex.lines()
    assert lines[:5] == [
        f"Account A05 sits in: {BAY} — rule bay-area-zips; {NE_COM} — manual",
        f"The rules put it in: {BAY}",
        "Next rule run:",
        f"  - stays in {BAY}: the rules agree",
        f"  - kept in {NE_COM}: a manual association (the rules alone would not "
        "put it there)",
    ]
    marks = {x.territory_id: x.stored for x in ex.territories[:2]}
    assert marks == {
        "bay-area": StoredAssociation("bay-area", "rule", "bay-area-zips"),
        "northeast-commercial": StoredAssociation(
            "northeast-commercial", "manual", None
        ),
    }
    assert any(
        line.startswith(f"  {NE_COM} [here: manual; rules: failed]: failed rule ")
        for line in lines
    )


def test_explain_of_an_excluded_account_says_it_is_kept(engine: Engine) -> None:
    _org(engine)
    with engine.begin() as conn:
        conn.execute(
            update(t.account)
            .where(t.account.c.id == "A06")
            .values(excluded_from_realign=True, billing_state="NY")
        )
    ex = explain_account(engine, "fy27", "A06")
    assert ex.stored == (StoredAssociation("bay-area", "rule", "bay-area-zips"),)
    assert ex.excluded and ex.assigned == ("northeast-commercial",)
    assert ex.lines()[:6] == [
        f"Account A06 sits in: {BAY} — rule bay-area-zips",
        "  excluded from realignment: rule runs leave its associations as they are",
        f"The rules put it in: {NE_COM}",
        "Next rule run:",
        f"  - kept in {BAY}: excluded from realignment (the rules would remove it "
        "from there)",
        f"  - kept out of {NE_COM}: excluded from realignment (the rules would put "
        "it there)",
    ]
    # and a run indeed changes nothing for it
    diff = assign_accounts(engine, "fy27", actor="ops", dry_run=True)
    assert (diff.inserted, diff.deleted, diff.updated) == (0, 0, 0)


def test_explain_flags_what_the_next_run_would_change(engine: Engine) -> None:
    """A06 moves to NY without being excluded: the rules would move it."""
    _org(engine)
    with engine.begin() as conn:
        conn.execute(
            update(t.account).where(t.account.c.id == "A06").values(billing_state="NY")
        )
    ex = explain_account(engine, "fy27", "A06")
    assert ex.changes_on_next_run
    assert ex.next_run == (
        f"the rules would remove it from {BAY} on the next run (a rule association "
        "the rules no longer give)",
        f"the rules would add it to {NE_COM} on the next run",
    )


def test_explain_on_a_model_without_rules_shows_where_it_sits(engine: Engine) -> None:
    add_accounts(engine, [{"id": "Z1", "billing_postal_code": "02134"}])
    add_model(engine, "d", ["BOS", "SPR"])
    add_assignments(
        engine, "d", [("Z1", "BOS", "design", "run-1"), ("Z1", "SPR", "manual", None)]
    )
    ex = explain_account(engine, "d", "Z1")
    assert not ex.has_rules
    assert ex.lines() == [
        "Account Z1 sits in: BOS — design (run-1); SPR — manual",
        "The model has no rules: rule runs leave every association as it is.",
    ]
