"""Fast bulk writes of columnar data into any table of the store.

Loading a million accounts, every county of the country or a design run's
assignments one ORM object at a time is far too slow. The functions here take
*columns* (one sequence per column name) and write them with the fastest path
each store offers, on the caller's connection and inside the caller's
transaction, so a bulk write commits or rolls back together with everything
else the command does:

* **SQLite**: the raw DBAPI cursor's ``executemany`` with a prepared
  ``INSERT`` of 100 rows per statement (binding one statement of many rows
  costs about half as much per row as one statement per row); parameters are
  sliced from one row-major list per chunk, no per-row Python objects.
* **PostgreSQL**: psycopg 3 ``COPY ... FROM STDIN (FORMAT csv)``; the CSV text
  is produced by polars in native code, chunk by chunk, while a writer thread
  sends the previous chunk. In big loads a column holding one value on every
  row (the import time, a table default) is left out of the COPY and written
  by a column default set for the load and dropped after it, in the same
  transaction, so the server parses it once instead of once per row.

Values are converted once, per column, to what SQLAlchemy itself would have
stored (``Date``/``DateTime`` as ISO text on SQLite, ``JSON`` serialised with
``json.dumps``, booleans as 0/1), so rows written here read back through
SQLAlchemy exactly as rows written with ``conn.execute(table.insert(), ...)``.
Two deliberate differences: time-zone-aware datetimes are stored in UTC on
SQLite too (SQLAlchemy would keep the wall-clock time and drop the offset),
and ``None`` in a ``JSON`` column is SQL ``NULL`` rather than JSON ``null``;
both read back the same way. ``NaN`` in a float column is stored as
``NULL`` on both stores.

Column values
-------------
Each value of ``columns`` is either a column (``list``, ``tuple``, NumPy
array, polars ``Series``, pyarrow ``Array``/``ChunkedArray``), all of the
same length, or a *scalar* (``str``, number, ``bool``, ``date``,
``datetime``, ``dict`` for a JSON column, ``None``) repeated on every row.
Columns left out get the table's scalar or callable Python-side default
(``placed_by`` = ``"unplaced"``, ``is_sample`` = ``False`` ...), or are left
to the database (autoincrement keys, nullable columns). ``None`` is SQL
``NULL``.

Examples
--------
>>> from datetime import UTC, datetime
>>> with engine.begin() as conn:                       # doctest: +SKIP
...     insert_columns(conn, "account", {
...         "id": ["A1", "A2"], "name": ["Acme", "Globex"],
...         "billing_postal_code": ["02134", "01001"],
...         "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC),
...     })
2
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    literal_column,
    select,
)
from sqlalchemy.schema import CreateIndex

from territory.errors import Conflict, InternalError
from territory.storage.tables import metadata

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "REBUILD_INDEXES_FROM_ROWS",
    "REBUILD_INDEXES_STORED_RATIO",
    "insert_columns",
    "insert_frame",
    "upsert_columns",
]

#: Rows per ``executemany`` batch or ``COPY`` write; also the progress step.
DEFAULT_CHUNK_ROWS = 100_000
#: From this many rows, a load into a table holding at most
#: ``REBUILD_INDEXES_STORED_RATIO`` times as many drops and rebuilds the
#: table's plain indexes: one sort then beats as many scattered B-tree
#: inserts (measured on both stores, 100,000 accounts into 100,000 stored:
#: half the write time; into 900,000 stored, twice the write time).
REBUILD_INDEXES_FROM_ROWS = 50_000
REBUILD_INDEXES_STORED_RATIO = 2
#: From this many rows, PostgreSQL COPY leaves out the columns whose every
#: row holds one value and fills them with a temporary column default.
_PG_DEFAULTS_FROM_ROWS = 10_000
#: ``maintenance_work_mem`` for rebuilding indexes on PostgreSQL.
_PG_INDEX_MEMORY = "256MB"

ProgressCallback = Callable[[int], None]

_SCALAR_TYPES = (str, bytes, int, float, bool, date, datetime, dict)


# --------------------------------------------------------------------- helpers


def _resolve_table(table: Table | str) -> Table:
    if isinstance(table, Table):
        return table
    try:
        return metadata.tables[table]
    except KeyError as exc:
        raise InternalError(
            f"Bulk write to unknown table {table!r}; known tables are "
            f"{', '.join(sorted(metadata.tables))}.",
            code="bulk_unknown_table",
        ) from exc


def _polars_dtype(sa_type: Any) -> pl.DataType:
    """Return the polars dtype a column of SQLAlchemy type ``sa_type`` is staged in."""
    if isinstance(sa_type, Boolean):
        return pl.Boolean()
    if isinstance(sa_type, Integer | BigInteger):
        return pl.Int64()
    if isinstance(sa_type, Float):
        return pl.Float64()
    if isinstance(sa_type, DateTime):
        return pl.Datetime("us", "UTC") if sa_type.timezone else pl.Datetime("us")
    if isinstance(sa_type, Date):
        return pl.Date()
    if isinstance(sa_type, LargeBinary):
        return pl.Binary()
    if isinstance(sa_type, JSON | String | Text):
        return pl.String()
    raise InternalError(
        f"Bulk write does not know how to stage a {sa_type!r} column; add it to "
        "territory.storage.bulk._polars_dtype.",
        code="bulk_column_type",
    )


def _is_column(value: Any) -> bool:
    if isinstance(value, _SCALAR_TYPES) or value is None:
        return False
    return hasattr(value, "__len__")


def _json_text(values: Any) -> list[str | None]:
    return [None if v is None else json.dumps(v) for v in values]


def _to_series(name: str, value: Any, dtype: pl.DataType, is_json: bool) -> pl.Series:
    """Return ``value`` (a column) as a polars Series of ``dtype``."""
    try:
        if is_json:
            if isinstance(value, pl.Series) and value.dtype == pl.String:
                # Already serialised JSON text.
                return value.alias(name)
            seq = value.to_list() if hasattr(value, "to_list") else value
            return pl.Series(name, _json_text(seq), dtype=pl.String)
        if isinstance(value, pl.Series):
            series = value.alias(name)
        elif type(value).__module__.startswith("pyarrow"):
            series = pl.Series(name, pl.from_arrow(value))
        elif type(value).__module__ == "numpy":
            series = pl.Series(name, value)
        else:
            # Infer (widening mixed ints and floats), then cast strictly below
            # so a value that does not fit the column is an error, not a NULL.
            series = pl.Series(name, list(value), strict=False)
        if series.dtype != dtype:
            if isinstance(dtype, pl.Datetime) and isinstance(series.dtype, pl.Datetime):
                if series.dtype.time_zone is None and dtype.time_zone is not None:
                    series = series.dt.replace_time_zone(dtype.time_zone)
                elif dtype.time_zone is not None:
                    series = series.dt.convert_time_zone(dtype.time_zone)
            series = series.cast(dtype, strict=True)
        if dtype == pl.Float64:
            # The store marks unknown numbers with NULL; NaN would read back
            # as NULL on SQLite but as NaN on PostgreSQL.
            series = series.fill_nan(None)
        return series
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
        raise InternalError(
            f"Bulk write: column {name!r} cannot be stored as {dtype}: {exc}; "
            "convert the values before writing.",
            code="bulk_column_value",
        ) from exc


def _column_default(col: Any) -> tuple[bool, Any]:
    """Return ``(has_default, value)`` for a column left out of the input."""
    default = col.default
    if default is None:
        return False, None
    if getattr(default, "is_scalar", False):
        return True, default.arg
    if getattr(default, "is_callable", False):
        return True, default.arg(None)
    return False, None


@dataclass(frozen=True, slots=True)
class _Staged:
    """Input checked against its table: column series in one frame, scalars apart."""

    names: list[str]
    frame: pl.DataFrame
    scalars: dict[str, Any]
    n_rows: int


def _stage(table: Table, columns: Mapping[str, Any], *, sort: bool) -> _Staged:
    """Check ``columns`` against ``table`` and stage them for writing.

    With ``sort``, rows are ordered by the primary key when every key column
    is given: B-tree inserts in key order touch each page once.
    """
    unknown = sorted(set(columns) - set(table.c.keys()))
    if unknown:
        raise InternalError(
            f"Bulk write to '{table.name}': unknown column(s) {', '.join(unknown)}; "
            f"the table has {', '.join(table.c.keys())}.",
            code="bulk_unknown_column",
        )
    lengths = {name: len(v) for name, v in columns.items() if _is_column(v)}
    n_rows = 0
    if lengths:
        distinct = set(lengths.values())
        if len(distinct) > 1:
            raise InternalError(
                f"Bulk write to '{table.name}': columns differ in length "
                f"({', '.join(f'{k}={v}' for k, v in sorted(lengths.items()))}); "
                "every column must have one value per row.",
                code="bulk_ragged_columns",
            )
        n_rows = distinct.pop()
    names: list[str] = []
    series: list[pl.Series] = []
    scalars: dict[str, Any] = {}
    for col in table.columns:
        name = col.name
        if name in columns:
            value = columns[name]
        else:
            has_default, value = _column_default(col)
            if not has_default:
                generated = (
                    col.primary_key
                    and col.autoincrement in (True, "auto")
                    and isinstance(col.type, Integer)
                )
                if not col.nullable and not generated:
                    raise InternalError(
                        f"Bulk write to '{table.name}': required column '{name}' "
                        "is missing and has no default; supply it.",
                        code="bulk_missing_column",
                    )
                continue
        names.append(name)
        if _is_column(value):
            series.append(
                _to_series(
                    name, value, _polars_dtype(col.type), isinstance(col.type, JSON)
                )
            )
        else:
            scalars[name] = value
    frame = pl.DataFrame(series) if series else pl.DataFrame()
    key = [c.name for c in table.primary_key]
    if sort and n_rows > 1 and key and all(k in frame.columns for k in key):
        already = len(key) == 1 and frame.get_column(key[0]).is_sorted()
        if not already:
            # Gathering from one contiguous chunk per column is several times
            # faster than from the many chunks a parallel CSV read leaves.
            frame = frame.rechunk()
            order = _byte_order(frame.get_column(key[0])) if len(key) == 1 else None
            frame = frame.sort(key) if order is None else frame[order]
    return _Staged(names=names, frame=frame, scalars=scalars, n_rows=n_rows)


#: Longest key (bytes) :func:`_byte_order` sorts as fixed-width strings.
_FIXED_WIDTH_SORT_MAX_BYTES = 64


def _byte_order(keys: pl.Series) -> pl.Series | None:
    """Return the permutation sorting text ``keys`` by their bytes, or None.

    NumPy sorts fixed-width byte strings in about half the time polars takes
    to sort the indices of variable-length ones: the keys are padded with NUL
    to the longest, which keeps their byte order. ``None`` for keys that are
    not text, have nulls, or are too long to pad cheaply. The order only
    speeds up B-tree inserts, so keys equal but for trailing NULs (which
    compare equal padded) cost nothing but a little of that speed.
    """
    import numpy as np
    import pyarrow as pa

    if keys.dtype != pl.String or keys.null_count():
        return None
    width = keys.str.len_bytes().max()
    if not isinstance(width, int) or not 0 < width <= _FIXED_WIDTH_SORT_MAX_BYTES:
        return None
    padded = keys.str.pad_end(width, "\x00")
    lengths = padded.str.len_bytes()
    if lengths.min() != width or lengths.max() != width:
        return None  # multi-byte characters: padding counts characters
    arr = padded.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    start = int(offsets[arr.offset])
    fixed = np.frombuffer(
        arr.buffers()[2], dtype=f"S{width}", count=len(arr), offset=start
    )
    return pl.Series(np.argsort(fixed, kind="stable"), dtype=pl.UInt32)


# ------------------------------------------------------------------ SQLite path

#: Page cache used during a bulk write (KiB, as ``PRAGMA cache_size`` takes a
#: negative number): big enough that a million-account table and its indexes
#: stay in memory instead of spilling to the WAL mid-transaction. SQLite only
#: allocates the pages a load touches, and the old size is restored after.
_SQLITE_BULK_CACHE_KIB = 1_048_576
#: Rows per ``INSERT ... VALUES`` statement (fewer when the store's limit on
#: bound parameters is lower).
_SQLITE_ROWS_PER_STATEMENT = 100


def _sqlite_values(series: pl.Series, sa_type: Any) -> list[Any]:
    """Return the column as the Python values SQLAlchemy's SQLite dialect stores."""
    if isinstance(sa_type, DateTime):
        # SQLAlchemy's SQLite DATETIME storage format (tz-naive text).
        return series.dt.strftime("%Y-%m-%d %H:%M:%S%.6f").to_list()
    if isinstance(sa_type, Date):
        return series.dt.strftime("%Y-%m-%d").to_list()
    if isinstance(sa_type, Boolean):
        return series.cast(pl.Int64).to_list()
    return series.to_list()


def _sqlite_scalar(value: Any, sa_type: Any) -> Any:
    if value is None:
        return None
    if isinstance(sa_type, JSON):
        return json.dumps(value)
    if isinstance(sa_type, DateTime) and isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(sa_type, Date) and isinstance(value, date):
        return value.isoformat()
    if isinstance(sa_type, Boolean):
        return int(bool(value))
    return value


def _secondary_indexes(table: Table) -> list[Index]:
    """Return the table's plain (non-unique) indexes, which a big load rebuilds."""
    return sorted(
        (ix for ix in table.indexes if not ix.unique),
        key=lambda ix: str(ix.name),
    )


_VARIES = object()


def _constant_of(series: pl.Series) -> Any:
    """Return the one value every row holds, or ``_VARIES``."""
    if series.len() == 0 or series.dtype == pl.Binary:
        return _VARIES
    first = series[0]
    if first is None:
        return None if series.null_count() == series.len() else _VARIES
    if series.null_count() or not bool((series == first).all()):
        return _VARIES
    return first


def _sqlite_literal(value: Any) -> str | None:
    """Return ``value`` as an SQLite literal, or None when it must be bound."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None  # floats and bytes are bound, so they keep every bit


_Values = Callable[[int, int], list[Any]]


def _column_values(series: pl.Series, sa_type: Any) -> _Values:
    """Return ``(start, n) -> values`` of rows ``start`` to ``start + n``."""

    def values(start: int, n: int) -> list[Any]:
        return _sqlite_values(series.slice(start, n), sa_type)

    return values


def _repeated_values(value: Any) -> _Values:
    def values(_start: int, n: int) -> list[Any]:
        return [value] * n

    return values


def _sqlite_rows_per_statement(dbapi: Any, n_bound: int) -> int:
    """Return how many rows one ``INSERT ... VALUES`` statement carries."""
    import sqlite3

    if n_bound == 0:
        return _SQLITE_ROWS_PER_STATEMENT
    limit = int(dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return max(1, min(_SQLITE_ROWS_PER_STATEMENT, limit // n_bound))


def _insert_sqlite(
    conn: Connection,
    table: Table,
    staged: _Staged,
    *,
    conflict_sql: str,
    chunk_rows: int,
    rebuild_indexes: bool,
    on_progress: ProgressCallback | None,
) -> None:
    prep = conn.dialect.identifier_preparer
    names = staged.names
    # A value repeated on every row is written into the statement once
    # instead of being bound a million times.
    marks: list[str] = []
    bound: list[_Values] = []
    for name in names:
        sa_type = table.c[name].type
        if name in staged.frame.columns:
            series = staged.frame.get_column(name)
            constant = _constant_of(series)
            if constant is _VARIES:
                marks.append("?")
                bound.append(_column_values(series, sa_type))
                continue
            # Converted exactly as the bound column would be.
            value = _sqlite_values(series.head(1), sa_type)[0]
        else:
            value = _sqlite_scalar(staged.scalars[name], sa_type)
        literal = _sqlite_literal(value)
        if literal is None:
            marks.append("?")
            bound.append(_repeated_values(value))
        else:
            marks.append(literal)
    cols = ", ".join(prep.quote(n) for n in names)
    target = prep.format_table(table)
    dbapi = conn.connection.dbapi_connection
    # Many rows per statement: binding and stepping one statement of a
    # hundred rows costs about half as much per row as a hundred statements.
    width = len(bound)
    per_statement = _sqlite_rows_per_statement(dbapi, width)
    row_sql = f"({', '.join(marks)})"
    head = f"INSERT INTO {target} ({cols}) VALUES "
    many_sql = head + ", ".join([row_sql] * per_statement) + conflict_sql
    one_sql = head + row_sql + conflict_sql
    indexes = _secondary_indexes(table) if rebuild_indexes else []
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        (old_cache,) = cursor.execute("PRAGMA cache_size").fetchone()
        (old_threads,) = cursor.execute("PRAGMA threads").fetchone()
        cursor.execute(f"PRAGMA cache_size = -{_SQLITE_BULK_CACHE_KIB}")
        # Let CREATE INDEX sort with helper threads.
        cursor.execute(f"PRAGMA threads = {min(os.cpu_count() or 1, 4)}")
        for ix in indexes:
            cursor.execute(f"DROP INDEX IF EXISTS {prep.quote(str(ix.name))}")
        done = 0
        while done < staged.n_rows:
            step = min(chunk_rows, staged.n_rows - done)
            n_many, n_one = divmod(step, per_statement)
            if width:
                # Row-major parameters: column j of row i at i * width + j,
                # sliced per statement as the cursor asks for them.
                flat: list[Any] = [None] * (step * width)
                for j, values in enumerate(bound):
                    flat[j::width] = values(done, step)
                size = per_statement * width
                cut = n_many * size
                many: Iterable[Sequence[Any]] = (
                    flat[i : i + size] for i in range(0, cut, size)
                )
                ones: Iterable[Sequence[Any]] = (
                    flat[i : i + width] for i in range(cut, len(flat), width)
                )
            else:
                many, ones = [()] * n_many, [()] * n_one
            if n_many:
                cursor.executemany(many_sql, many)  # type: ignore[arg-type]
            if n_one:
                cursor.executemany(one_sql, ones)  # type: ignore[arg-type]
            done += step
            if on_progress is not None:
                on_progress(step)
        for ix in indexes:
            cursor.execute(str(CreateIndex(ix).compile(dialect=conn.dialect)))
        cursor.execute(f"PRAGMA cache_size = {int(old_cache)}")
        cursor.execute(f"PRAGMA threads = {int(old_threads)}")
    finally:
        cursor.close()


# -------------------------------------------------------------- PostgreSQL path


def _pg_text(value: Any, sa_type: Any) -> str | None:
    """Render one scalar as PostgreSQL text input (for a repeated column)."""
    if value is None:
        return None
    if isinstance(sa_type, JSON):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _pg_frame(table: Table, staged: _Staged) -> pl.DataFrame:
    """Return one polars frame holding every column as COPY-ready values."""
    cols: list[pl.Series] = []
    for name in staged.names:
        sa_type = table.c[name].type
        if name in staged.frame.columns:
            s = staged.frame.get_column(name)
            if isinstance(sa_type, LargeBinary):
                # bytea text input: \x followed by hex digits.
                s = ("\\x" + s.bin.encode("hex")).alias(name)
        else:
            text = _pg_text(staged.scalars[name], sa_type)
            s = pl.repeat(text, staged.n_rows, dtype=pl.String, eager=True).alias(name)
        cols.append(s)
    return pl.DataFrame(cols)


def _pg_constants(table: Table, staged: _Staged) -> dict[str, str | None]:
    """Return the columns whose every row holds one value, as PostgreSQL text."""
    out: dict[str, str | None] = {}
    for name in staged.names:
        sa_type = table.c[name].type
        if name in staged.frame.columns:
            value = _constant_of(staged.frame.get_column(name))
            if value is _VARIES:
                continue
            # A JSON column is staged as its serialised text already.
            out[name] = value if isinstance(sa_type, JSON) else _pg_text(value, sa_type)
        else:
            out[name] = _pg_text(staged.scalars[name], sa_type)
    return out


@dataclass(frozen=True, slots=True)
class _PgDefaults:
    """Constant columns COPY leaves out, filled by temporary column defaults."""

    omitted: list[str]
    set_sql: str | None
    drop_sql: str | None


def _pg_defaults(
    conn: Connection,
    target_sql: str,
    staged: _Staged,
    constants: Mapping[str, str | None],
) -> _PgDefaults:
    """Plan a COPY that leaves out ``constants`` and lets defaults write them.

    A value repeated on every row (the import time, a table default) is then
    parsed once by ``ALTER COLUMN ... SET DEFAULT`` instead of once per row;
    the defaults are dropped again after the COPY, in the same transaction.
    Columns that already have a default, an identity or a generated value
    are sent as usual.
    """
    from psycopg import sql

    none = _PgDefaults([], None, None)
    if staged.n_rows < _PG_DEFAULTS_FROM_ROWS or not constants:
        return none
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            "SELECT a.attname FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
            "AND NOT a.attisdropped "
            "AND (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '')",
            (target_sql,),
        )
        taken = {r[0] for r in cursor.fetchall()}
    omitted = [c for c in constants if c not in taken]
    if len(omitted) == len(staged.names):
        return none  # COPY needs a column; rows this alike are few anyway
    filled = [c for c in omitted if constants[c] is not None]
    if not filled:
        return _PgDefaults(omitted, None, None)
    table = sql.SQL(target_sql)
    set_sql = sql.SQL("ALTER TABLE {} {}").format(
        table,
        sql.SQL(", ").join(
            sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(
                sql.Identifier(c), sql.Literal(constants[c])
            )
            for c in filled
        ),
    )
    drop_sql = sql.SQL("ALTER TABLE {} {}").format(
        table,
        sql.SQL(", ").join(
            sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(c))
            for c in filled
        ),
    )
    return _PgDefaults(omitted, set_sql.as_string(raw), drop_sql.as_string(raw))


def _copy_with_defaults(
    conn: Connection,
    target_sql: str,
    frame: pl.DataFrame,
    defaults: _PgDefaults,
    *,
    chunk_rows: int,
    on_progress: ProgressCallback | None,
) -> None:
    raw = conn.connection.driver_connection
    if defaults.set_sql is not None:
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(defaults.set_sql)
    _copy_postgres(
        conn,
        target_sql,
        frame.drop(defaults.omitted),
        chunk_rows=chunk_rows,
        on_progress=on_progress,
    )
    if defaults.drop_sql is not None:
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(defaults.drop_sql)


def _copy_postgres(
    conn: Connection,
    target_sql: str,
    frame: pl.DataFrame,
    *,
    chunk_rows: int,
    on_progress: ProgressCallback | None,
) -> None:
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(n) for n in frame.columns)
    sql = f"COPY {target_sql} ({cols}) FROM STDIN (FORMAT csv)"
    from psycopg.copy import QueuedLibpqWriter

    raw = conn.connection.driver_connection
    # A worker thread sends each chunk while polars (which releases the GIL)
    # writes the next one, so the server parses as the client formats.
    with (
        raw.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy,
    ):
        for start in range(0, frame.height, chunk_rows):
            part = frame.slice(start, chunk_rows)
            buffer = io.BytesIO()
            part.write_csv(
                buffer,
                include_header=False,
                quote_style="necessary",
                null_value="",
                datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z",
            )
            copy.write(buffer.getvalue())
            if on_progress is not None:
                on_progress(part.height)


# --------------------------------------------------------------------- public


def _conflict(table: Table, text: str) -> Conflict:
    return Conflict(
        f"Writing to '{table.name}' clashes with data already in the store "
        f"({text}); check for duplicate ids or references to missing rows.",
        code="bulk_conflict",
        details={"table": table.name},
    )


def _failed(table: Table, text: str) -> InternalError:
    return InternalError(
        f"Bulk write to '{table.name}' failed: {text}.",
        code="bulk_write_failed",
        details={"table": table.name},
    )


def _wrap_driver_errors(table: Table, fn: Callable[[], None]) -> None:
    """Run ``fn``; translate driver errors of the raw cursor to project errors."""
    import sqlite3

    import psycopg

    try:
        fn()
    except (sqlite3.IntegrityError, psycopg.IntegrityError) as exc:
        raise _conflict(table, str(exc).strip().splitlines()[0]) from exc
    except (sqlite3.Error, psycopg.Error) as exc:
        raise _failed(table, str(exc).strip().splitlines()[0]) from exc


def _ensure_transaction(conn: Connection) -> None:
    # The raw cursor bypasses SQLAlchemy's autobegin, so begin explicitly: the
    # caller then commits or rolls back as with any other statement.
    if not conn.in_transaction():
        conn.begin()


def _auto_rebuild(
    conn: Connection, table: Table, rebuild_indexes: bool | None, n_rows: int
) -> bool:
    if rebuild_indexes is not None:
        return rebuild_indexes
    if n_rows < REBUILD_INDEXES_FROM_ROWS or not _secondary_indexes(table):
        return False
    # Count the stored rows only as far as the answer needs.
    limit = n_rows * REBUILD_INDEXES_STORED_RATIO
    probe = select(literal_column("1")).select_from(table).limit(limit + 1).subquery()
    counted = select(func.count()).select_from(probe)
    stored = conn.execute(counted).scalar()
    return int(stored or 0) <= limit


def insert_columns(
    conn: Connection,
    table: Table | str,
    columns: Mapping[str, Any],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    rebuild_indexes: bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Insert rows given as columns into ``table``; return the number of rows.

    Runs on ``conn`` inside its current transaction (one is begun if none is
    open), so the rows commit or roll back with the rest of the caller's work.
    Rows are written in primary-key order when the key is given (row order
    carries no meaning in the store).

    Parameters
    ----------
    conn
        A SQLAlchemy connection to an SQLite or PostgreSQL store.
    table
        A table of :mod:`territory.storage.tables`, or its name.
    columns
        Column name -> column (sequence, NumPy/pyarrow array, polars Series)
        or scalar repeated on every row. See the module docstring.
    chunk_rows
        Rows per batch; ``on_progress(n)`` is called after each batch.
    rebuild_indexes
        Drop the table's non-unique indexes before the load and create them
        again after it, inside the same transaction: one sort instead of a
        million scattered B-tree inserts. ``None`` does so from
        ``REBUILD_INDEXES_FROM_ROWS`` rows when the table holds at most
        ``REBUILD_INDEXES_STORED_RATIO`` times as many. On PostgreSQL the
        dropped index (and, in such a load, the temporary column defaults)
        lock the table against other sessions until the transaction ends.

    Raises
    ------
    Conflict
        When a row clashes with the store (duplicate key, broken reference).
    InternalError
        When ``columns`` names unknown columns, columns differ in length, a
        required column is missing, or values cannot be stored in a column.
    """
    tbl = _resolve_table(table)
    staged = _stage(tbl, columns, sort=True)
    if staged.n_rows == 0 or not staged.names:
        return 0
    _ensure_transaction(conn)
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _wrap_driver_errors(
            tbl,
            lambda: _insert_sqlite(
                conn,
                tbl,
                staged,
                conflict_sql="",
                chunk_rows=chunk_rows,
                rebuild_indexes=_auto_rebuild(
                    conn, tbl, rebuild_indexes, staged.n_rows
                ),
                on_progress=on_progress,
            ),
        )
    elif dialect == "postgresql":
        frame = _pg_frame(tbl, staged)
        prep = conn.dialect.identifier_preparer
        target = prep.format_table(tbl)
        big = _auto_rebuild(conn, tbl, rebuild_indexes, staged.n_rows)
        indexes = _secondary_indexes(tbl) if big else []

        def run() -> None:
            raw = conn.connection.driver_connection
            if indexes:
                with raw.cursor() as cursor:  # type: ignore[union-attr]
                    # Sorting for CREATE INDEX in memory; local to this transaction.
                    cursor.execute(
                        f"SET LOCAL maintenance_work_mem = '{_PG_INDEX_MEMORY}'"
                    )
                    for ix in indexes:
                        cursor.execute(
                            f"DROP INDEX IF EXISTS {prep.quote(str(ix.name))}"
                        )
            # Temporary defaults alter the table, which locks it until the
            # end of the transaction: only for the loads that lock it anyway.
            defaults = (
                _pg_defaults(conn, target, staged, _pg_constants(tbl, staged))
                if big
                else _PgDefaults([], None, None)
            )
            _copy_with_defaults(
                conn,
                target,
                frame,
                defaults,
                chunk_rows=chunk_rows,
                on_progress=on_progress,
            )
            if indexes:
                with raw.cursor() as cursor:  # type: ignore[union-attr]
                    for ix in indexes:
                        cursor.execute(
                            str(CreateIndex(ix).compile(dialect=conn.dialect))
                        )

        _wrap_driver_errors(tbl, run)
    else:
        raise InternalError(
            f"Bulk writes support SQLite and PostgreSQL, not {dialect}.",
            code="bulk_dialect",
        )
    return staged.n_rows


def _merge_sql(conn: Connection, table: Table, column: str, keys: Sequence[str]) -> str:
    """Return SQL setting JSON object ``column`` to the stored one with ``keys``
    taken from the new row: the stored object's other keys stay.

    The new values are JSON text or null (file columns); a stored value that
    is not an object counts as ``{}``.
    """
    prep = conn.dialect.identifier_preparer
    col = prep.quote(column)
    if conn.dialect.name == "postgresql":
        old = f"_t.{col}::jsonb"
        return (
            f"(CASE WHEN jsonb_typeof({old}) = 'object' THEN {old} ELSE "
            f"'{{}}'::jsonb END || excluded.{col}::jsonb)::json"
        )
    bad = [k for k in keys if '"' in k or "\\" in k]
    if bad:
        raise InternalError(
            f"Bulk upsert cannot merge JSON key(s) {', '.join(map(repr, bad))} "
            f"of '{table.name}.{column}' on SQLite (a quote or backslash).",
            code="bulk_merge_key",
        )
    old = f"CASE WHEN json_type({col}) = 'object' THEN {col} ELSE '{{}}' END"
    paths = ["'$.\"" + k.replace("'", "''") + "\"'" for k in keys]
    sets = ", ".join(f"{p}, json_extract(excluded.{col}, {p})" for p in paths)
    return f"json_set({old}, {sets})" if keys else old


def upsert_columns(
    conn: Connection,
    table: Table | str,
    columns: Mapping[str, Any],
    *,
    key: Sequence[str] | None = None,
    update: Sequence[str] | None = None,
    merge_keys: Mapping[str, Sequence[str]] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Insert rows, or update the existing row with the same ``key``; return rows.

    ``key`` defaults to the table's primary key and must be covered by a
    primary key or unique constraint. ``update`` lists the columns overwritten
    on an existing row (default: every given column outside ``key``); columns
    left out of ``update`` (say ``created_at``) keep their stored value.
    ``merge_keys`` names JSON object columns of ``update`` that are merged
    instead of overwritten: an existing row takes the listed keys from the
    new object (whose values are text or null) and keeps its other keys.
    On PostgreSQL the rows are copied into a temporary table first, then merged
    with ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``.

    Raises
    ------
    Conflict
        When a row breaks another constraint, or the input repeats a key.
    InternalError
        As :func:`insert_columns`, and when ``key`` is not given in ``columns``.
    """
    tbl = _resolve_table(table)
    key_cols = list(key) if key is not None else [c.name for c in tbl.primary_key]
    missing_key = [k for k in key_cols if k not in columns]
    if missing_key:
        raise InternalError(
            f"Upsert into '{tbl.name}' needs the key column(s) "
            f"{', '.join(missing_key)} in its input.",
            code="bulk_missing_key",
        )
    staged = _stage(tbl, columns, sort=True)
    if staged.n_rows == 0:
        return 0
    upd = (
        list(update)
        if update is not None
        else [n for n in staged.names if n in columns and n not in key_cols]
    )
    prep = conn.dialect.identifier_preparer
    conflict_target = ", ".join(prep.quote(k) for k in key_cols)
    merge = dict(merge_keys or {})
    if upd:
        sets = ", ".join(
            f"{prep.quote(c)} = "
            + (
                _merge_sql(conn, tbl, c, merge[c])
                if c in merge
                else f"excluded.{prep.quote(c)}"
            )
            for c in upd
        )
        conflict_sql = f" ON CONFLICT ({conflict_target}) DO UPDATE SET {sets}"
    else:
        conflict_sql = f" ON CONFLICT ({conflict_target}) DO NOTHING"
    _ensure_transaction(conn)
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _wrap_driver_errors(
            tbl,
            lambda: _insert_sqlite(
                conn,
                tbl,
                staged,
                conflict_sql=conflict_sql,
                chunk_rows=chunk_rows,
                rebuild_indexes=False,
                on_progress=on_progress,
            ),
        )
        return staged.n_rows
    if dialect != "postgresql":
        raise InternalError(
            f"Bulk writes support SQLite and PostgreSQL, not {dialect}.",
            code="bulk_dialect",
        )
    frame = _pg_frame(tbl, staged)
    staging = prep.quote(f"_stage_{tbl.name}_{uuid.uuid4().hex[:8]}")
    cols = ", ".join(prep.quote(n) for n in staged.names)
    target = prep.format_table(tbl)

    def run() -> None:
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(
                f"CREATE TEMP TABLE {staging} "
                f"(LIKE {target} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
        # The staging table is private to this transaction: its constant
        # columns always come from temporary defaults.
        _copy_with_defaults(
            conn,
            staging,
            frame,
            _pg_defaults(conn, staging, staged, _pg_constants(tbl, staged)),
            chunk_rows=chunk_rows,
            on_progress=on_progress,
        )
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(
                f"INSERT INTO {target} AS _t ({cols}) "
                f"SELECT {cols} FROM {staging}{conflict_sql}"
            )
            cursor.execute(f"DROP TABLE {staging}")

    _wrap_driver_errors(tbl, run)
    return staged.n_rows


def insert_frame(
    conn: Connection,
    table: Table | str,
    frame: pl.DataFrame,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    rebuild_indexes: bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Insert every row of a polars frame whose columns are named as the table's.

    Raises
    ------
    Conflict, InternalError
        As :func:`insert_columns`.
    """
    return insert_columns(
        conn,
        table,
        {name: frame.get_column(name) for name in frame.columns},
        chunk_rows=chunk_rows,
        rebuild_indexes=rebuild_indexes,
        on_progress=on_progress,
    )
