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
        import_rules(engine, root, "fy27", actor="ops", create_model=True)
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
    import_rules(engine, path, "d", actor="ops", create_model=True)
    with engine.connect() as conn:
        rs = RuleRepository(conn).load("d")
    assert sorted((k.rule_id, k.territory_id) for k in rs.links) == [
        ("ma", "BOS"),
        ("ma", "BOS-DT"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("territories:\n- {id: X, name: X, type: nope, parent: GONE}\n")
    with pytest.raises(ValidationFailed) as info:
        import_rules(engine, bad, "d", actor="ops", create_model=True)
    assert sorted(i.field or "" for i in info.value.issues) == ["parent", "type"]
    assert _count(engine, t.territory) == 2  # BOS and BOS-DT only


RULES = SETUP.parent / "rules.yaml"
GEO, INDUSTRY, NAMED = "0M5Hs000000k9aAKAQ", "0M5Hs000000k9aBKAQ", "0M5Hs000000k9aCKAQ"


def _types_of(engine: Engine, model_id: str) -> dict[str, str | None]:
    with engine.connect() as conn:
        return {x.id: x.type_id for x in RuleRepository(conn).territories(model_id)}


def test_the_two_example_setups_share_one_store(engine: Engine) -> None:
    """rules.yaml's types geo/industry/named are the CSV org's types.

    Same MasterLabel (Geography, Industry Overlay, Named Accounts) and the
    same priorities (1, 2, 3), under other ids.
    """
    import_rules(engine, SETUP, "sf", actor="ops", create_model=True)
    got = import_rules(engine, RULES, "yml", actor="ops", create_model=True)
    assert [(m.imported_id, m.stored_id, m.priority) for m in got.matched_types] == [
        ("geo", GEO, 1),
        ("industry", INDUSTRY, 2),
        ("named", NAMED, 3),
    ]
    assert got.counts.types == 0
    types = _types_of(engine, "yml")
    assert types["bay-area"] == GEO
    assert types["healthcare-overlay"] == INDUSTRY
    assert types["strategic-accounts"] == NAMED
    assert _count(engine, t.territory_type) == 3


def test_shared_types_work_the_other_way_round(engine: Engine) -> None:
    import_rules(engine, RULES, "yml", actor="ops", create_model=True)
    got = import_rules(engine, SETUP, "sf", actor="ops", create_model=True)
    assert [(m.imported_id, m.stored_id) for m in got.matched_types] == [
        (GEO, "geo"),
        (INDUSTRY, "industry"),
        (NAMED, "named"),
    ]
    assert _types_of(engine, "sf")["0MIHs0000004C1LKAU"] == "geo"  # Bay Area


def test_a_genuine_type_clash_still_fails(engine: Engine, tmp_path: Path) -> None:
    from territory.errors import Conflict

    import_rules(engine, SETUP, "sf", actor="ops", create_model=True)
    clash = tmp_path / "clash.yaml"
    clash.write_text(
        "territory_types:\n- {id: other, name: Other, priority: 1}\n"
        "territories:\n- {id: X, name: X, type: other}\n"
    )
    with pytest.raises(Conflict) as info:
        import_rules(engine, clash, "m2", actor="ops", create_model=True)
    assert info.value.code == "territory_type_priority_taken"
    assert info.value.message == (
        "Territory type 'other' ('Other') wants priority 1, which type "
        f"'{GEO}' ('Geography') already has; types are shared by every model of "
        "the store and their priorities are unique: give it another priority, or "
        "name it 'Geography' to use the stored type."
    )
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(
        "territory_types:\n- {id: other, name: Geography, priority: 9}\n"
        "territories:\n- {id: X, name: X, type: other}\n"
    )
    with pytest.raises(Conflict) as info:
        import_rules(engine, renamed, "m2", actor="ops", create_model=True)
    assert info.value.code == "territory_type_name_taken"
    assert "give it priority 1 to use the stored type" in info.value.message
    assert _count(engine, t.territory_model) == 1  # neither import made m2


BROKEN = """\
territories:
- id: OV1
  name: Overlay 1
  type: no-such-type
rules:
- id: r1
  name: broken
  filter: 1 AND 3
  items:
  - {field: industry, operator: equals, value: "x"}
  - {field: Account.NoSuchField__x, operator: equalz, value: "1"}
  territories:
  - {territory: NOPE}
- id: r2
  name: table
  items:
  - {field: Account.Id, operator: inTable, value: missing-set}
  territories:
  - {territory: OV1}
"""


def test_a_broken_rule_file_lists_every_problem_in_one_pass(
    engine: Engine, tmp_path: Path
) -> None:
    """Six problems of four kinds, each with file, line and key, in file order.

    Before, an import said two of them, then after each fix the next kind,
    and from the second round on named neither the file nor the line.
    """
    add_model(engine, "d", ["BOS"])
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    rules_before = _count(engine, t.assignment_rule)
    with pytest.raises(ValidationFailed) as info:
        import_rules(engine, path, "d", actor="ops")
    err = info.value
    assert err.code == "rules_yaml_invalid"
    assert err.message == "broken.yaml has 6 problems; fix them all and import again."
    got = [(i.file, i.line, i.field) for i in err.issues]
    assert got == [
        ("broken.yaml", 4, "type"),
        ("broken.yaml", 8, "filter"),
        ("broken.yaml", 11, "field"),
        ("broken.yaml", 11, "operator"),
        ("broken.yaml", 13, "territories"),
        ("broken.yaml", 17, "value"),
    ]
    text = [i.render() for i in err.issues]
    assert text[0].startswith(
        "broken.yaml, line 4, field 'type': territory 'OV1' has type 'no-such-type'"
    )
    assert "item 3 does not exist (the rule has 2 items)" in text[1]
    assert text[2].startswith(
        "broken.yaml, line 11, field 'field': rule 'r1' item 2: Rule field "
        "'Account.NoSuchField__x' is not an account field"
    )
    assert text[3].startswith(
        "broken.yaml, line 11, field 'operator': rule 'r1' item 2: Unknown "
        "operator 'equalz'; use one of: equals,"
    )
    assert "linked to territory 'NOPE', which does not exist" in text[4]
    assert (
        text[5].startswith("broken.yaml, line 17, field 'value': rule 'r2' item 1: ")
        and "value set 'missing-set' does not exist" in text[5]
    )
    assert _count(engine, t.assignment_rule) == rules_before
    with engine.connect() as conn:
        assert conn.execute(
            select(t.territory.c.id).where(t.territory.c.model_id == "d")
        ).scalars().all() == ["BOS"]


def test_an_in_table_may_name_a_value_set_the_model_holds(
    engine: Engine, tmp_path: Path
) -> None:
    """The one-pass check knows the model's stored value sets."""
    add_model(engine, "d", ["BOS"])
    first = tmp_path / "sets.yaml"
    first.write_text(
        "rules:\n- id: a\n  items:\n"
        "  - {field: Account.Id, operator: inTable, value: named}\n"
        "  territories: [BOS]\nvalue_sets:\n  named: [A1, A2]\n",
        encoding="utf-8",
    )
    import_rules(engine, first, "d", actor="ops")
    second = tmp_path / "more.yaml"
    second.write_text(
        "rules:\n- id: b\n  items:\n"
        "  - {field: Account.Id, operator: inTable, value: named}\n"
        "  territories: [BOS]\n",
        encoding="utf-8",
    )
    result = import_rules(engine, second, "d", actor="ops")
    assert result.counts.rules == 1
