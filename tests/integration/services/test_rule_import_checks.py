"""Rule imports check every reference before writing, on both stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rule_store import add_model
from sqlalchemy import Engine, func, select

from territory.errors import ValidationFailed
from territory.services.rules import import_rules
from territory.storage import tables as t
from territory.storage.repositories.rules import RuleRepository

SETUP = Path(__file__).resolve().parents[3] / "examples" / "salesforce-setup"


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_link_to_a_missing_rule_is_a_validation_error(
    engine: Engine, tmp_path: Path
) -> None:
    root = tmp_path / "setup"
    shutil.copytree(SETUP, root)
    links = root / "RuleTerritory2Association.csv"
    text = links.read_text(encoding="utf-8")
    first = "0OHHs0000000AaAKAU,0MIHs0000004C1BKAU"
    links.write_text(
        text.replace(first, "NO-SUCH-RULE,0MIHs0000004C1BKAU"), encoding="utf-8"
    )
    with pytest.raises(ValidationFailed) as info:
        import_rules(engine, root, "fy27", actor="ops")
    assert [i.render() for i in info.value.issues] == [
        "RuleTerritory2Association.csv, row 2, field 'RuleId': rule 'NO-SUCH-RULE' "
        "does not exist in ObjectTerritory2AssignmentRule.csv — export the rule "
        "too, or remove the link"
    ]
    # nothing was written, not even the model the import would have made
    assert _count(engine, t.territory_model) == 0
    assert _count(engine, t.territory_type) == 0


def test_rules_may_link_territories_the_model_already_holds(
    engine: Engine, tmp_path: Path
) -> None:
    add_model(engine, "d", ["BOS"])
    path = tmp_path / "r.yaml"
    path.write_text(
        "territories:\n- {id: BOS-DT, name: Downtown, parent: BOS}\n"
        "rules:\n- id: ma\n  items:\n"
        "  - {field: billing_state, operator: equals, value: MA}\n"
        "  territories: [BOS, BOS-DT]\n"
    )
    import_rules(engine, path, "d", actor="ops")
    with engine.connect() as conn:
        rs = RuleRepository(conn).load("d")
    assert sorted((k.rule_id, k.territory_id) for k in rs.links) == [
        ("ma", "BOS"),
        ("ma", "BOS-DT"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("territories:\n- {id: X, name: X, type: nope, parent: GONE}\n")
    with pytest.raises(ValidationFailed) as info:
        import_rules(engine, bad, "d", actor="ops")
    assert sorted(i.field or "" for i in info.value.issues) == ["parent", "type"]
    assert _count(engine, t.territory) == 2  # BOS and BOS-DT only
