"""Salesforce Data Loader CSVs and our YAML format: read, write, round trip."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from territory.errors import InputError, ValidationFailed
from territory.io.rules_yaml import read_rules_yaml, write_rules_yaml
from territory.io.salesforce import (
    read_id_map,
    read_salesforce_setup,
    write_associations,
    write_salesforce_setup,
)
from territory.rules import AccountTable, RuleEngine

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SETUP = EXAMPLES / "salesforce-setup"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_example_setup_reads_with_inheritance_filters_and_ids() -> None:
    rs = read_salesforce_setup(SETUP, "m")
    assert len(rs.territories) == 14 and len(rs.rules) == 12 and len(rs.links) == 14
    east = next(r for r in rs.rules if r.developer_name == "East_States")
    assert east.boolean_filter == "1 OR 2"
    assert east.items[0].field == "Account.BillingState"
    assert east.items[0].external_id == "0OIHs0000000BaAKAU"
    named = next(r for r in rs.rules if r.developer_name == "Strategic_Named")
    assert named.items[1].value == '"Acme, Inc.",Globex Corporation'
    legacy = next(r for r in rs.rules if r.developer_name == "Legacy_Canada")
    assert legacy.is_active is False
    inherited = {k.territory_id for k in rs.links if k.apply_to_children}
    assert "0MIHs0000004C1BKAU" in inherited  # East passes its rule on
    nam = next(t for t in rs.territories if t.id == "0MIHs0000004C1AKAU")
    assert nam.attributes["salesforce"] == {"AccountAccessLevel": "Read"}


def test_csv_round_trip_keeps_every_id_and_value(tmp_path: Path) -> None:
    rs = read_salesforce_setup(SETUP, "m")
    write_salesforce_setup(rs, tmp_path, "m")
    assert read_salesforce_setup(tmp_path, "m") == rs
    for name in ("Territory2.csv", "ObjectTerritory2AssignmentRuleItem.csv"):
        original = sorted(tuple(sorted(r.items())) for r in _rows(SETUP / name))
        again = sorted(tuple(sorted(r.items())) for r in _rows(tmp_path / name))
        assert again == original


def test_yaml_round_trip_equals_csv(tmp_path: Path) -> None:
    rs = read_salesforce_setup(SETUP, "m")
    write_rules_yaml(rs, tmp_path / "rules.yaml")
    assert read_rules_yaml(tmp_path / "rules.yaml", "m") == rs


def test_row_order_of_the_files_does_not_matter(tmp_path: Path) -> None:
    shutil.copytree(SETUP, tmp_path / "s")
    for path in (tmp_path / "s").glob("*.csv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text(
            "\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8"
        )
    assert read_salesforce_setup(tmp_path / "s", "m") == read_salesforce_setup(
        SETUP, "m"
    )


def test_readable_yaml_example_assigns_like_the_csv_setup() -> None:
    """examples/rules.yaml is the CSV org with readable ids and our field names."""
    csv_rs = read_salesforce_setup(SETUP, "m")
    yaml_rs = read_rules_yaml(EXAMPLES / "rules.yaml", "m")
    table = AccountTable.from_columns(
        ["A1", "A2", "A3", "A4", "A5", "A6"],
        {
            "name": [
                "Acme, Inc.",
                "Initech",
                "Globex Corporation",
                "Umbrella",
                "Hooli",
                "Maple",
            ],
            "billing_state": ["NY", "ga", "CA", "CO", "CA", "ON"],
            "billing_postal_code": [
                "10001",
                "30301",
                "94105-1234",
                "80202",
                "90001",
                "M5V 2T6",
            ],
            "billing_country": ["US", "US", "US", "US", "US", "Canada"],
            "industry": [
                "Banking",
                "Healthcare",
                "Pharmaceuticals",
                "Retail",
                "Biotechnology",
                None,
            ],
            "annual_revenue": [2e8, 5e7, 9e8, 1e6, None, 1e6],
            "employees": [1000.0, 250.0, 5000.0, 20.0, 300.0, 10.0],
            "Tier__c": [None, None, None, "Strategic", None, None],
        },
    )

    def by_name(rs: object) -> list[tuple[str, str]]:
        engine = RuleEngine(rs, table.kinds())  # type: ignore[arg-type]
        names = {t.id: t.name for t in rs.territories}  # type: ignore[attr-defined]
        return sorted((a, names[t]) for a, t in engine.evaluate(table).pairs(table))

    expected = [
        ("A1", "Northeast Enterprise"),
        ("A1", "Strategic Accounts"),  # quoted name keeps its comma
        ("A2", "Healthcare Overlay"),
        ("A2", "Southeast Commercial"),  # state compared without case
        ("A3", "Bay Area"),  # ZIP+4 inside 94000..95199
        ("A3", "Healthcare Overlay"),  # contains pharma
        ("A3", "Strategic Accounts"),
        ("A4", "Mountain"),
        ("A4", "Strategic Accounts"),
        ("A5", "Healthcare Overlay"),
        ("A5", "Pacific"),  # 90001 outside the Bay Area range
    ]
    assert by_name(csv_rs) == expected
    assert by_name(yaml_rs) == expected


def test_missing_file_and_column_are_reported(tmp_path: Path) -> None:
    shutil.copytree(SETUP, tmp_path / "s")
    (tmp_path / "s" / "Territory2.csv").unlink()
    with pytest.raises(InputError, match="lacks Territory2.csv") as info:
        read_salesforce_setup(tmp_path / "s", "m")
    assert info.value.code == "salesforce_file_missing"
    shutil.copy(SETUP / "Territory2.csv", tmp_path / "s")
    items = tmp_path / "s" / "ObjectTerritory2AssignmentRuleItem.csv"
    items.write_text(
        "Id,RuleId,SortOrder,Field\nx,y,1,Account.Name\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="lacks the column Operation") as info:
        read_salesforce_setup(tmp_path / "s", "m")
    assert info.value.code == "salesforce_column_missing"


def test_bad_values_are_listed_with_file_row_and_column(tmp_path: Path) -> None:
    shutil.copytree(SETUP, tmp_path / "s")
    links = tmp_path / "s" / "RuleTerritory2Association.csv"
    text = links.read_text(encoding="utf-8").replace(",true\n", ",maybe\n", 1)
    links.write_text(text, encoding="utf-8")
    types = tmp_path / "s" / "Territory2Type.csv"
    types.write_text(
        types.read_text(encoding="utf-8").replace(",1,", ",first,"), encoding="utf-8"
    )
    with pytest.raises(ValidationFailed) as info:
        read_salesforce_setup(tmp_path / "s", "m")
    rendered = str(info.value)
    assert (
        "RuleTerritory2Association.csv, row 2, field 'IsInherited': "
        "'maybe' is not true or false" in rendered
    )
    assert "Territory2Type.csv, row 2, field 'Priority'" in rendered


def test_yaml_reports_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n- name: no id\n- id: r1\n  items:\n  - {field: x}\nextra: 1\n"
    )
    with pytest.raises(ValidationFailed) as info:
        read_rules_yaml(path, "m")
    text = str(info.value)
    assert "unknown section 'extra'" in text
    assert "rules entry 1 needs an 'id'" in text
    assert "rule 'r1' item 1 needs 'field' and 'operator'" in text


def test_associations_export_causes_for_load_and_id_map(tmp_path: Path) -> None:
    rows = [("A2", "T1", "manual"), ("A1", "T1", "rule"), ("A1", "T2", "rule")]
    out = tmp_path / "ObjectTerritory2Association.csv"
    assert write_associations(out, rows) == 3
    assert _rows(out) == [
        {
            "ObjectId": "A1",
            "Territory2Id": "T1",
            "AssociationCause": "Territory2AssignmentRule",
        },
        {
            "ObjectId": "A1",
            "Territory2Id": "T2",
            "AssociationCause": "Territory2AssignmentRule",
        },
        {
            "ObjectId": "A2",
            "Territory2Id": "T1",
            "AssociationCause": "Territory2Manual",
        },
    ]
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "territory_id,salesforce_id\nT1,0MI000000000001\nT2,0MI000000000002\n"
    )
    write_associations(out, rows, for_load=True, id_map=read_id_map(mapping))
    assert {r["AssociationCause"] for r in _rows(out)} == {"Territory2Manual"}
    assert [r["Territory2Id"] for r in _rows(out)] == [
        "0MI000000000001",
        "0MI000000000002",
        "0MI000000000001",
    ]
    mapping.write_text("territory_id,salesforce_id\nT1,0MI000000000001\n")
    with pytest.raises(
        InputError, match=r"no Salesforce id for 1 territory \(T2\)"
    ) as info:
        write_associations(out, rows, id_map=read_id_map(mapping))
    assert info.value.code == "id_map_incomplete"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_references_to_nothing_name_file_row_field_and_fix(tmp_path: Path) -> None:
    """Each kind of dangling link, in a copy of the example folder.

    Link row 2 names rule ZZZ, row 3 territory XXX, and row 5 repeats the
    rule and territory of row 4; item row 2 names rule YYY; territory row 3
    (East) has parent PPP and row 4 (West) type TTT.
    """
    root = tmp_path / "s"
    shutil.copytree(SETUP, root)
    links = root / "RuleTerritory2Association.csv"
    _edit(links, "0OHHs0000000AaAKAU,0MIHs0000004C1BKAU", "ZZZ,0MIHs0000004C1BKAU")
    _edit(links, "0OHHs0000000AaBKAU,0MIHs0000004C1CKAU", "0OHHs0000000AaBKAU,XXX")
    _edit(
        links,
        "0OJHs0000000CaDKAU,0OHHs0000000AaDKAU,0MIHs0000004C1EKAU,true",
        "0OJHs0000000CaDKAU,0OHHs0000000AaCKAU,0MIHs0000004C1DKAU,true",
    )
    items = root / "ObjectTerritory2AssignmentRuleItem.csv"
    _edit(items, "0OIHs0000000BaAKAU,0OHHs0000000AaAKAU", "0OIHs0000000BaAKAU,YYY")
    terr = root / "Territory2.csv"
    _edit(
        terr,
        "East,0M5Hs000000k9aAKAQ,0MIHs0000004C1AKAU",
        "East,0M5Hs000000k9aAKAQ,PPP",
    )
    _edit(terr, "West,0M5Hs000000k9aAKAQ,", "West,TTT,")
    with pytest.raises(ValidationFailed) as info:
        read_salesforce_setup(root, "m")
    assert info.value.code == "salesforce_setup_invalid"
    got = {(i.file, i.row, i.field): (i.problem, i.hint) for i in info.value.issues}
    assert got == {
        ("Territory2.csv", 3, "ParentTerritory2Id"): (
            "parent territory 'PPP' does not exist in Territory2.csv or the model",
            "export the parent territory too, or fix the parent id",
        ),
        ("Territory2.csv", 4, "Territory2TypeId"): (
            "territory type 'TTT' does not exist in Territory2Type.csv or the store",
            "export the territory type too, or fix the type id",
        ),
        ("ObjectTerritory2AssignmentRuleItem.csv", 2, "RuleId"): (
            "rule 'YYY' does not exist in ObjectTerritory2AssignmentRule.csv",
            "export the rule too, or drop the item",
        ),
        ("RuleTerritory2Association.csv", 2, "RuleId"): (
            "rule 'ZZZ' does not exist in ObjectTerritory2AssignmentRule.csv",
            "export the rule too, or remove the link",
        ),
        ("RuleTerritory2Association.csv", 3, "Territory2Id"): (
            "territory 'XXX' does not exist in Territory2.csv or the model",
            "export the territory too, or remove the link",
        ),
        ("RuleTerritory2Association.csv", 5, "Territory2Id"): (
            "rule '0OHHs0000000AaCKAU' is linked to territory "
            "'0MIHs0000004C1DKAU' again (first on row 4)",
            "keep one link per rule and territory",
        ),
    }


def test_references_may_name_what_the_model_already_holds(tmp_path: Path) -> None:
    from territory.domain.rule import StoredIds

    root = tmp_path / "s"
    shutil.copytree(SETUP, root)
    terr = root / "Territory2.csv"
    _edit(terr, "West,0M5Hs000000k9aAKAQ,", "West,T-STORED,")
    links = root / "RuleTerritory2Association.csv"
    _edit(links, "0OHHs0000000AaBKAU,0MIHs0000004C1CKAU", "0OHHs0000000AaBKAU,STORED")
    rs = read_salesforce_setup(
        root, "m", stored=StoredIds(frozenset({"STORED"}), frozenset({"T-STORED"}))
    )
    assert ("0OHHs0000000AaBKAU", "STORED") in {
        (k.rule_id, k.territory_id) for k in rs.links
    }


def test_yaml_references_to_nothing_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "territory_types:\n- {id: geo, name: Geo, priority: 1}\n"
        "territories:\n- {id: A, name: A, type: geo, parent: NOPE}\n"
        "- {id: B, name: B, type: kind}\n- {id: B, name: B again}\n"
        "rules:\n- id: r\n  items:\n  - {field: billing_state, operator: equals, "
        "value: CA}\n  territories: [A, GHOST, A]\n"
    )
    with pytest.raises(ValidationFailed) as info:
        read_rules_yaml(path, "m")
    got = sorted((i.field, i.problem) for i in info.value.issues)
    assert got == [
        ("id", "territory 'B' appears more than once"),
        ("parent", "territory 'A' names parent 'NOPE', which does not exist in "
         "r.yaml or the model"),
        ("territories", "rule 'r' is linked to territory 'GHOST', which does not "
         "exist in r.yaml or the model"),
        ("territories", "rule 'r' lists territory 'A' twice"),
        ("type", "territory 'B' has type 'kind', which does not exist in r.yaml "
         "or the store"),
    ]  # fmt: skip
