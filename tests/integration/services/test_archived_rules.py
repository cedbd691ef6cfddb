"""An archived model's rules and assignments cannot change; reading still works.

Model ``d`` is a two-territory ZIP design (BOS 02134, SPR 01001) turned into
rules and assigned, then archived. Every rule-side write refuses with
``model_archived``; the dry run, explain, lint and the exports answer as
before, and the store is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_store import add_accounts, add_model, add_zip_design, stored
from sqlalchemy import Engine, func, select

from territory.errors import Conflict
from territory.rules import RuleEngine
from territory.services.assign import (
    assign_accounts,
    assign_opportunities,
    explain_account,
    reassign_account,
)
from territory.services.models import archive_model
from territory.services.rules import (
    export_assignments,
    export_rules,
    import_rules,
    lint_model,
    rules_from_design,
)
from territory.storage import tables as t
from territory.storage.repositories.rules import RuleRepository

OVERLAY = (
    "territories:\n- {id: OV, name: Overlay}\nrules:\n- id: r\n  items:\n"
    "  - {field: billing_state, operator: equals, value: MA}\n  territories: [OV]\n"
)


def _archived(engine: Engine) -> None:
    add_accounts(
        engine,
        [
            {"id": "Z1", "billing_postal_code": "02134", "billing_state": "MA"},
            {"id": "Z2", "billing_postal_code": "01001", "billing_state": "MA"},
        ],
    )
    add_model(engine, "d", ["BOS", "SPR"])
    add_zip_design(engine, "d", [("02134", "BOS"), ("01001", "SPR")])
    rules_from_design(engine, "d", actor="ops")
    assign_accounts(engine, "d", actor="ops")
    archive_model(engine, "d", actor="ops")


def _rule_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.assignment_rule)
            ).scalar_one()
        )


@pytest.mark.parametrize(
    "write",
    ["assign", "import", "from_design", "opportunities", "reassign"],
)
def test_rule_side_writes_refuse_an_archived_model(
    engine: Engine, tmp_path: Path, write: str
) -> None:
    _archived(engine)
    before = stored(engine, "d")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY)
    with engine.connect() as conn:
        compiled = RuleEngine(RuleRepository(conn).load("d"))
    moved = {"id": "Z1", "billing_postal_code": "01001"}
    calls = {
        "assign": lambda: assign_accounts(engine, "d", actor="ops"),
        "import": lambda: import_rules(
            engine, overlay, "d", actor="ops", create_model=True
        ),
        "from_design": lambda: rules_from_design(engine, "d", actor="ops"),
        "opportunities": lambda: assign_opportunities(engine, "d", actor="ops"),
    }
    with pytest.raises(Conflict, match="Model 'd' is archived, so it cannot") as info:
        if write == "reassign":
            with engine.begin() as conn:
                reassign_account(conn, compiled, "d", moved, actor="ops")
        else:
            calls[write]()
    assert info.value.code == "model_archived"
    assert "territory model clone 'd' NEW" in info.value.message
    assert stored(engine, "d") == before
    assert _rule_count(engine) == 2


def test_reading_an_archived_model_still_works(engine: Engine, tmp_path: Path) -> None:
    _archived(engine)
    dry = assign_accounts(engine, "d", actor="ops", dry_run=True)
    assert dry.dry_run and (dry.inserted, dry.deleted, dry.updated) == (0, 0, 0)
    assert explain_account(engine, "d", "Z1").assigned == ("BOS",)
    assert lint_model(engine, "d") == ()
    assert [p.name for p in export_rules(engine, tmp_path / "r.yaml", "d")] == [
        "r.yaml"
    ]
    out = tmp_path / "ObjectTerritory2Association.csv"
    assert export_assignments(engine, out, "d") == 2
