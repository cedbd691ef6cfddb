"""The rules decide the territories they cover: design rows there are replaced.

The store, on SQLite and PostgreSQL: model ``d`` is a ZIP design (BOS holds
02134, SPR holds 01001) turned into rules by ``rules from-design``, plus
EMPTY, a territory with design rows and no rules. Stored before the run::

    Z1  02134  (BOS, design)                   rules give BOS
    Z2  01001  (BOS, design)  stale design     rules give SPR
    Z3  01001  (BOS, design)  excluded         left alone
    Z4  02134  (SPR, manual)                   rules give BOS
    Z5  99999  (EMPTY, design)                 no rule set: kept

So the run adopts Z1's BOS row (update: design -> rule), deletes Z2's stale
BOS row, inserts Z2-SPR and Z4-BOS, and leaves Z3, Z4's manual row and Z5.
"""

from __future__ import annotations

from pathlib import Path

from rule_store import (
    add_accounts,
    add_assignments,
    add_model,
    add_zip_design,
    stored,
)
from sqlalchemy import Engine

from territory.rules import RuleEngine
from territory.services.assign import assign_accounts, reassign_account
from territory.services.rules import export_assignments, rules_from_design
from territory.storage.audit import read_audit
from territory.storage.repositories.rules import RuleRepository

RUN = "run-1"


def _setup(engine: Engine) -> None:
    add_accounts(
        engine,
        [
            {"id": "Z1", "billing_postal_code": "02134"},
            {"id": "Z2", "billing_postal_code": "01001"},
            {"id": "Z3", "billing_postal_code": "01001", "excluded_from_realign": True},
            {"id": "Z4", "billing_postal_code": "02134"},
            {"id": "Z5", "billing_postal_code": "99999"},
        ],
    )
    add_model(engine, "d", ["BOS", "SPR", "EMPTY"])
    add_zip_design(engine, "d", [("02134", "BOS"), ("01001", "SPR")])
    add_assignments(
        engine,
        "d",
        [
            ("Z1", "BOS", "design", RUN),
            ("Z2", "BOS", "design", RUN),
            ("Z3", "BOS", "design", RUN),
            ("Z4", "SPR", "manual", None),
            ("Z5", "EMPTY", "design", RUN),
        ],
    )
    assert rules_from_design(engine, "d", actor="ops").n_rules == 2


def test_rule_run_replaces_design_rows_of_ruled_territories(engine: Engine) -> None:
    _setup(engine)
    diff = assign_accounts(engine, "d", actor="ops")
    assert (diff.inserted, diff.deleted, diff.updated, diff.adopted) == (2, 1, 1, 1)
    assert stored(engine, "d") == [
        ("Z1", "BOS", "rule", "design-BOS"),
        ("Z2", "SPR", "rule", "design-SPR"),
        ("Z3", "BOS", "design", RUN),
        ("Z4", "BOS", "rule", "design-BOS"),
        ("Z4", "SPR", "manual", None),
        ("Z5", "EMPTY", "design", RUN),
    ]
    # the diff: BOS gains Z4 and loses Z2; SPR gains Z2 (the adoption of
    # Z1's row moves nothing)
    moved = {c.key: (c.gained, c.lost) for c in diff.territories}
    assert moved == {"BOS": (1, 1), "SPR": (1, 0)}
    again = assign_accounts(engine, "d", actor="ops")
    assert (again.inserted, again.deleted, again.updated) == (0, 0, 0)


def test_audit_says_which_design_rows_a_run_replaced(engine: Engine) -> None:
    _setup(engine)
    assign_accounts(engine, "d", actor="ops")
    with engine.connect() as conn:
        changes = read_audit(conn, model_id="d", entity="account_assignment")
    got = sorted(
        (c["entity_id"], c["action"], c["old_value"], c["new_value"]) for c in changes
    )
    assert got == [
        (
            "Z1|BOS",
            "update",
            {"territory_id": "BOS", "cause": "design", "source": RUN},
            {"territory_id": "BOS", "cause": "rule", "source": "design-BOS"},
        ),
        (
            "Z2|BOS",
            "delete",
            {"territory_id": "BOS", "cause": "design", "source": RUN},
            None,
        ),
        (
            "Z2|SPR",
            "insert",
            None,
            {"territory_id": "SPR", "cause": "rule", "source": "design-SPR"},
        ),
        (
            "Z4|BOS",
            "insert",
            None,
            {"territory_id": "BOS", "cause": "rule", "source": "design-BOS"},
        ),
    ]


def test_export_gives_rule_rows_as_rule_and_kept_design_rows_as_manual(
    engine: Engine, tmp_path: Path
) -> None:
    _setup(engine)
    assign_accounts(engine, "d", actor="ops")
    out = tmp_path / "ObjectTerritory2Association.csv"
    assert export_assignments(engine, out, "d") == 6
    assert out.read_text().splitlines() == [
        "ObjectId,Territory2Id,AssociationCause",
        "Z1,BOS,Territory2AssignmentRule",
        "Z2,SPR,Territory2AssignmentRule",
        "Z3,BOS,Territory2Manual",  # excluded account: its design row stays
        "Z4,BOS,Territory2AssignmentRule",
        "Z4,SPR,Territory2Manual",
        "Z5,EMPTY,Territory2Manual",  # no rule set: the design row stays
    ]


def test_dry_run_shows_the_replacement_and_writes_nothing(engine: Engine) -> None:
    _setup(engine)
    before = stored(engine, "d")
    dry = assign_accounts(engine, "d", actor="ops", dry_run=True)
    assert (dry.inserted, dry.deleted, dry.updated, dry.adopted) == (2, 1, 1, 1)
    assert stored(engine, "d") == before


def test_overlay_rules_alone_leave_the_designed_plan(
    engine: Engine, tmp_path: Path
) -> None:
    """Only an overlay territory has rules: BOS and SPR keep their design rows."""
    from territory.services.rules import import_rules

    add_accounts(
        engine,
        [
            {"id": "Z1", "billing_postal_code": "02134", "industry": "Healthcare"},
            {"id": "Z2", "billing_postal_code": "01001", "industry": "Retail"},
        ],
    )
    add_model(engine, "d", ["BOS", "SPR"])
    add_assignments(
        engine, "d", [("Z1", "BOS", "design", RUN), ("Z2", "SPR", "design", RUN)]
    )
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        "territories:\n- {id: OV, name: Overlay}\nrules:\n- id: health\n  items:\n"
        "  - {field: industry, operator: equals, value: Healthcare}\n"
        "  territories: [OV]\n"
    )
    import_rules(engine, overlay, "d", actor="ops", create_model=True)
    diff = assign_accounts(engine, "d", actor="ops")
    assert (diff.inserted, diff.deleted, diff.updated) == (1, 0, 0)
    assert stored(engine, "d") == [
        ("Z1", "BOS", "design", RUN),
        ("Z1", "OV", "rule", "health"),
        ("Z2", "SPR", "design", RUN),
    ]


def test_incremental_run_replaces_a_design_row_too(engine: Engine) -> None:
    """Z2 (stale BOS design row, ZIP 01001) re-evaluated alone."""
    _setup(engine)
    with engine.connect() as conn:
        compiled = RuleEngine(RuleRepository(conn).load("d"))
    record = {"id": "Z2", "billing_postal_code": "01001"}
    with engine.begin() as conn:
        assert reassign_account(conn, compiled, "d", record, actor="ops") == 2
    rows = [r for r in stored(engine, "d") if r[0] == "Z2"]
    assert rows == [("Z2", "SPR", "rule", "design-SPR")]
    with engine.connect() as conn:
        changes = read_audit(conn, model_id="d", entity="account_assignment")
    assert sorted((c["entity_id"], c["action"]) for c in changes) == [
        ("Z2|BOS", "delete"),
        ("Z2|SPR", "insert"),
    ]
    assert next(c for c in changes if c["action"] == "delete")["old_value"] == {
        "territory_id": "BOS",
        "cause": "design",
        "source": RUN,
    }
    record5 = {"id": "Z5", "billing_postal_code": "02134"}
    with engine.begin() as conn:
        assert reassign_account(conn, compiled, "d", record5, actor="ops") == 1
    assert [r for r in stored(engine, "d") if r[0] == "Z5"] == [
        ("Z5", "BOS", "rule", "design-BOS"),
        ("Z5", "EMPTY", "design", RUN),  # EMPTY has no rules: kept
    ]
