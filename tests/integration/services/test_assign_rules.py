"""Rules in the store, rule runs, explanations and opportunities, on both stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from territory.errors import Conflict, ValidationFailed
from territory.io.salesforce import read_salesforce_setup
from territory.services.assign import (
    assign_accounts,
    assign_opportunities,
    explain_account,
)
from territory.services.rules import (
    export_assignments,
    export_rules,
    import_rules,
    lint_model,
    rules_from_design,
)
from territory.storage import tables as t
from territory.storage.audit import read_audit
from territory.storage.repositories.rules import RuleRepository

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SETUP = EXAMPLES / "salesforce-setup"
T0 = datetime(2027, 1, 1, tzinfo=UTC)
# Salesforce territory ids of the example org
NE_ENT, NE_COM, SE_COM = (
    "0MIHs0000004C1HKAU",
    "0MIHs0000004C1IKAU",
    "0MIHs0000004C1KKAU",
)
BAY, PACIFIC, HEALTH, STRATEGIC = (
    "0MIHs0000004C1LKAU",
    "0MIHs0000004C1FKAU",
    "0MIHs0000004C1MKAU",
    "0MIHs0000004C1NKAU",
)

ACCOUNTS = [
    # id, name, state, zip, industry, revenue, employees, tier, excluded
    ("A1", "Acme, Inc.", "NY", "10001", "Banking", 2e8, 1000, None, False),
    ("A2", "Initech", "GA", "30301", "Healthcare", 5e7, 250, None, False),
    ("A3", "Globex Corporation", "CA", "94105-1234", "Retail", 9e8, 5000, None, False),
    ("A4", "Hooli", "CA", "90001", "Biotechnology", None, 300, None, False),
    ("A5", "Umbrella", "NY", "10002", "Banking", 1e6, 5, None, True),
]


def _add_accounts(engine: Engine, rows: list[tuple[object, ...]] = ACCOUNTS) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                {
                    "id": a,
                    "name": n,
                    "billing_state": s,
                    "billing_postal_code": z,
                    "billing_country": "US",
                    "industry": i,
                    "annual_revenue": r,
                    "employees": e,
                    "custom_fields": {"Tier__c": tier} if tier else None,
                    "excluded_from_realign": x,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for a, n, s, z, i, r, e, tier, x in rows
            ],
        )


def _pairs(engine: Engine, model_id: str) -> list[tuple[str, str, str]]:
    aa = t.account_assignment
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(aa.c.account_id, aa.c.territory_id, aa.c.cause).where(
                    aa.c.model_id == model_id
                )
            ).all()
        )


def _routing(engine: Engine, model_id: str) -> dict[str, str]:
    """Each routed opportunity's territory in the model (none: no entry)."""
    ot = t.opportunity_territory
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(ot.c.opportunity_id, ot.c.territory_id).where(
                    ot.c.model_id == model_id
                )
            ).all()
        )


def _audit_count(engine: Engine, entity: str) -> int:
    """Audit entries of ``entity``; a rule run's changes count one each."""
    with engine.connect() as conn:
        return len(read_audit(conn, entity=entity))


def test_rules_round_trip_through_the_store(engine: Engine, tmp_path: Path) -> None:
    result = import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    assert result.created_model and result.counts.rules == 12
    with engine.connect() as conn:
        stored = RuleRepository(conn).load(result.model_id)
    original = read_salesforce_setup(SETUP, result.model_id)
    assert stored == original
    export_rules(engine, tmp_path / "out", "fy27")
    assert read_salesforce_setup(tmp_path / "out", result.model_id) == original
    export_rules(engine, tmp_path / "rules.yaml", "fy27")
    again = import_rules(
        engine, tmp_path / "rules.yaml", "fy27", actor="ops", create_model=True
    )
    assert not again.created_model
    with engine.connect() as conn:
        assert RuleRepository(conn).load(result.model_id) == original


def test_duplicate_type_priority_fails_and_rolls_back(
    engine: Engine, tmp_path: Path
) -> None:
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    clash = tmp_path / "clash.yaml"
    clash.write_text(
        "territory_types:\n- {id: other, name: Other, priority: 1}\n"
        "territories:\n- {id: X, name: X, type: other}\n"
    )
    with pytest.raises(
        Conflict, match="priority 1, which type '0M5Hs000000k9aAKAQ'"
    ) as info:
        import_rules(engine, clash, "fy27", actor="ops", create_model=True)
    assert info.value.code == "territory_type_priority_taken"
    with engine.connect() as conn:
        assert "X" not in {x.id for x in RuleRepository(conn).territories("fy27")}


def test_import_refuses_rules_that_cannot_run(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "territories:\n- {id: X, name: X}\nrules:\n- id: r\n  filter: 1 AND 2\n"
        "  items:\n  - {field: billing_state, operator: equals, value: CA}\n"
        "  territories: [X]\n"
    )
    with pytest.raises(ValidationFailed, match="item 2 does not exist"):
        import_rules(engine, bad, "m", actor="ops", create_model=True)
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(t.territory_model)
            ).scalar_one()
            == 0
        )


def test_dry_run_writes_nothing_and_real_run_writes_with_audit(engine: Engine) -> None:
    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    dry = assign_accounts(engine, "fy27", actor="ops", dry_run=True)
    assert dry.dry_run and dry.inserted == 8 and dry.n_excluded == 1
    assert _pairs(engine, "fy27") == []
    gained = {c.key: (c.gained, c.revenue_gained_usd) for c in dry.territories}
    assert gained[NE_ENT] == (1, 2e8)
    assert gained[STRATEGIC] == (2, 2e8 + 9e8)
    real = assign_accounts(engine, "fy27", actor="ops")
    assert real.inserted == 8
    assert _pairs(engine, "fy27") == sorted(
        [
            ("A1", NE_ENT, "rule"),
            ("A1", STRATEGIC, "rule"),
            ("A2", HEALTH, "rule"),
            ("A2", SE_COM, "rule"),
            ("A3", BAY, "rule"),
            ("A3", STRATEGIC, "rule"),
            ("A4", HEALTH, "rule"),
            ("A4", PACIFIC, "rule"),
        ]
    )  # A5 is excluded from realignment: untouched
    assert _audit_count(engine, "account_assignment") == 8
    again = assign_accounts(engine, "fy27", actor="ops")
    assert (again.inserted, again.deleted, again.updated) == (0, 0, 0)
    assert _audit_count(engine, "account_assignment") == 8


def test_manual_assignments_and_exclusions_survive_a_rerun(engine: Engine) -> None:
    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    with engine.begin() as conn:
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": "fy27",
                    "account_id": "A1",
                    "territory_id": PACIFIC,
                    "cause": "manual",
                },
                {
                    "model_id": "fy27",
                    "account_id": "A5",
                    "territory_id": BAY,
                    "cause": "rule",
                },
                {
                    "model_id": "fy27",
                    "account_id": "A4",
                    "territory_id": BAY,
                    "cause": "rule",
                },
            ],
        )
    diff = assign_accounts(engine, "fy27", actor="ops")
    pairs = _pairs(engine, "fy27")
    assert ("A1", PACIFIC, "manual") in pairs  # manual survives
    assert ("A5", BAY, "rule") in pairs  # excluded account untouched
    assert ("A4", BAY, "rule") not in pairs  # stale rule row removed
    assert diff.deleted == 1
    lost = {c.key: c.lost for c in diff.territories}
    assert lost[BAY] == 1


def test_only_selected_accounts_are_reassigned(engine: Engine, tmp_path: Path) -> None:
    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    diff = assign_accounts(engine, "fy27", actor="ops", account_ids=["A2"])
    assert diff.n_accounts == 1
    assert {a for a, _, _ in _pairs(engine, "fy27")} == {"A2"}
    with engine.begin() as conn:
        conn.execute(
            update(t.account)
            .where(t.account.c.id == "A3")
            .values(updated_at=T0 + timedelta(days=2))
        )
    diff = assign_accounts(
        engine, "fy27", actor="ops", changed_since=T0 + timedelta(days=1)
    )
    assert diff.n_accounts == 1
    assert {a for a, _, _ in _pairs(engine, "fy27")} == {"A2", "A3"}


def test_explain_and_lint_through_the_store(engine: Engine) -> None:
    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    ex = explain_account(engine, "fy27", "A4")
    assert ex.assigned == (PACIFIC, HEALTH)  # sorted ids
    bay = next(x for x in ex.territories if x.territory_id == BAY)
    assert "'90001' -> no" in bay.reason
    codes = {f.code for f in lint_model(engine, "fy27")}
    assert "blank_decided" in codes  # A4 has no revenue


def test_opportunities_take_the_top_priority_type(engine: Engine) -> None:
    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    assign_accounts(engine, "fy27", actor="ops")
    with engine.begin() as conn:
        conn.execute(
            insert(t.opportunity),
            [
                {"id": "O1", "account_id": "A1", "amount": 1.0, "stage": "Open"},
                {"id": "O2", "account_id": "A2", "amount": 1.0, "stage": "Open"},
                {"id": "O3", "account_id": "A5", "amount": 1.0, "stage": "Open"},
            ],
        )
        conn.execute(
            insert(t.opportunity).values(
                id="O4",
                account_id="A3",
                amount=1.0,
                stage="Open",
                excluded_from_territory_assignment=True,
            )
        )
        conn.execute(
            insert(t.opportunity_territory).values(
                model_id="fy27", opportunity_id="O4", territory_id=NE_COM
            )
        )
    # O1: Strategic (named, 3) beats Northeast Enterprise (geography, 1);
    # O2: the industry overlay (2) beats Southeast Commercial (1);
    # O3: A5 has no territory (excluded from realignment) -> none;
    # O4: excluded from territory assignment: keeps its territory
    res = assign_opportunities(engine, "fy27", actor="ops")
    assert _routing(engine, "fy27") == {"O1": STRATEGIC, "O2": HEALTH, "O4": NE_COM}
    assert (res.changed, res.excluded) == (2, 1)
    again = assign_opportunities(engine, "fy27", actor="ops")
    assert again.changed == 0


def test_opportunity_tie_at_the_top_gives_none(engine: Engine) -> None:
    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    with engine.begin() as conn:
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": "fy27",
                    "account_id": "A1",
                    "territory_id": NE_ENT,
                    "cause": "manual",
                },
                {
                    "model_id": "fy27",
                    "account_id": "A1",
                    "territory_id": NE_COM,
                    "cause": "manual",
                },
            ],
        )
        conn.execute(
            insert(t.opportunity),
            [{"id": "O1", "account_id": "A1", "amount": 1.0, "stage": "Open"}],
        )
    res = assign_opportunities(engine, "fy27", actor="ops")
    assert res.ties == 1
    assert _routing(engine, "fy27") == {}


def test_rules_from_design_reproduce_the_zip_design(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [
        ("Z1", "Zip One", "MA", "02134", "Retail", 1e6, 10, None, False),
        ("Z2", "Zip Two", "MA", "02135-0001", "Retail", 1e6, 10, None, False),
        ("Z3", "Zip Three", "MA", "01001", "Retail", 1e6, 10, None, False),
        ("Z4", "Far", "TX", "75001", "Retail", 1e6, 10, None, False),
    ]
    _add_accounts(engine, rows)
    with engine.begin() as conn:
        conn.execute(
            insert(t.territory_model).values(
                id="d", name="d", state="planning", description="", created_at=T0
            )
        )
        conn.execute(
            insert(t.territory),
            [
                {"model_id": "d", "id": i, "name": i, "attributes": {}}
                for i in ("BOS", "SPR")
            ],
        )
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": "d",
                    "unit_kind": "zip",
                    "unit_id": z,
                    "territory_id": tid,
                    "cause": "design",
                }
                for z, tid in [("02134", "BOS"), ("02135", "BOS"), ("01001", "SPR")]
            ],
        )
    made = rules_from_design(engine, "d", actor="ops")
    assert (made.n_rules, made.n_values) == (2, 3)
    assign_accounts(engine, "d", actor="ops")
    assert _pairs(engine, "d") == [
        ("Z1", "BOS", "rule"),
        ("Z2", "BOS", "rule"),
        ("Z3", "SPR", "rule"),
    ]
    out = tmp_path / "ObjectTerritory2Association.csv"
    assert export_assignments(engine, out, "d", for_load=True) == 3
    assert out.read_text().splitlines()[1] == "Z1,BOS,Territory2Manual"


def test_two_thousand_code_zip_table_is_stored_whole(
    engine: Engine, tmp_path: Path
) -> None:
    codes = [f"{z:05d}" for z in range(1000, 3000)]
    path = tmp_path / "big.yaml"
    path.write_text(
        "territories:\n- {id: T, name: T}\nrules:\n- id: r\n  items:\n"
        "  - {field: billing_postal_code, operator: inTable, value: big}\n"
        "  territories: [T]\n"
        "value_sets:\n  big: [" + ", ".join(f"'{c}'" for c in codes) + "]\n"
    )
    import_rules(engine, path, "m", actor="ops", create_model=True)
    with engine.connect() as conn:
        stored = RuleRepository(conn).load("m").value_sets["big"]
    assert len(stored) == 2000 and "01000" in stored and "02999" in stored
    _add_accounts(
        engine, [("Z", "Z", "MA", "02999-1234", "Retail", 1.0, 1, None, False)]
    )
    assign_accounts(engine, "m", actor="ops")
    assert _pairs(engine, "m") == [("Z", "T", "rule")]
    _ = replace


def test_reassign_one_account_moves_it_and_audits(engine: Engine) -> None:
    from territory.rules import RuleEngine
    from territory.services.assign import reassign_account

    _add_accounts(engine)
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    assign_accounts(engine, "fy27", actor="ops")
    with engine.connect() as conn:
        compiled = RuleEngine(RuleRepository(conn).load("fy27"))
    before = _audit_count(engine, "account_assignment")
    moved = {"id": "A2", "name": "Initech", "billing_state": "CA",
             "billing_postal_code": "94105", "industry": "Retail",
             "annual_revenue": 5e7, "employees": 250}  # fmt: skip
    with engine.begin() as conn:
        n = reassign_account(conn, compiled, "fy27", moved, actor="ops")
    # A2 leaves Southeast Commercial and the healthcare overlay, joins the Bay Area
    assert n == 3
    assert [p for p in _pairs(engine, "fy27") if p[0] == "A2"] == [("A2", BAY, "rule")]
    assert _audit_count(engine, "account_assignment") == before + 3
    with engine.begin() as conn:
        assert reassign_account(conn, compiled, "fy27", moved, actor="ops") == 0
        assert (
            reassign_account(
                conn, compiled, "fy27", {"id": "A1"}, actor="ops", excluded=True
            )
            == 0
        )


def test_rules_demo_turns_design_into_rules_adds_overlays_and_explains(
    engine: Engine,
) -> None:
    from territory.services.rules import run_rules_demo

    rows = [
        (
            "SAMPLE-000001",
            "Big Hospital",
            "MA",
            "02134",
            "Healthcare",
            3e8,
            900,
            None,
            False,
        ),
        ("SAMPLE-000004", "Shop", "MA", "01001", "Retail", 1e6, 10, None, False),
    ]
    _add_accounts(engine, rows)
    with engine.begin() as conn:
        conn.execute(
            insert(t.territory_model).values(
                id="d", name="d", state="planning", description="", created_at=T0
            )
        )
        conn.execute(
            insert(t.territory),
            [
                {"model_id": "d", "id": i, "name": i, "attributes": {}}
                for i in ("BOS", "SPR")
            ],
        )
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": "d",
                    "unit_kind": "zip",
                    "unit_id": z,
                    "territory_id": tid,
                    "cause": "design",
                }
                for z, tid in [("02134", "BOS"), ("01001", "SPR")]
            ],
        )
    demo = run_rules_demo(engine, "d", overlays=EXAMPLES / "overlays.yaml", actor="ops")
    assert demo.design.n_rules == 2 and demo.overlays.counts.rules == 2
    assert _pairs(engine, "d") == [
        ("SAMPLE-000001", "BOS", "rule"),
        ("SAMPLE-000001", "OVERLAY-HEALTHCARE", "rule"),
        ("SAMPLE-000001", "OVERLAY-STRATEGIC", "rule"),
        ("SAMPLE-000004", "SPR", "rule"),
    ]
    assert demo.explanation is not None
    assert demo.explanation.account_id == "SAMPLE-000001"


def test_replace_import_and_design_rerun_drop_stale_rules(engine: Engine) -> None:
    import_rules(engine, SETUP, "fy27", actor="ops", create_model=True)
    import_rules(
        engine,
        EXAMPLES / "overlays.yaml",
        "fy27",
        actor="ops",
        replace_rules=True,
        create_model=True,
    )
    with engine.connect() as conn:
        kept = RuleRepository(conn).load("fy27")
    assert sorted(r.id for r in kept.rules) == [
        "overlay-healthcare",
        "overlay-strategic",
    ]
    assert set(kept.value_sets) == {"strategic-accounts"}
    assert len(kept.territories) == 16  # territories are merged, never dropped
    with engine.begin() as conn:
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": "fy27",
                    "unit_kind": "zip",
                    "unit_id": z,
                    "territory_id": tid,
                    "cause": "design",
                }
                for z, tid in [("02134", BAY), ("01001", PACIFIC)]
            ],
        )
    assert rules_from_design(engine, "fy27", actor="ops").n_rules == 2
    with engine.begin() as conn:
        conn.execute(
            t.unit_assignment.delete().where(
                t.unit_assignment.c.territory_id == PACIFIC
            )
        )
    assert rules_from_design(engine, "fy27", actor="ops").n_rules == 1
    with engine.connect() as conn:
        ids = sorted(r.id for r in RuleRepository(conn).load("fy27").rules)
    assert ids == [f"design-{BAY}", "overlay-healthcare", "overlay-strategic"]


def test_rules_from_a_county_design_write_zip_tables(engine: Engine) -> None:
    """Suffolk MA (25025) -> BOS, Hampden MA (25013) -> SPR.

    02134 (Allston) lies in Suffolk and 01001 (Agawam) in Hampden in the
    ``zipcodes`` directory; 00000 is in no directory and follows the county
    of its accounts; Z6 sits in 02134 but was placed in Hampden, so the ZIP
    tables move it: one account elsewhere.
    """
    rows = [
        ("Z1", "Allston", "MA", "02134", "Retail", 1e6, 10, None, False),
        ("Z3", "Agawam", "MA", "01001-2000", "Retail", 1e6, 10, None, False),
        ("Z5", "Nowhere", "MA", "00000", "Retail", 1e6, 10, None, False),
        ("Z6", "Misplaced", "MA", "02134", "Retail", 1e6, 10, None, False),
    ]
    _add_accounts(engine, rows)
    county = {"Z1": "25025", "Z3": "25013", "Z5": "25013", "Z6": "25013"}
    with engine.begin() as conn:
        for aid, fips in county.items():
            conn.execute(
                update(t.account).where(t.account.c.id == aid).values(county_id=fips)
            )
        conn.execute(
            insert(t.territory_model).values(
                id="c", name="c", state="planning", description="", created_at=T0
            )
        )
        conn.execute(
            insert(t.territory),
            [
                {"model_id": "c", "id": i, "name": i, "attributes": {}}
                for i in ("BOS", "SPR")
            ],
        )
        conn.execute(
            insert(t.unit_assignment),
            [
                {"model_id": "c", "unit_kind": "county", "unit_id": u,
                 "territory_id": tid, "cause": "design"}
                for u, tid in [("25025", "BOS"), ("25013", "SPR")]
            ],
        )  # fmt: skip
    made = rules_from_design(engine, "c", actor="ops")
    assert (made.level, made.derived_from, made.accounts_elsewhere) == (
        "zip",
        "county",
        1,
    )
    rules = _value_sets(engine, "c")
    assert "02134" in rules["design-zip-BOS"] and "02134" not in rules["design-zip-SPR"]
    assert {"01001", "00000"} <= rules["design-zip-SPR"]
    assert made.n_values == len(rules["design-zip-BOS"]) + len(rules["design-zip-SPR"])
    assign_accounts(engine, "c", actor="ops")
    assert _pairs(engine, "c") == [
        ("Z1", "BOS", "rule"),
        ("Z3", "SPR", "rule"),
        ("Z5", "SPR", "rule"),
        ("Z6", "BOS", "rule"),
    ]


def _value_sets(engine: Engine, model_id: str) -> dict[str, frozenset[str]]:
    with engine.connect() as conn:
        return dict(RuleRepository(conn).load(model_id).value_sets)
