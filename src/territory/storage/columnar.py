"""Columnar reads from a SQLite store: each column of a result as one value.

Python's ``sqlite3`` module makes a Python object of every value it returns,
which costs seconds for a million rows of several columns. Here SQLite
folds each column of a result into one value with ``group_concat``: texts
joined by a separator (``char(31)``), numbers printed with 17 significant
digits (which read back as the same double), integers as a comma list.
NumPy and Arrow split those few large values in native code. A text that
holds the separator, or a value of an unexpected type, makes the read
return ``None`` and the caller reads the ordinary way; the result never
depends on which way ran.

The reads run on the caller's connection, inside its transaction, so they
see exactly what the rest of the transaction sees.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import Connection

__all__ = [
    "ACCOUNT_CHUNK_ROWS",
    "AccountColumns",
    "read_account_columns",
    "split_texts",
]

#: Accounts per statement of :func:`read_account_columns`; bounds each value.
ACCOUNT_CHUNK_ROWS = 262_144
SEPARATOR = "\x1f"


class _NotColumnar(Exception):
    """A value the columnar read does not handle."""


def split_texts(joined: str | None, n: int) -> pa.Array | None:
    """Split ``n`` texts joined by the separator; ``None`` if they do not split so.

    Examples
    --------
    >>> split_texts("a\\x1f\\x1fbc", 3).to_pylist()
    ['a', '', 'bc']
    """
    blob = np.frombuffer((joined or "").encode("utf-8"), dtype=np.uint8)
    cuts = np.flatnonzero(blob == ord(SEPARATOR))
    if n == 0 or len(cuts) != n - 1:
        return pa.nulls(0, pa.string()) if n == 0 and not len(blob) else None
    kept = np.delete(blob, cuts) if len(cuts) else blob
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:-1] = cuts - np.arange(len(cuts))
    offsets[-1] = len(kept)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(kept.tobytes())
    )


def _numbers(text: str | None, n: int, dtype: type) -> npt.NDArray[Any]:
    if n == 0:
        return np.empty(0, dtype=dtype)
    if text is None:
        raise _NotColumnar
    out: npt.NDArray[Any] = np.fromstring(text, dtype=dtype, sep=",")
    if len(out) != n:
        raise _NotColumnar
    return out


@dataclass(frozen=True, slots=True)
class AccountColumns:
    """Accounts in ``rowid`` order: each account's ``rowid`` and flag, and columns.

    Texts are Arrow string arrays (a ``NULL`` reads as ``""``); numbers are
    ``float64`` arrays (``NaN`` for ``NULL`` or a non-number).
    """

    rowids: npt.NDArray[np.int64]
    excluded: npt.NDArray[np.bool_]
    texts: Mapping[str, pa.Array]
    numbers: Mapping[str, npt.NDArray[np.float64]]


def _statement(text_cols: Sequence[str], number_cols: Sequence[str]) -> str:
    inner = ["rowid AS r", "excluded_from_realign AS x"]
    outer = ["count(*)", "group_concat(r)", "group_concat(x)"]
    for k, name in enumerate(text_cols):
        inner.append(f'"{name}" AS t{k}')
        outer.append(f"group_concat(coalesce(t{k}, ''), char(31))")
    for k, name in enumerate(number_cols):
        inner.append(f'"{name}" AS n{k}')
        outer.append(
            f"group_concat(CASE WHEN typeof(n{k}) IN ('integer', 'real') "
            f"THEN printf('%!.17g', n{k}) ELSE 'nan' END)"
        )
    return (
        f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM account "
        "WHERE rowid > ? ORDER BY rowid LIMIT ?)"
    )


def read_account_columns(
    conn: Connection,
    text_cols: Sequence[str],
    number_cols: Sequence[str],
    *,
    chunk_rows: int = ACCOUNT_CHUNK_ROWS,
) -> AccountColumns | None:
    """Read every account's ``rowid``, exclusion flag and the named columns.

    Column names must be columns of ``account`` (they are quoted, not
    bound). Returns ``None`` when the store is not SQLite or a value does
    not fit the columnar read.
    """
    if conn.dialect.name != "sqlite":
        return None
    sql = _statement(text_cols, number_cols)
    rowids: list[npt.NDArray[np.int64]] = []
    flags: list[npt.NDArray[np.int64]] = []
    texts: list[list[pa.Array]] = [[] for _ in text_cols]
    numbers: list[list[npt.NDArray[np.float64]]] = [[] for _ in number_cols]
    cursor = conn.connection.cursor()
    try:
        after = -(2**63)
        while True:
            row = cursor.execute(sql, (after, chunk_rows)).fetchone()
            n = int(row[0])
            if n == 0:
                break
            rowids.append(_numbers(row[1], n, np.int64))
            flags.append(_numbers(row[2], n, np.int64))
            at = 3
            for k in range(len(text_cols)):
                part = split_texts(row[at], n)
                if part is None:
                    raise _NotColumnar  # a text holds the separator
                texts[k].append(part)
                at += 1
            for k in range(len(number_cols)):
                numbers[k].append(_numbers(row[at], n, np.float64))
                at += 1
            after = int(rowids[-1][-1])
            if n < chunk_rows:
                break
    except (_NotColumnar, sqlite3.Error, UnicodeError):
        return None
    finally:
        cursor.close()

    def joined(parts: list[pa.Array]) -> pa.Array:
        return pa.concat_arrays(parts) if parts else pa.nulls(0, pa.string())

    return AccountColumns(
        np.concatenate(rowids) if rowids else np.empty(0, dtype=np.int64),
        (np.concatenate(flags) if flags else np.empty(0, dtype=np.int64)).astype(
            np.bool_
        ),
        {name: joined(parts) for name, parts in zip(text_cols, texts, strict=True)},
        {
            name: np.concatenate(parts) if parts else np.empty(0)
            for name, parts in zip(number_cols, numbers, strict=True)
        },
    )
