"""Native SQLite reads (services.sqlite_reader) give what the ordinary read gives.

``read_frame(..., large=True)`` reads a SQLite file store natively when the
connection's transaction has written nothing; every case here compares it
with the DB-API read of the same statement, and checks the cases where the
native read must step aside (uncommitted writes, in-memory stores, storage
classes the schema does not expect, text that is not UTF-8).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, column, select, table, text

from territory.errors import InternalError
from territory.services import sqlite_reader
from territory.services.reading import read_frame
from territory.storage.engine import make_engine, migrate, sqlite_file_for_reading

pytestmark = pytest.mark.integration

PROBE = table(
    "probe",
    column("k"),
    column("f"),
    column("i"),
    column("s"),
    column("b"),
    column("d"),
)
SCHEMA = {
    "k": pl.Int64,
    "f": pl.Float64,
    "i": pl.Int64,
    "s": pl.String,
    "b": pl.Boolean,
    "d": pl.Date,
}


@pytest.fixture
def file_engine(sqlite_url: str) -> Engine:
    eng = make_engine(sqlite_url)
    migrate(eng)
    with eng.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE probe (k INTEGER PRIMARY KEY, f REAL, i INTEGER, "
            "s TEXT, b BOOLEAN, d DATE)"
        )
    return eng


def _fill(engine: Engine, n: int) -> None:
    # Nulls, integers stored in a REAL column, empty and non-ASCII text,
    # more rows than the reader's first buffer (4,096) when n is large.
    rows = [
        {
            "k": k,
            "f": None if k % 7 == 0 else (k if k % 5 == 0 else k / 3),
            "i": None if k % 11 == 0 else k * 1_000_003 - 2**40,
            "s": None if k % 13 == 0 else ("" if k % 17 == 0 else f"Zürich-{k}-é"),
            "b": None if k % 19 == 0 else k % 2,
            "d": None if k % 23 == 0 else f"2027-{1 + k % 12:02d}-{1 + k % 28:02d}",
        }
        for k in range(n)
    ]
    if not rows:
        return
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO probe VALUES (:k, :f, :i, :s, :b, :d)"), rows)


def _both(  # type: ignore[no-untyped-def]
    engine: Engine, stmt=None, schema=SCHEMA
) -> tuple[pl.DataFrame, pl.DataFrame]:
    stmt = stmt if stmt is not None else select(PROBE).order_by(PROBE.c.k)
    with engine.connect() as conn:
        plain = read_frame(conn, stmt, schema)
        native = read_frame(conn, stmt, schema, large=True)
    return plain, native


@pytest.mark.parametrize(
    ("n", "first_rows"), [(0, None), (1, None), (10_000, None), (10_000, 8)]
)
def test_native_read_equals_ordinary_read(
    file_engine: Engine, n: int, first_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if first_rows is not None:  # small first buffers: the read grows them
        monkeypatch.setattr(sqlite_reader, "_FIRST_ROWS", first_rows)
    _fill(file_engine, n)
    plain, native = _both(file_engine)
    assert plain.height == n
    assert native.schema == plain.schema
    assert native.equals(plain)
    if n == 10_000:
        # The values themselves, not only their agreement.
        row = native.filter(pl.col("k") == 10).row(0, named=True)
        assert row == {
            "k": 10,
            "f": 10.0,
            "i": 10 * 1_000_003 - 2**40,
            "s": "Zürich-10-é",
            "b": False,
            "d": date(2027, 11, 11),
        }
        assert native.filter(pl.col("k") == 17)["s"].to_list() == [""]
        assert native["f"].null_count() == len(range(0, n, 7))


def test_native_read_runs_natively_on_a_file_store(
    file_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(file_engine, 50)
    calls: list[Path] = []
    real = sqlite_reader.read_sqlite_frame

    def spy(path, *args):  # type: ignore[no-untyped-def]
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(sqlite_reader, "read_sqlite_frame", spy)
    with file_engine.connect() as conn:
        frame = read_frame(
            conn,
            select(PROBE.c.k, PROBE.c.s),
            {"k": pl.Int64, "s": pl.String},
            large=True,
        )
        assert sqlite_file_for_reading(conn) is not None
    assert frame.height == 50
    assert len(calls) == 1
    assert calls[0].name == "territory.db"


def test_native_read_steps_aside_after_uncommitted_writes(file_engine: Engine) -> None:
    _fill(file_engine, 3)
    with file_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO probe (k, s) VALUES (99, 'new')")
        assert sqlite_file_for_reading(conn) is None
        frame = read_frame(
            conn, select(PROBE.c.k).order_by(PROBE.c.k), {"k": pl.Int64}, large=True
        )
        conn.rollback()
    # The row written in the same transaction is seen, as by any read.
    assert frame["k"].to_list() == [0, 1, 2, 99]


def test_file_for_reading_is_none_for_a_memory_store() -> None:
    eng = make_engine("sqlite://")
    migrate(eng)
    with eng.connect() as conn:
        assert sqlite_file_for_reading(conn) is None


def test_file_for_reading_is_none_for_postgresql(pg_url: str) -> None:
    eng = make_engine(pg_url)
    try:
        with eng.connect() as conn:
            assert sqlite_file_for_reading(conn) is None
    finally:
        eng.dispose()


def test_native_reader_declines_unexpected_storage_class(file_engine: Engine) -> None:
    _fill(file_engine, 5)
    with file_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE probe SET f = 'text' WHERE k = 3")
    with file_engine.connect() as conn:
        path = sqlite_file_for_reading(conn)
    assert path is not None
    sql = "SELECT k, f FROM probe ORDER BY k"
    assert (
        sqlite_reader.read_sqlite_frame(path, sql, (), {"k": pl.Int64, "f": pl.Float64})
        is None
    )
    # A text column holding a number is declined too.
    assert (
        sqlite_reader.read_sqlite_frame(
            path, "SELECT k FROM probe", (), {"k": pl.String}
        )
        is None
    )
    # read_frame then reads the ordinary way: numbers read as text alike.
    plain, native = _both(
        file_engine, select(PROBE.c.k).order_by(PROBE.c.k), {"k": pl.String}
    )
    assert native["k"].to_list() == plain["k"].to_list() == ["0", "1", "2", "3", "4"]


def test_native_reader_declines_text_that_is_not_utf8(file_engine: Engine) -> None:
    with file_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO probe (k, s) VALUES (1, CAST(x'ff00' AS TEXT))"
        )
    with file_engine.connect() as conn:
        path = sqlite_file_for_reading(conn)
    assert path is not None
    assert (
        sqlite_reader.read_sqlite_frame(
            path, "SELECT s FROM probe", (), {"s": pl.String}
        )
        is None
    )


def test_native_reader_binds_parameters(file_engine: Engine) -> None:
    _fill(file_engine, 100)
    stmt = (
        select(PROBE.c.k, PROBE.c.s)
        .where(PROBE.c.k.in_([3, 4, 5]) | (PROBE.c.s == "Zürich-40-é"))
        .order_by(PROBE.c.k)
    )
    with file_engine.connect() as conn:
        frame = read_frame(conn, stmt, {"k": pl.Int64, "s": pl.String}, large=True)
    assert frame["k"].to_list() == [3, 4, 5, 40]


def test_native_reader_names_a_width_mismatch(file_engine: Engine) -> None:
    with file_engine.connect() as conn:
        path = sqlite_file_for_reading(conn)
    assert path is not None
    with pytest.raises(InternalError, match="returned 2 columns where 1") as info:
        sqlite_reader.read_sqlite_frame(
            path, "SELECT k, f FROM probe", (), {"k": pl.Int64}
        )
    assert info.value.code == "read_frame_width"
