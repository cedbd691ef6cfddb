"""Opportunity territories are per model: a what-if run leaves the live routing.

The org is ``examples/rules.yaml``. A1 ("Acme, Inc.", NY, 200 M USD) lands in
Northeast Enterprise (geography, priority 1) and Strategic Accounts (named,
priority 3, matched by name), so its opportunity O1 goes to Strategic
Accounts. The clone ``yml-b`` deactivates the named-account rule: there A1
is only in Northeast Enterprise, and so is O1 — in ``yml-b`` only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_store import add_accounts
from sqlalchemy import Engine, insert, select

from territory.errors import Conflict
from territory.services.assign import assign_accounts, assign_opportunities
from territory.services.exporting import export_frame
from territory.services.importing import import_file
from territory.services.models import archive_model, clone_model
from territory.services.rules import import_rules
from territory.storage import tables as t

RULES = Path(__file__).resolve().parents[3] / "examples" / "rules.yaml"
NO_NAMED = """rules:
- id: strategic-named
  name: Strategic named accounts
  active: false
  items:
  - {field: Account.Tier__c, operator: equals, value: Strategic}
  territories: [strategic-accounts]
"""


def _routing(engine: Engine, model_id: str) -> dict[str, str]:
    ot = t.opportunity_territory
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(ot.c.opportunity_id, ot.c.territory_id).where(
                    ot.c.model_id == model_id
                )
            ).all()
        )


def _org(engine: Engine) -> None:
    add_accounts(
        engine,
        [{"id": "A1", "name": "Acme, Inc.", "billing_state": "NY",
          "billing_postal_code": "10001", "annual_revenue": 2e8}],
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            insert(t.opportunity),
            [{"id": "O1", "account_id": "A1", "amount": 10.0, "stage": "Open"}],
        )
    import_rules(engine, RULES, "yml", actor="ops", create_model=True)
    assign_accounts(engine, "yml", actor="ops")
    assert assign_opportunities(engine, "yml", actor="ops").changed == 1


def test_what_if_run_on_a_clone_leaves_the_live_routing(
    engine: Engine, tmp_path: Path
) -> None:
    _org(engine)
    assert _routing(engine, "yml") == {"O1": "strategic-accounts"}
    copied = clone_model(engine, "yml", "yml-b", actor="ops").counts
    assert copied["opportunity_territory"] == 1
    assert _routing(engine, "yml-b") == {"O1": "strategic-accounts"}
    change = tmp_path / "no-named.yaml"
    change.write_text(NO_NAMED)
    import_rules(engine, change, "yml-b", actor="ops", create_model=True)
    assign_accounts(engine, "yml-b", actor="ops")
    res = assign_opportunities(engine, "yml-b", actor="ops")
    assert (res.changed, res.unchanged) == (1, 0)
    assert _routing(engine, "yml-b") == {"O1": "northeast-enterprise"}
    assert _routing(engine, "yml") == {"O1": "strategic-accounts"}
    live = export_frame(engine, "opportunities", model="yml")
    what_if = export_frame(engine, "opportunities", model="yml-b")
    assert live.select("id", "territory_id").rows() == [("O1", "strategic-accounts")]
    assert what_if.select("id", "territory_id").rows() == [
        ("O1", "northeast-enterprise")
    ]
    # no model named and none active: the export gives no territory
    assert export_frame(engine, "opportunities")["territory_id"].to_list() == [None]


def test_opportunity_import_routes_within_its_model(
    engine: Engine, tmp_path: Path
) -> None:
    _org(engine)
    clone_model(engine, "yml", "yml-b", actor="ops")
    path = tmp_path / "opportunities.csv"
    path.write_text(
        "id,account_id,amount,stage,territory_id\n"
        "O1,A1,10,Open,northeast-enterprise\n"
        "O2,A1,5,Open,\n"
    )
    import_file(engine, "opportunities", path, model="yml-b", actor="ops")
    assert _routing(engine, "yml-b") == {"O1": "northeast-enterprise"}
    assert _routing(engine, "yml") == {"O1": "strategic-accounts"}
    path.write_text("id,account_id,amount,stage,territory_id\nO1,A1,10,Open,\n")
    import_file(engine, "opportunities", path, model="yml", actor="ops")
    assert _routing(engine, "yml") == {}  # cleared in yml only
    assert _routing(engine, "yml-b") == {"O1": "northeast-enterprise"}


def test_opportunity_routing_refuses_an_archived_model(engine: Engine) -> None:
    _org(engine)
    archive_model(engine, "yml", actor="ops")
    with pytest.raises(Conflict, match="is archived, so it cannot route") as info:
        assign_opportunities(engine, "yml", actor="ops")
    assert info.value.code == "model_archived"
    assert _routing(engine, "yml") == {"O1": "strategic-accounts"}
