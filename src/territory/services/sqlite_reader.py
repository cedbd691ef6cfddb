"""Native columnar reads from a SQLite file store.

Python's ``sqlite3`` module turns every value of a result into a Python
object, which costs about 0.2 µs a value: reading a million accounts with
eight columns takes seconds before any measuring starts. This module runs
the same statement on a read-only connection of its own and copies the
values straight into NumPy buffers in compiled code (Numba), then hands
them to polars through Arrow; no Python object is made per value.

Two things keep it safe:

* it calls the very SQLite library the interpreter's ``sqlite3`` module is
  linked with (the symbols are looked up through that module's own shared
  object), never a second copy: two SQLite copies in one process break each
  other's file locks;
* it reads only what the caller's connection would read: the caller passes
  the database file of a connection whose transaction has written nothing
  (:func:`territory.storage.engine.sqlite_file_for_reading`), so committed
  data is all there is to see.

Anything it does not handle — a value of a storage class the schema does not
expect, a parameter type, an error from SQLite, a platform where the library
cannot be found — makes :func:`read_sqlite_frame` return ``None`` and the
caller reads the ordinary way, so results never depend on which path ran.
"""

from __future__ import annotations

import ctypes
import functools
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from numba import njit, types

from territory.errors import InternalError

__all__ = ["is_available", "read_sqlite_frame"]

# SQLite result codes, storage classes and open flags (sqlite3.h).
_SQLITE_OK = 0
_SQLITE_ROW = 100
_SQLITE_DONE = 101
_INTEGER, _FLOAT, _TEXT, _NULL = 1, 2, 3, 5
_OPEN_READONLY = 0x00000001
_OPEN_NOMUTEX = 0x00008000
_TRANSIENT = ctypes.c_void_p(-1)
_BUSY_TIMEOUT_MS = 5000

# Column kinds the kernel fills.
_KIND_FLOAT, _KIND_INT, _KIND_TEXT = 0, 1, 2
_MISMATCH = -1

_vp = types.voidptr
_i32 = types.int32
# The kernel calls SQLite by names registered with LLVM in _library(), bound
# to the addresses of the interpreter's own library.
_step: Any = types.ExternalFunction("territory_sqlite3_step", _i32(_vp))
_column_type: Any = types.ExternalFunction(
    "territory_sqlite3_column_type", _i32(_vp, _i32)
)
_column_double: Any = types.ExternalFunction(
    "territory_sqlite3_column_double", types.float64(_vp, _i32)
)
_column_int64: Any = types.ExternalFunction(
    "territory_sqlite3_column_int64", types.int64(_vp, _i32)
)
_text_pointer: Any = types.CPointer(types.uint8)  # type: ignore[no-untyped-call]
_column_text: Any = types.ExternalFunction(
    "territory_sqlite3_column_text", _text_pointer(_vp, _i32)
)
_column_bytes: Any = types.ExternalFunction(
    "territory_sqlite3_column_bytes", _i32(_vp, _i32)
)
_KERNEL_SYMBOLS = (
    "sqlite3_step",
    "sqlite3_column_type",
    "sqlite3_column_double",
    "sqlite3_column_int64",
    "sqlite3_column_text",
    "sqlite3_column_bytes",
)


@njit(cache=True)
def _grown(a: Any, cap: int) -> Any:  # pragma: no cover - compiled
    out = np.empty((a.shape[0], cap), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


#: Rows the first buffers hold. They are reserved, not touched: the pages
#: a small result never reaches cost nothing, and a million rows fit.
_FIRST_ROWS = 1 << 20


@njit(nogil=True, cache=True)
def _fetch(stmt: Any, kinds: Any, first_rows: int) -> Any:  # pragma: no cover
    """Step ``stmt`` to the end, copying each column by its kind.

    Returns ``(status, column, n, floats, ints, null, data, start, length)``:
    status 0 when done, a SQLite error code, or -1 when ``column`` holds a
    value of another storage class than its kind accepts. Text values are
    ``data[start : start + length]``.
    """
    ncols = kinds.size
    slot = np.empty(ncols, dtype=np.int64)
    counts = np.zeros(3, dtype=np.int64)
    for c in range(ncols):
        slot[c] = counts[kinds[c]]
        counts[kinds[c]] += 1
    cap = first_rows
    floats = np.empty((counts[0], cap), dtype=np.float64)
    ints = np.empty((counts[1], cap), dtype=np.int64)
    null = np.zeros((ncols, cap), dtype=np.bool_)
    start = np.empty((counts[2], cap), dtype=np.int64)
    length = np.empty((counts[2], cap), dtype=np.int32)
    data = np.empty(1 << 16, dtype=np.uint8)
    used = 0
    n = 0
    while True:
        rc = _step(stmt)
        if rc != 100:
            status = 0 if rc == 101 else rc
            return status, -1, n, floats, ints, null, data, start, length
        if n == cap:
            cap *= 2
            floats = _grown(floats, cap)
            ints = _grown(ints, cap)
            null = _grown(null, cap)
            null[:, n:] = False
            start = _grown(start, cap)
            length = _grown(length, cap)
        for c in range(ncols):
            storage = _column_type(stmt, c)
            kind = kinds[c]
            s = slot[c]
            if storage == 5:
                null[c, n] = True
                if kind == 2:
                    start[s, n] = used
                    length[s, n] = 0
                continue
            if kind == 0:
                if storage != 1 and storage != 2:
                    return -1, c, n, floats, ints, null, data, start, length
                floats[s, n] = _column_double(stmt, c)
            elif kind == 1:
                if storage != 1:
                    return -1, c, n, floats, ints, null, data, start, length
                ints[s, n] = _column_int64(stmt, c)
            else:
                if storage != 3:
                    return -1, c, n, floats, ints, null, data, start, length
                text = _column_text(stmt, c)
                size = _column_bytes(stmt, c)
                if used + size > data.size:
                    bigger = np.empty(max(2 * data.size, used + size), dtype=np.uint8)
                    bigger[:used] = data[:used]
                    data = bigger
                for i in range(size):
                    data[used + i] = text[i]
                start[s, n] = used
                length[s, n] = size
                used += size
        n += 1


@njit(cache=True)
def _packed_text(data: Any, start: Any, length: Any) -> Any:  # pragma: no cover
    """Return ``(offsets, bytes)`` of one text column laid out contiguously."""
    n = start.size
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + length[i]
    out = np.empty(offsets[n], dtype=np.uint8)
    for i in range(n):
        out[offsets[i] : offsets[i + 1]] = data[start[i] : start[i] + length[i]]
    return offsets, out


@functools.cache
def _library() -> ctypes.CDLL | None:
    """Return the SQLite library of the interpreter's ``sqlite3`` module.

    Looked up through ``_sqlite3``'s own shared object, so the symbols are
    those the module is bound to; ``None`` when that is not possible (for
    example a statically built module, or a platform whose loader does not
    search a module's dependencies).
    """
    import _sqlite3

    module_file = getattr(_sqlite3, "__file__", None)
    if not module_file:
        return None
    try:
        lib = ctypes.CDLL(module_file)
        version = lib.sqlite3_libversion
        version.restype = ctypes.c_char_p
        if version().decode() != sqlite3.sqlite_version:
            return None
        addresses = {
            name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
            for name in _KERNEL_SYMBOLS
        }
    except (OSError, AttributeError):
        return None
    import llvmlite.binding as llvm  # type: ignore[import-untyped]

    for name, address in addresses.items():
        llvm.add_symbol(f"territory_{name}", address)
    vp, i32 = ctypes.c_void_p, ctypes.c_int
    for name, argtypes, restype in (
        ("sqlite3_open_v2", [ctypes.c_char_p, ctypes.POINTER(vp), i32, vp], i32),
        ("sqlite3_close_v2", [vp], i32),
        ("sqlite3_busy_timeout", [vp, i32], i32),
        (
            "sqlite3_prepare_v2",
            [
                vp,
                ctypes.c_char_p,
                i32,
                ctypes.POINTER(vp),
                ctypes.POINTER(ctypes.c_char_p),
            ],
            i32,
        ),
        ("sqlite3_finalize", [vp], i32),
        ("sqlite3_column_count", [vp], i32),
        ("sqlite3_bind_parameter_count", [vp], i32),
        ("sqlite3_bind_null", [vp, i32], i32),
        ("sqlite3_bind_int64", [vp, i32, ctypes.c_int64], i32),
        ("sqlite3_bind_double", [vp, i32, ctypes.c_double], i32),
        ("sqlite3_bind_text", [vp, i32, ctypes.c_char_p, i32, vp], i32),
        ("sqlite3_bind_blob", [vp, i32, ctypes.c_char_p, i32, vp], i32),
    ):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, restype
    return lib


def is_available() -> bool:
    """Return whether native reads can run in this interpreter."""
    return _library() is not None


def _bind(lib: ctypes.CDLL, stmt: ctypes.c_void_p, params: Sequence[Any]) -> bool:
    if lib.sqlite3_bind_parameter_count(stmt) != len(params):
        return False
    for k, value in enumerate(params, start=1):
        if value is None:
            rc = lib.sqlite3_bind_null(stmt, k)
        elif isinstance(value, int):  # bool included, as sqlite3 binds it
            if not -(2**63) <= value < 2**63:
                return False
            rc = lib.sqlite3_bind_int64(stmt, k, int(value))
        elif isinstance(value, float):
            rc = lib.sqlite3_bind_double(stmt, k, value)
        elif isinstance(value, str):
            raw = value.encode("utf-8")
            rc = lib.sqlite3_bind_text(stmt, k, raw, len(raw), _TRANSIENT)
        elif isinstance(value, bytes):
            rc = lib.sqlite3_bind_blob(stmt, k, value, len(value), _TRANSIENT)
        else:
            return False
        if rc != _SQLITE_OK:
            return False
    return True


_KINDS: dict[Any, int] = {
    pl.Float64: _KIND_FLOAT,
    pl.Int64: _KIND_INT,
    pl.String: _KIND_TEXT,
}


def _series(
    name: str,
    kind: int,
    values: npt.NDArray[Any],
    valid: npt.NDArray[np.bool_],
    text: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]] | None,
) -> pl.Series | None:
    n = valid.size
    if kind == _KIND_TEXT:
        assert text is not None
        offsets, data = text
        bitmap = (
            None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
        )
        array = pa.LargeStringArray.from_buffers(
            n, pa.py_buffer(offsets), pa.py_buffer(data), bitmap
        )
        try:
            array.validate(full=True)  # UTF-8, as sqlite3 decodes it
        except pa.ArrowInvalid:
            return None
        return pl.Series(name, pl.from_arrow(array), dtype=pl.String)
    dtype = pl.Float64 if kind == _KIND_FLOAT else pl.Int64
    series = pl.Series(name, values, dtype=dtype)
    if valid.all():
        return series
    # Masked in polars: pyarrow's array() would import pandas (0.3 s).
    return series.set(pl.Series(~valid), None)


def read_sqlite_frame(
    path: Path,
    sql: str,
    params: Sequence[Any],
    schema: Mapping[str, Any],
) -> pl.DataFrame | None:
    """Run ``sql`` on the SQLite file ``path`` and return its rows as a frame.

    ``schema`` maps each result column, in order, to ``pl.Float64``,
    ``pl.Int64`` or ``pl.String``. Returns ``None`` whenever the native read
    does not apply (see the module docstring); the caller then reads the
    ordinary way.

    Raises
    ------
    InternalError
        When the statement returns a different number of columns than
        ``schema`` names.
    """
    lib = _library()
    if lib is None or any(dtype not in _KINDS for dtype in schema.values()):
        return None
    db = ctypes.c_void_p()
    flags = _OPEN_READONLY | _OPEN_NOMUTEX
    try:
        if lib.sqlite3_open_v2(str(path).encode(), ctypes.byref(db), flags, None):
            return None
        lib.sqlite3_busy_timeout(db, _BUSY_TIMEOUT_MS)
        return _read(lib, db, sql, params, schema)
    finally:
        if db.value:
            lib.sqlite3_close_v2(db)


def _read(
    lib: ctypes.CDLL,
    db: ctypes.c_void_p,
    sql: str,
    params: Sequence[Any],
    schema: Mapping[str, Any],
) -> pl.DataFrame | None:
    stmt = ctypes.c_void_p()
    tail = ctypes.c_char_p()
    raw_sql = sql.encode("utf-8")
    if lib.sqlite3_prepare_v2(
        db, raw_sql, len(raw_sql), ctypes.byref(stmt), ctypes.byref(tail)
    ):
        return None
    try:
        if not stmt.value or (tail.value or b"").strip():
            return None  # no statement, or more than one
        width = lib.sqlite3_column_count(stmt)
        if width != len(schema):
            raise InternalError(
                f"A query returned {width} columns where {len(schema)} were expected.",
                code="read_frame_width",
            )
        if not _bind(lib, stmt, params):
            return None
        kinds = np.array([_KINDS[d] for d in schema.values()], dtype=np.int64)
        status, _column, n, floats, ints, null, data, start, length = _fetch(
            stmt.value, kinds, _FIRST_ROWS
        )
    finally:
        lib.sqlite3_finalize(stmt)
    if status != 0:
        return None
    columns = []
    counts = [0, 0, 0]
    for c, (name, dtype) in enumerate(schema.items()):
        kind = _KINDS[dtype]
        s = counts[kind]
        counts[kind] += 1
        text = None
        values: npt.NDArray[Any] = np.empty(0)
        if kind == _KIND_TEXT:
            text = _packed_text(data, start[s, :n], length[s, :n])
        else:
            values = (floats if kind == _KIND_FLOAT else ints)[s, :n]
        series = _series(name, kind, values, ~null[c, :n], text)
        if series is None:
            return None
        columns.append(series)
    return pl.DataFrame(columns)
