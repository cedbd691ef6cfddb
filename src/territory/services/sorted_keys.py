"""Joins and repeat checks on frames already sorted by a text key.

A plan's assignments and the per-account sums read from the store both come
ordered by account id (the primary-key order of the store), so matching them
is a merge of two sorted lists: one pass in compiled code instead of a hash
join over a million strings. Every function checks the order first and
falls back to the ordinary polars operation when it does not hold, so the
result never depends on how the frames were produced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from numba import njit

__all__ = ["has_repeats", "is_in_sorted", "left_join_sorted", "match_pairs"]


def _is_sorted_text(keys: pl.Series) -> bool:
    return keys.dtype == pl.String and keys.null_count() == 0 and keys.is_sorted()


def has_repeats(keys: pl.Series) -> bool:
    """Return whether any value of ``keys`` occurs more than once.

    Examples
    --------
    >>> has_repeats(pl.Series(["a", "b", "b"])), has_repeats(pl.Series(["b", "a"]))
    (True, False)
    """
    if keys.len() < 2:
        return False
    if _is_sorted_text(keys):
        return bool((keys.slice(1) == keys.slice(0, keys.len() - 1)).any())
    return bool(keys.n_unique() != keys.len())


def _buffers(keys: pl.Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Return the Arrow offsets and bytes of a text column (no copy)."""
    array: Any = keys.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if not hasattr(array, "buffers"):  # a chunked array of one chunk
        array = array.combine_chunks()
    _validity, offsets, data = array.buffers()
    wide = np.frombuffer(offsets, dtype=np.int64)
    off = wide[array.offset : array.offset + len(array) + 1]
    raw = (
        np.frombuffer(data, dtype=np.uint8)
        if data is not None
        else np.empty(0, np.uint8)
    )
    return off, raw


@njit(cache=True)
def _compare(  # pragma: no cover - compiled
    a: Any, a0: int, a1: int, b: Any, b0: int, b1: int
) -> int:
    la, lb = a1 - a0, b1 - b0
    for k in range(min(la, lb)):
        x, y = a[a0 + k], b[b0 + k]
        if x != y:
            return -1 if x < y else 1
    return -1 if la < lb else (1 if la > lb else 0)


@njit(cache=True)
def _merge(  # pragma: no cover - compiled
    left_off: Any, left: Any, right_off: Any, right: Any
) -> Any:
    """Return the right row of each left key (-1 if none), or None on repeats."""
    n, m = left_off.size - 1, right_off.size - 1
    out = np.full(n, -1, dtype=np.int64)
    for j in range(1, m):
        if (
            _compare(
                right,
                right_off[j - 1],
                right_off[j],
                right,
                right_off[j],
                right_off[j + 1],
            )
            == 0
        ):
            return out, False
    i = 0
    j = 0
    while i < n and j < m:
        c = _compare(
            left, left_off[i], left_off[i + 1], right, right_off[j], right_off[j + 1]
        )
        if c == 0:
            out[i] = j
            i += 1
        elif c < 0:
            i += 1
        else:
            j += 1
    return out, True


def left_join_sorted(left: pl.DataFrame, right: pl.DataFrame, on: str) -> pl.DataFrame:
    """Return ``left.join(right, on=on, how="left", maintain_order="left")``.

    When both key columns are text sorted in byte order without nulls and
    ``right`` holds each key once, rows are matched by merging the two
    sorted columns; otherwise by the ordinary hash join. Right columns are
    null where a left key has no match.

    Examples
    --------
    >>> a = pl.DataFrame({"k": ["a", "b", "b", "d"], "x": [1, 2, 3, 4]})
    >>> b = pl.DataFrame({"k": ["b", "c", "d"], "y": [20.0, 30.0, 40.0]})
    >>> left_join_sorted(a, b, "k")["y"].to_list()
    [None, 20.0, 20.0, 40.0]
    """
    lk, rk = left[on], right[on]
    if _is_sorted_text(lk) and _is_sorted_text(rk) and right.height:
        index, unique = _merge(*_buffers(lk), *_buffers(rk))
        if unique:
            found = index >= 0
            picked = right.drop(on)[np.where(found, index, 0)]
            if not found.all():
                picked = picked.with_columns(
                    pl.when(pl.Series(found)).then(pl.col(c)).otherwise(None)
                    for c in picked.columns
                )
            return pl.concat([left, picked], how="horizontal")
    return left.join(right, on=on, how="left", maintain_order="left")


@njit(cache=True)
def _member(  # pragma: no cover - compiled
    left_off: Any, left: Any, right_off: Any, right: Any
) -> Any:
    """Return whether each left key occurs among the (sorted) right keys."""
    n, m = left_off.size - 1, right_off.size - 1
    out = np.zeros(n, dtype=np.bool_)
    i = 0
    j = 0
    while i < n and j < m:
        c = _compare(
            left, left_off[i], left_off[i + 1], right, right_off[j], right_off[j + 1]
        )
        if c == 0:
            out[i] = True
            i += 1
        elif c < 0:
            i += 1
        else:
            j += 1
    return out


def is_in_sorted(keys: pl.Series, values: pl.Series) -> npt.NDArray[np.bool_]:
    """Return whether each of ``keys`` is one of ``values``, shape ``(len(keys),)``.

    Merged in one pass when ``keys`` is sorted text; otherwise ``is_in``.
    Null keys are never in.

    Examples
    --------
    >>> is_in_sorted(pl.Series(["a", "b", "c"]), pl.Series(["c", "a", "a"])).tolist()
    [True, False, True]
    """
    wanted = values.drop_nulls().unique().sort()
    if _is_sorted_text(keys) and _is_sorted_text(wanted):
        return np.asarray(_member(*_buffers(keys), *_buffers(wanted)))
    found = keys.is_in(wanted.implode()).fill_null(False)
    return np.asarray(found.to_numpy(), dtype=bool)


@njit(cache=True)
def _pair_merge(  # pragma: no cover - compiled
    left_off: Any, left: Any, left_sub: Any, right_off: Any, right: Any, right_sub: Any
) -> Any:
    """Mark the (key, sub) pairs each side shares with the other (both sorted)."""
    n, m = left_off.size - 1, right_off.size - 1
    left_found = np.zeros(n, dtype=np.bool_)
    right_found = np.zeros(m, dtype=np.bool_)
    i = 0
    j = 0
    while i < n and j < m:
        c = _compare(
            left, left_off[i], left_off[i + 1], right, right_off[j], right_off[j + 1]
        )
        if c == 0:
            c = (
                -1
                if left_sub[i] < right_sub[j]
                else (1 if left_sub[i] > right_sub[j] else 0)
            )
        if c == 0:
            left_found[i] = True
            right_found[j] = True
            i += 1
            j += 1
        elif c < 0:
            i += 1
        else:
            j += 1
    return left_found, right_found


def _is_sorted_pairs(keys: pl.Series, sub: npt.NDArray[np.int64]) -> bool:
    """Return whether rows are sorted by key, then strictly by ``sub``."""
    if not _is_sorted_text(keys):
        return False
    if keys.len() < 2:
        return True
    same = (keys.slice(1) == keys.slice(0, keys.len() - 1)).to_numpy()
    return bool((np.diff(sub)[same] > 0).all())


def match_pairs(
    left: pl.Series,
    left_sub: npt.NDArray[np.int64],
    right: pl.Series,
    right_sub: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return which (key, sub) pairs of each side the other side holds too.

    Pairs are unique on each side. Merged in one pass when both sides are
    sorted by key then sub; otherwise by two semi joins.

    Examples
    --------
    >>> a, b = match_pairs(pl.Series(["a", "a", "b"]), np.array([1, 2, 1]),
    ...                    pl.Series(["a", "c"]), np.array([2, 1]))
    >>> a.tolist(), b.tolist()
    ([False, True, False], [True, False])
    """
    lsub = np.asarray(left_sub, dtype=np.int64)
    rsub = np.asarray(right_sub, dtype=np.int64)
    if _is_sorted_pairs(left, lsub) and _is_sorted_pairs(right, rsub):
        found = _pair_merge(*_buffers(left), lsub, *_buffers(right), rsub)
        return np.asarray(found[0]), np.asarray(found[1])
    a = pl.DataFrame({"k": left, "s": lsub}).with_row_index("_row")
    b = pl.DataFrame({"k": right, "s": rsub}).with_row_index("_row")
    out = []
    for x, y in ((a, b), (b, a)):
        hit = x.join(y.drop("_row"), on=["k", "s"], how="semi")["_row"].to_numpy()
        mask = np.zeros(x.height, dtype=bool)
        mask[hit] = True
        out.append(mask)
    return out[0], out[1]
