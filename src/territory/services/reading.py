"""Columnar reads from the store: statements in, polars frames out.

Measuring a plan reads millions of rows. SQLAlchemy's result rows process
every value in Python; this module runs the compiled statement on the raw
DB-API cursor of the same connection (same transaction) and converts each
column once, as a whole, to the polars type the caller asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select

from territory.errors import InternalError

__all__ = ["fetch_columns", "read_frame"]


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
    stmt: Select[Any],
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    """Run ``stmt`` and return its rows as a frame with ``schema`` (column order).

    Raises
    ------
    InternalError
        When the statement returns a different number of columns than
        ``schema`` names.
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
        width = len(cursor.description or ())
        if width != len(schema):
            raise InternalError(
                f"A query returned {width} columns where {len(schema)} were expected.",
                code="read_frame_width",
            )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    # Rows go to polars as they are (built in native code); only dates and
    # booleans, which SQLite returns as text and 0/1, are converted after.
    sqlite = conn.dialect.name == "sqlite"
    raw = {
        name: (pl.String if dtype == pl.Date else pl.Int64)
        if sqlite and dtype in (pl.Date, pl.Boolean)
        else dtype
        for name, dtype in schema.items()
    }
    frame = pl.DataFrame(rows, schema=raw, orient="row", strict=False)
    fixes = []
    for name, dtype in schema.items():
        if dtype == pl.Date and frame[name].dtype == pl.String:
            fixes.append(pl.col(name).str.to_date(strict=False))
        elif dtype == pl.Boolean:
            fixes.append(pl.col(name).cast(pl.Boolean, strict=False))
    return frame.with_columns(fixes) if fixes else frame
