"""Bulk writes: rows read back exactly as a plain SQLAlchemy insert stores them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, func, inspect, select

from territory.errors import Conflict, InternalError
from territory.storage.bulk import insert_columns, insert_frame, upsert_columns
from territory.storage.tables import (
    account,
    audit_log,
    geo_unit,
    rep,
    territory,
    territory_membership,
    territory_model,
)

pytestmark = pytest.mark.integration

NOW = datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _accounts(conn) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = conn.execute(select(account).order_by(account.c.id)).mappings().all()
    return [dict(r) for r in rows]


def test_insert_columns_reads_back_like_a_core_insert(engine: Engine) -> None:
    plain = [
        {
            "id": "B2",
            "name": 'Globex, "Inc"\nEast',
            "billing_postal_code": "02134",
            "annual_revenue": 0.1 + 0.2,
            "employees": 12,
            "latitude": 42.35,
            "longitude": -71.06,
            "excluded_from_realign": True,
            "custom_fields": {"tier": "gold", "score": 1.5},
            "created_at": NOW,
            "updated_at": NOW,
        },
        {
            "id": "B1",
            "name": "",
            "billing_postal_code": None,
            "annual_revenue": None,
            "employees": None,
            "latitude": None,
            "longitude": None,
            "excluded_from_realign": False,
            "custom_fields": {},
            "created_at": NOW,
            "updated_at": NOW,
        },
    ]
    with engine.begin() as conn:
        conn.execute(account.insert(), plain)
        expected = _accounts(conn)
        conn.execute(account.delete())
        n = insert_columns(
            conn,
            "account",
            {
                "id": ["B2", "B1"],
                "name": pl.Series(['Globex, "Inc"\nEast', ""]),
                "billing_postal_code": ["02134", None],
                "annual_revenue": np.array([0.1 + 0.2, np.nan]),
                "employees": [12, None],
                "latitude": [42.35, None],
                "longitude": [-71.06, None],
                "excluded_from_realign": [True, False],
                "custom_fields": [{"tier": "gold", "score": 1.5}, {}],
                "created_at": NOW,
                "updated_at": [NOW, NOW],
            },
        )
        assert n == 2
        got = _accounts(conn)
    # NaN from a NumPy float column is stored as NULL, like None.
    assert got == expected
    assert got[1]["placed_by"] == "unplaced"  # table default applied
    assert got[1]["billing_postal_code"] == "02134"


def test_insert_columns_handles_dates_binary_and_generated_keys(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            territory_model.insert(),
            [{"id": "m1", "name": "FY27", "state": "planning", "created_at": NOW}],
        )
        insert_columns(
            conn, territory, {"model_id": "m1", "id": ["T1", "T2"], "name": ["a", "b"]}
        )
        insert_columns(conn, rep, {"id": ["R1", "R2"], "name": ["Ann", "Bo"]})
        insert_columns(
            conn,
            territory_membership,
            {
                "model_id": "m1",
                "territory_id": ["T1", "T2"],
                "rep_id": ["R1", "R2"],
                "role": "owner",
                "start_date": [date(2027, 1, 1), None],
                "end_date": date(2027, 12, 31),
            },
        )
        insert_frame(
            conn,
            geo_unit,
            pl.DataFrame(
                {
                    "kind": ["county", "county"],
                    "id": ["01001", "01003"],
                    "name": ["Autauga", "Doña Ana"],
                    "state": ["AL", "NM"],
                    "centroid_lat": [32.5, 32.3],
                    "centroid_lon": [-86.6, -106.8],
                    "geometry": [b"\x00\x01\\x", None],
                }
            ),
        )
        members = conn.execute(
            select(territory_membership).order_by(territory_membership.c.id)
        ).all()
        units = conn.execute(select(geo_unit).order_by(geo_unit.c.id)).all()
        terrs = conn.execute(select(territory).order_by(territory.c.id)).all()
    assert [m.start_date for m in members] == [date(2027, 1, 1), None]
    assert [m.end_date for m in members] == [date(2027, 12, 31)] * 2
    assert len({m.id for m in members}) == 2
    assert units[0].geometry == b"\x00\x01\\x" and units[1].geometry is None
    assert units[1].name == "Doña Ana"
    assert [t.attributes for t in terrs] == [{}, {}]
    assert [t.is_catch_all for t in terrs] == [False, False]


def test_insert_columns_rebuilds_indexes_and_reports_progress(engine: Engine) -> None:
    n = 2_500
    seen: list[int] = []
    with engine.begin() as conn:
        insert_columns(
            conn,
            account,
            {
                "id": [f"A{i:05d}" for i in range(n)][::-1],
                "name": "x",
                "zip_id": [f"{i % 97:05d}" for i in range(n)],
                "created_at": NOW,
                "updated_at": NOW,
            },
            chunk_rows=1_000,
            rebuild_indexes=True,
            on_progress=seen.append,
        )
        count = conn.execute(
            select(func.count()).select_from(account).where(account.c.zip_id == "00005")
        ).scalar()
    assert seen == [1_000, 1_000, 500]
    assert count == len([i for i in range(n) if i % 97 == 5])
    with engine.connect() as conn:
        names = {ix["name"] for ix in inspect(conn).get_indexes("account")}
    assert {"ix_account_county", "ix_account_zip"} <= names


def test_insert_columns_duplicate_key_is_a_conflict_and_rolls_back(
    engine: Engine,
) -> None:
    with (
        pytest.raises(Conflict, match="clashes with data already in the store"),
        engine.begin() as conn,
    ):
        insert_columns(
            conn,
            account,
            {"id": ["A1"], "name": "x", "created_at": NOW, "updated_at": NOW},
        )
        insert_columns(
            conn,
            account,
            {"id": ["A1"], "name": "y", "created_at": NOW, "updated_at": NOW},
        )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(account)).scalar() == 0


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": ["A"], "nam": ["x"]}, "unknown column"),
        ({"id": ["A", "B"], "name": ["x"]}, "differ in length"),
        ({"id": ["A"], "name": ["x"]}, "required column 'created_at'"),
        (
            {
                "id": ["A"],
                "name": "x",
                "employees": ["many"],
                "created_at": NOW,
                "updated_at": NOW,
            },
            "cannot be stored",
        ),
    ],
)
def test_insert_columns_rejects_malformed_input(
    engine: Engine, columns: dict, message: str
) -> None:
    with engine.begin() as conn, pytest.raises(InternalError, match=message):
        insert_columns(conn, account, columns)


def test_upsert_columns_updates_listed_columns_only(engine: Engine) -> None:
    later = datetime(2028, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        insert_columns(
            conn,
            account,
            {
                "id": ["A1", "A2"],
                "name": ["one", "two"],
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        upsert_columns(
            conn,
            account,
            {
                "id": ["A2", "A3"],
                "name": ["TWO", "three"],
                "created_at": later,
                "updated_at": later,
            },
            update=["name", "updated_at"],
        )
        rows = conn.execute(
            select(account.c.id, account.c.name, account.c.created_at).order_by(
                account.c.id
            )
        ).all()
    assert [(r.id, r.name) for r in rows] == [
        ("A1", "one"),
        ("A2", "TWO"),
        ("A3", "three"),
    ]
    assert rows[1].created_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    assert rows[2].created_at.replace(tzinfo=None) == later.replace(tzinfo=None)


def test_upsert_columns_merges_json_objects_key_by_key(engine: Engine) -> None:
    """Listed keys come from the new object, every other stored key stays."""
    with engine.begin() as conn:
        insert_columns(
            conn,
            account,
            {
                "id": ["A1", "A2", "A3"],
                "name": "x",
                "custom_fields": [
                    {"tier": "gold", "flag": True, "n": 1.5, "deep": {"a": [1]}},
                    None,
                    {"tier": "bronze", "o'k": "kept"},
                ],
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        upsert_columns(
            conn,
            account,
            {
                "id": ["A1", "A2", "A3", "A4"],
                # serialised JSON text, as an import passes it
                "custom_fields": pl.Series(
                    [
                        '{"tier": "silver", "k.j": null}',
                        '{"tier": null, "k.j": "v"}',
                        '{"tier": null, "k.j": null}',
                        '{"tier": "new", "k.j": null}',
                    ]
                ),
                "name": "y",
                "created_at": NOW,
                "updated_at": NOW,
            },
            update=["custom_fields"],
            merge_keys={"custom_fields": ["tier", "k.j"]},
        )
        got = dict(conn.execute(select(account.c.id, account.c.custom_fields)).all())
    assert got == {
        "A1": {
            "tier": "silver",
            "flag": True,
            "n": 1.5,
            "deep": {"a": [1]},
            "k.j": None,
        },
        "A2": {"tier": None, "k.j": "v"},
        "A3": {"tier": None, "o'k": "kept", "k.j": None},
        "A4": {"tier": "new", "k.j": None},
    }


def test_insert_columns_joins_the_callers_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        insert_columns(
            conn,
            account,
            {"id": ["A1"], "name": "x", "created_at": NOW, "updated_at": NOW},
        )
        raise RuntimeError("command failed after the write")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(account)).scalar() == 0


def _core_insert_rows(conn, rows: list[dict]) -> list[dict]:  # type: ignore[no-untyped-def]
    conn.execute(account.insert(), rows)
    got = _accounts(conn)
    conn.execute(account.delete())
    return got


def test_many_row_statements_split_over_chunks_read_back_like_core_rows(
    engine: Engine,
) -> None:
    # 257 rows in chunks of 120: each chunk is one 100-row statement and
    # 20 single-row ones, the last chunk 17 single rows.
    n = 257
    rows = [
        {
            "id": f"A{i:04d}",
            "name": f"Name '{i}'" if i % 5 else None,
            "billing_postal_code": f"{i % 13:05d}",
            "annual_revenue": i / 7 if i % 3 else None,
            "employees": i,
            "excluded_from_realign": i % 2 == 0,
            "custom_fields": {"n": i},
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i in reversed(range(n))
    ]
    for r in rows:
        r["name"] = r["name"] or ""
    seen: list[int] = []
    with engine.begin() as conn:
        expected = _core_insert_rows(conn, rows)
        insert_columns(
            conn,
            account,
            {k: [r[k] for r in rows] for k in rows[0]},
            chunk_rows=120,
            on_progress=seen.append,
        )
        got = _accounts(conn)
    assert seen == [120, 120, 17]
    assert got == expected
    assert len(got) == n


def test_sqlite_statements_respect_the_bound_parameter_limit(sqlite_url: str) -> None:
    import sqlite3

    from territory.storage.engine import make_engine, migrate

    eng = make_engine(sqlite_url)
    migrate(eng)
    try:
        with eng.begin() as conn:
            # Five bound columns, at most 12 parameters: two rows a statement.
            dbapi = conn.connection.dbapi_connection
            old = dbapi.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 12)  # type: ignore[union-attr]
            try:
                insert_columns(
                    conn,
                    account,
                    {
                        "id": ["C", "A", "B", "E", "D"],
                        "name": ["c", "a", "b", "e", "d"],
                        "billing_city": ["x", "y", "z", "w", "v"],
                        "employees": [3, 1, 2, 5, 4],
                        "latitude": [0.3, 0.1, 0.2, 0.5, 0.4],
                        "created_at": NOW,
                        "updated_at": NOW,
                    },
                )
            finally:
                dbapi.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)  # type: ignore[union-attr]
            got = conn.execute(
                select(
                    account.c.id,
                    account.c.name,
                    account.c.billing_city,
                    account.c.employees,
                    account.c.latitude,
                ).order_by(account.c.id)
            ).all()
    finally:
        eng.dispose()
    assert [tuple(r) for r in got] == [
        ("A", "a", "y", 1, 0.1),
        ("B", "b", "z", 2, 0.2),
        ("C", "c", "x", 3, 0.3),
        ("D", "d", "v", 4, 0.4),
        ("E", "e", "w", 5, 0.5),
    ]


def test_rows_whose_every_value_repeats_are_all_written(engine: Engine) -> None:
    # No column varies: each row is the statement's literals alone.
    with engine.begin() as conn:
        n = insert_columns(
            conn,
            audit_log,
            {
                "at": [NOW] * 5,
                "actor": ["bulk"] * 5,
                "entity": ["account"] * 5,
                "entity_id": ["A1"] * 5,
                "action": ["insert"] * 5,
                "cause": ["manual"] * 5,
            },
        )
        got = conn.execute(
            select(audit_log.c.actor, audit_log.c.entity_id, audit_log.c.at)
        ).all()
    assert n == 5
    assert len(got) == 5
    assert {(r.actor, r.entity_id) for r in got} == {("bulk", "A1")}
    assert {r.at.replace(tzinfo=None) for r in got} == {NOW.replace(tzinfo=None)}


def test_constant_columns_of_a_big_load_read_back_like_core_rows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL leaves repeated values out of COPY (temporary defaults)."""
    from territory.storage import bulk

    monkeypatch.setattr(bulk, "REBUILD_INDEXES_FROM_ROWS", 1)
    monkeypatch.setattr(bulk, "_PG_DEFAULTS_FROM_ROWS", 1)
    same = {
        "name": 'O\'Brien \\ Co, "x"',
        "billing_country": "US",
        "annual_revenue": 0.1 + 0.2,
        "employees": 7,
        "latitude": None,
        "excluded_from_realign": True,
        "custom_fields": {"tier": "gold", "note": "a'b"},
        "created_at": NOW,
        "updated_at": NOW,
    }
    rows = [{"id": f"K{i}", **same} for i in range(4)]
    with engine.begin() as conn:
        expected = _core_insert_rows(conn, rows)
        insert_columns(
            conn,
            account,
            {"id": [r["id"] for r in rows]}
            | {k: v for k, v in same.items() if k != "employees"}
            | {"employees": [7, 7, 7, 7]},
        )
        got = _accounts(conn)
        # An upsert stages the rows in a temporary table the same way.
        upsert_columns(
            conn,
            account,
            {
                "id": ["K1", "K2", "K9"],
                "name": "Renamed",
                "created_at": NOW,
                "updated_at": NOW,
            },
            update=["name"],
            key=["id"],
        )
        renamed = conn.execute(
            select(account.c.id, account.c.name, account.c.employees).order_by(
                account.c.id
            )
        ).all()
        if conn.dialect.name == "postgresql":
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = 'account'::regclass"
                " AND atthasdef"
            ).scalar()
            assert left == 0  # the temporary defaults are gone
    assert got == expected
    assert [tuple(r) for r in renamed] == [
        ("K0", same["name"], 7),
        ("K1", "Renamed", 7),
        ("K2", "Renamed", 7),
        ("K3", same["name"], 7),
        ("K9", "Renamed", None),
    ]


def test_indexes_are_rebuilt_only_for_loads_large_beside_the_table(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from territory.storage import bulk

    monkeypatch.setattr(bulk, "REBUILD_INDEXES_FROM_ROWS", 10)
    with engine.begin() as conn:
        insert_columns(
            conn,
            account,
            {
                "id": [f"S{i:02d}" for i in range(25)],
                "name": "x",
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        decide = [bulk._auto_rebuild(conn, account, None, n) for n in (9, 12, 13, 1000)]
        forced = bulk._auto_rebuild(conn, account, False, 1000)
        no_plain_index = bulk._auto_rebuild(conn, rep, None, 1000)
    # 9 rows: below the threshold; 12: 25 stored > 2 x 12; 13: 25 <= 2 x 13.
    assert decide == [False, False, True, True]
    assert (forced, no_plain_index) == (False, False)
