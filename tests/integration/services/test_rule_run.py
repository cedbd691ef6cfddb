"""Rule runs in the store: compact audit, read and write paths, on both stores.

The fast paths (columnar and native reads of accounts and assignments,
changes staged as integer keys joined in SQLite, the index rebuilt after a
first load) must store exactly the rows and audit of the simple paths
(row-by-row reads, changes staged by bulk insert).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, insert, inspect, select, text

from territory.errors import InternalError
from territory.services import account_columns, assignment_diff
from territory.services.account_columns import read_accounts
from territory.services.assign import assign_accounts
from territory.services.rules import import_rules
from territory.storage import rule_run
from territory.storage import tables as t
from territory.storage.audit import read_assignment_changes, read_audit
from territory.storage.engine import make_engine, migrate

T0 = datetime(2027, 1, 1, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

RULES_V1 = """
territories:
- {id: West, name: West}
- {id: East, name: East}
- {id: Key, name: Key accounts}
rules:
- id: w
  items: [{field: billing_state, operator: equals, value: CA}]
  territories: [West]
- id: e
  items: [{field: billing_state, operator: equals, value: NY}]
  territories: [East]
- id: k
  items: [{field: Account.Tier__c, operator: equals, value: Key}]
  territories: [Key]
"""
# West moves to NY; East gets a second rule, "a-east", which sorts first and
# so becomes the rule its assignments record.
RULES_V2 = """
territories:
- {id: West, name: West}
- {id: East, name: East}
- {id: Key, name: Key accounts}
rules:
- id: w
  items: [{field: billing_state, operator: equals, value: NY}]
  territories: [West]
- id: e
  items: [{field: billing_state, operator: equals, value: NY}]
  territories: [East]
- id: a-east
  items: [{field: annual_revenue, operator: lessThan, value: '1000000'}]
  territories: [East]
- id: k
  items: [{field: Account.Tier__c, operator: equals, value: Key}]
  territories: [Key]
"""


def _account(aid: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": aid,
        "name": aid,
        "created_at": T0,
        "updated_at": T0,
        "excluded_from_realign": False,
        **dict.fromkeys(
            ["billing_state", "billing_city", "billing_postal_code", "billing_country",
             "industry", "annual_revenue", "employees", "custom_fields"]
        ),
    }  # fmt: skip
    row.update(kw)
    return row


def _pairs(engine: Engine, model_id: str) -> list[tuple[str, str, str, str | None]]:
    aa = t.account_assignment
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(
                    aa.c.account_id, aa.c.territory_id, aa.c.cause, aa.c.source
                ).where(aa.c.model_id == model_id)
            ).all()
        )


def _changes(engine: Engine, model_id: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            (e["entity_id"], e["action"], e["old_value"], e["new_value"], e["source"])
            for e in read_assignment_changes(conn, model_id=model_id)
        ]


def _write_rules(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_rule_runs_write_compact_audit_by_hand(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                _account("A1", billing_state="CA", annual_revenue=5e6,
                         custom_fields={"Tier__c": "Key"}),
                _account("A2", billing_state="NY", annual_revenue=2e5),
                _account("A3", billing_state="TX", annual_revenue=1e6,
                         excluded_from_realign=True),
                _account("A4", billing_state="ca"),
            ],
        )  # fmt: skip
    import_rules(
        engine,
        _write_rules(tmp_path, "v1.yaml", RULES_V1),
        "m",
        actor="ops",
        create_model=True,
    )
    first = assign_accounts(engine, "m", actor="ops")
    assert (first.inserted, first.deleted, first.updated) == (4, 0, 0)
    assert first.run_id is not None
    assert _pairs(engine, "m") == [
        ("A1", "Key", "rule", "k"),
        ("A1", "West", "rule", "w"),
        ("A2", "East", "rule", "e"),
        ("A4", "West", "rule", "w"),
    ]

    def value(tid: str, src: str) -> dict[str, str]:
        return {"territory_id": tid, "cause": "rule", "source": src}

    assert _changes(engine, "m") == [
        ("A1|Key", "insert", None, value("Key", "k"), "k"),
        ("A1|West", "insert", None, value("West", "w"), "w"),
        ("A2|East", "insert", None, value("East", "e"), "e"),
        ("A4|West", "insert", None, value("West", "w"), "w"),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(t.account_assignment).values(
                model_id="m", account_id="A2", territory_id="West", cause="manual"
            )
        )
    import_rules(
        engine,
        _write_rules(tmp_path, "v2.yaml", RULES_V2),
        "m",
        actor="ops",
        replace_rules=True,
        create_model=True,
    )
    second = assign_accounts(engine, "m", actor="ops")
    # A1 and A4 leave West (now NY); A2 already holds West by hand: kept as it
    # is; A2's East row now records "a-east".
    assert (second.inserted, second.deleted, second.updated) == (0, 2, 1)
    assert _pairs(engine, "m") == [
        ("A1", "Key", "rule", "k"),
        ("A2", "East", "rule", "a-east"),
        ("A2", "West", "manual", None),
    ]
    assert _changes(engine, "m")[4:] == [
        ("A1|West", "delete", value("West", "w"), None, "w"),
        ("A2|East", "update", value("East", "e"), value("East", "a-east"), "a-east"),
        ("A4|West", "delete", value("West", "w"), None, "w"),
    ]
    third = assign_accounts(engine, "m", actor="ops")
    assert (third.inserted, third.deleted, third.updated, third.run_id) == (
        0,
        0,
        0,
        None,
    )
    with engine.connect() as conn:
        runs = [r for r in read_audit(conn, model_id="m") if r["entity"] == "rule_run"]
        entries = read_audit(conn, model_id="m", entity="account_assignment")
    assert [r["id"] for r in runs] == [first.run_id, second.run_id]
    assert [r["new_value"] for r in runs] == [
        {"accounts": 4, "inserted": 4, "deleted": 0, "updated": 0},
        {"accounts": 4, "inserted": 0, "deleted": 2, "updated": 1},
    ]
    assert {(r["actor"], r["cause"], r["action"]) for r in runs} == {
        ("ops", "rule", "run")
    }
    assert len(entries) == 7 and {e["run_id"] for e in entries} == {
        first.run_id,
        second.run_id,
    }
    assert all(e["actor"] == "ops" and e["at"] == runs[0]["at"] for e in entries[:4])


# --------------------------------------------------------------- read paths

TRICKY = [
    _account("B1", billing_state=" ca ", billing_city="Zürich",
             annual_revenue=0.1 + 0.2, employees=12, billing_postal_code="02134-1234",
             custom_fields={"Tier__c": "Key", "Score__c": 3, "Flag__c": True,
                            "Mixed__c": 1}),
    _account("B2", billing_state="NY", billing_city="a\x1fb", annual_revenue=None,
             billing_postal_code="9",
             custom_fields={"Tier__c": "", "Score__c": 2.5, "Flag__c": False,
                            "Mixed__c": "x"}),
    _account("B3", billing_state=None, billing_city="", annual_revenue=1e300,
             custom_fields=None, excluded_from_realign=True),
    _account("B0", billing_state="TX", billing_postal_code="K1A 0B1",
             custom_fields={"Score__c": "", "Deep__c": {"a": [1, 2]}}),
]  # fmt: skip


def _columns(table: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, col in table.columns.items():
        if hasattr(col, "codes"):
            out[name] = (col.kind, col.codes.tolist(), col.categories.tolist())
        else:
            out[name] = (col.kind, [None if np.isnan(v) else v for v in col.values])
    return out


def test_fast_account_reads_equal_the_row_by_row_read(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.account), TRICKY)
    fields = [None, {"billing_state", "billing_city", "Score__c", "Tier__c", "id"}]
    for wanted in fields:
        with engine.connect() as conn:
            conn.begin()
            native = read_accounts(conn, fields=wanted)
            std = [
                f
                for f in account_columns.STANDARD_FIELDS
                if wanted is None or f in wanted
            ]
            custom = None if wanted is None else sorted(wanted - set(std))
            simple = account_columns._read_generic(conn, std, custom, None, None)
        assert native.store_rows is not None and simple.store_rows is None
        assert native.table.ids.tolist() == simple.table.ids.tolist() == [
            "B0", "B1", "B2", "B3"
        ]  # fmt: skip
        assert native.excluded.tolist() == simple.excluded.tolist()
        assert _columns(native.table) == _columns(simple.table)
    # the columnar read cannot split a text holding its separator (B2's city):
    # it hands over to the row-by-row read, with the same result
    monkeypatch.setattr(account_columns, "_read_native", lambda *a: None)
    with engine.connect() as conn:
        conn.begin()
        assert account_columns._read_sqlite(conn, ["id", "billing_city"], []) is None
        again = read_accounts(conn)
        whole = account_columns._read_generic(
            conn, list(account_columns.STANDARD_FIELDS), None, None, None
        )
    assert again.store_rows is None
    assert _columns(again.table) == _columns(whole.table)
    cols = _columns(whole.table)
    assert cols["Score__c"] == (
        account_columns.FieldKind.NUMBER,
        [None, 3.0, 2.5, None],
    )
    assert cols["Flag__c"][2] == ["false", "true"]  # booleans are text, as str() has it
    assert cols["Mixed__c"][2] == ["1", "x"]
    assert cols["annual_revenue"][1] == [None, 0.1 + 0.2, None, 1e300]  # bit for bit
    engine.dispose()


def test_columnar_read_without_the_native_reader_matches(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.account), [r for r in TRICKY if r["id"] != "B2"])
    with engine.connect() as conn:
        conn.begin()
        native = read_accounts(conn)
        monkeypatch.setattr(account_columns, "_read_native", lambda *a: None)
        columnar = read_accounts(conn)
        simple = account_columns._read_generic(
            conn, list(account_columns.STANDARD_FIELDS), None, None, None
        )
    assert columnar.store_rows is not None
    assert columnar.store_rows.tolist() == native.store_rows.tolist()  # type: ignore[union-attr]
    assert _columns(columnar.table) == _columns(native.table) == _columns(simple.table)
    engine.dispose()


# -------------------------------------------------------------- write paths


def _random_accounts(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    states = ["NY", "MA", "GA", "FL", "CA", "WA", "TX", "ny", ""]
    zips = ["10001", "02134", "30301", "94105-1234", "95014", "98101", "75001", "9"]
    industries = ["Healthcare", "Banking", "Retail", "Biotechnology"]
    out = []
    for i in range(n):
        revenue = float(rng.choice([5e5, 2e7, 9e7, 2e8, 9e8]))
        out.append(
            _account(
                f"R{i:04d}",
                billing_state=str(rng.choice(states)) or None,
                billing_postal_code=str(rng.choice(zips)),
                billing_country="US",
                industry=str(rng.choice(industries)),
                annual_revenue=None if rng.random() < 0.1 else revenue,
                employees=int(rng.integers(1, 5000)),
                excluded_from_realign=bool(rng.random() < 0.05),
                custom_fields={"Tier__c": "Strategic"} if rng.random() < 0.1 else None,
            )
        )
    return out


def _rerun_rules(tmp_path: Path) -> Path:
    """The example org with enterprise starting at 50 M instead of 100 M."""
    text_ = (EXAMPLES / "rules.yaml").read_text()
    assert text_.count("value: '100000000'") == 2
    return _write_rules(
        tmp_path, "rerun.yaml", text_.replace("'100000000'", "'50000000'")
    )


def _run_twice(engine: Engine, tmp_path: Path) -> list[Any]:
    with engine.begin() as conn:
        conn.execute(insert(t.account), _random_accounts(400, seed=11))
    import_rules(engine, EXAMPLES / "rules.yaml", "ex", actor="ops", create_model=True)
    first = assign_accounts(engine, "ex", actor="ops")
    after_first = (_pairs(engine, "ex"), _changes(engine, "ex"))
    import_rules(engine, _rerun_rules(tmp_path), "ex", actor="ops", create_model=True)
    second = assign_accounts(engine, "ex", actor="ops")
    counts = [(d.inserted, d.deleted, d.updated) for d in (first, second)]
    summaries = [(d.territories, d.reps) for d in (first, second)]
    return [
        counts,
        after_first,
        _pairs(engine, "ex"),
        _changes(engine, "ex"),
        summaries,
    ]


def _simple_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row-by-row reads, changes staged by bulk insert of account ids."""
    monkeypatch.setattr(account_columns, "_read_sqlite", lambda *a: None)
    monkeypatch.setattr(assignment_diff, "sqlite_file_for_reading", lambda c: None)
    monkeypatch.setattr(rule_run, "split_texts", lambda *a: None)


def test_fast_and_simple_paths_store_the_same_rows_and_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_engine = make_engine(f"sqlite:///{tmp_path / 'fast.db'}")
    migrate(fast_engine)
    with monkeypatch.context() as m:
        m.setattr(rule_run, "REBUILD_INDEXES_FROM_ROWS", 1)  # the first-load path
        fast = _run_twice(fast_engine, tmp_path)
    assert "ix_account_assignment_territory" in {
        ix["name"] for ix in inspect(fast_engine).get_indexes("account_assignment")
    }
    simple_engine = make_engine(f"sqlite:///{tmp_path / 'simple.db'}")
    migrate(simple_engine)
    with monkeypatch.context() as m:
        _simple_paths(m)
        simple = _run_twice(simple_engine, tmp_path)
    counts = fast[0]
    assert counts[0][0] > 300 and counts[1][1] > 0 and counts[1][0] > 0
    assert fast == simple
    fast_engine.dispose()
    simple_engine.dispose()


def test_index_rebuild_path_keeps_rows_on_both_stores(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rule_run, "REBUILD_INDEXES_FROM_ROWS", 1)
    result = _run_twice(engine, tmp_path)
    assert result[0][0][0] == len(result[1][0]) > 300
    assert "ix_account_assignment_territory" in {
        ix["name"] for ix in inspect(engine).get_indexes("account_assignment")
    }


def test_rule_run_turns_foreign_keys_back_on(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    _run_twice(engine, tmp_path)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    engine.dispose()


def test_write_refuses_a_territory_the_model_lacks(engine: Engine) -> None:
    import_rules(engine, EXAMPLES / "rules.yaml", "ex", actor="ops", create_model=True)
    with engine.connect() as conn:
        conn.begin()
        run = rule_run.RuleRunStore(conn, "ex", ["bay-area", "ghost"], ["r", "r"])
        empty = np.empty(0, dtype=np.intp)
        changes = rule_run.StagedChanges(
            np.array(["A1"], dtype=object),
            None,
            (np.array([0]), np.array([1])),
            (empty, empty),
            (empty, empty),
        )
        with pytest.raises(InternalError, match="territory 'ghost'") as info:
            run.write(changes, actor="ops", at=T0, summary={})
        assert info.value.code == "rule_run_territory_missing"


def test_a_failed_write_leaves_the_store_as_it_was(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as conn:
        conn.execute(insert(t.account), _random_accounts(1500, seed=3))
    import_rules(engine, EXAMPLES / "rules.yaml", "ex", actor="ops", create_model=True)

    def broken(conn: Any, *args: Any, **kwargs: Any) -> int:
        conn.execute(text("SELECT * FROM no_such_table"))  # the store refuses
        return 0

    monkeypatch.setattr(rule_run, "record_rule_run", broken)
    with pytest.raises(Exception, match="no_such_table"):
        assign_accounts(engine, "ex", actor="ops")
    assert _pairs(engine, "ex") == []
    with engine.connect() as conn:
        assert read_audit(conn, model_id="ex", entity="account_assignment") == []
        if engine.dialect.name == "sqlite":  # the write's page cache is undone
            assert conn.execute(text("PRAGMA cache_size")).scalar_one() == -2000
    monkeypatch.undo()
    assert (
        assign_accounts(engine, "ex", actor="ops").inserted
        == len(_pairs(engine, "ex"))
        > 0
    )
