"""Columnar reads from the store: statements in, polars frames out.

Measuring a plan reads millions of rows. SQLAlchemy's result rows process
every value in Python; this module runs the compiled statement on the raw
DB-API cursor of the same connection (same transaction) and converts each
column once, as a whole, to the polars type the caller asks for. Reads
marked ``large`` go further on a SQLite file store: they are copied into
columns in compiled code (:mod:`territory.services.sqlite_reader`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import CompoundSelect, Connection, Engine, Select

from territory.errors import InternalError
from territory.storage.engine import sqlite_file_for_reading

__all__ = ["fetch_columns", "is_memory_store", "read_frame"]


def fetch_columns(conn: Connection, stmt: Select[Any]) -> list[tuple[Any, ...]]:
    """Run ``stmt`` on the raw driver cursor and return its columns (not rows).

    Skipping SQLAlchemy's per-value result processing keeps large reads
    affordable; callers convert types per column (SQLite returns dates as
    text and booleans as 0/1).
    """
    compiled = stmt.compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(compiled.params[k] for k in compiled.positiontup)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
        width = len(cursor.description or ())
    finally:
        cursor.close()
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))


def read_frame(
    conn: Connection,
    stmt: Select[Any] | CompoundSelect[Any],
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
    *,
    large: bool = False,
) -> pl.DataFrame:
    """Run ``stmt`` and return its rows as a frame with ``schema`` (column order).

    ``large`` marks a read that may return millions of rows: on a SQLite
    file store whose transaction has written nothing it runs natively
    (:mod:`territory.services.sqlite_reader`, no Python object per value),
    with the same result as the ordinary read.

    Raises
    ------
    InternalError
        When the statement returns a different number of columns than
        ``schema`` names.
    """
    sql, params = _compiled(conn, stmt)
    sqlite = conn.dialect.name == "sqlite"
    raw = {
        name: (pl.String if dtype == pl.Date else pl.Int64)
        if sqlite and dtype in (pl.Date, pl.Boolean)
        else dtype
        for name, dtype in schema.items()
    }
    frame = None
    path = sqlite_file_for_reading(conn) if large and sqlite else None
    if path is not None:
        from territory.services.sqlite_reader import read_sqlite_frame

        frame = read_sqlite_frame(path, sql, params, raw)
    if frame is None:
        frame = _python_frame(conn, sql, params, raw)
    # SQLite returns dates as text and booleans as 0/1: converted per column.
    fixes = []
    for name, dtype in schema.items():
        if dtype == pl.Date and frame[name].dtype == pl.String:
            fixes.append(pl.col(name).str.to_date(strict=False))
        elif dtype == pl.Boolean:
            fixes.append(pl.col(name).cast(pl.Boolean, strict=False))
    return frame.with_columns(fixes) if fixes else frame


def _compiled(
    conn: Connection, stmt: Select[Any] | CompoundSelect[Any]
) -> tuple[str, Any]:
    compiled = stmt.compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(compiled.params[k] for k in compiled.positiontup)
    return str(compiled), params


def _python_frame(
    conn: Connection,
    sql: str,
    params: Any,
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        width = len(cursor.description or ())
        if width != len(schema):
            raise InternalError(
                f"A query returned {width} columns where {len(schema)} were expected.",
                code="read_frame_width",
            )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    # Rows go to polars as they are (built in native code).
    return pl.DataFrame(rows, schema=dict(schema), orient="row", strict=False)


def is_memory_store(engine: Engine) -> bool:
    """Return whether ``engine`` is an in-memory SQLite store.

    Each connection of such a store sees its own database, so its reads
    cannot be spread over several connections.
    """
    url = engine.url
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
