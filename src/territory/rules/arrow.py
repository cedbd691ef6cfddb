"""Arrow arrays to NumPy and back, without pandas.

``pyarrow`` imports pandas (about half a second) the first time an array is
built from Python objects or turned into a NumPy array with ``to_numpy``.
These helpers read and write the Arrow buffers directly instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

__all__ = ["as_bools", "as_ints", "as_objects", "text_array"]


def _validity(arr: pa.Array) -> npt.NDArray[np.bool_]:
    n = len(arr)
    bitmap = arr.buffers()[0]
    if arr.null_count == 0 or bitmap is None:
        return np.ones(n, dtype=np.bool_)
    bits = np.unpackbits(
        np.frombuffer(bitmap, dtype=np.uint8), count=arr.offset + n, bitorder="little"
    )
    return bits[arr.offset :].astype(np.bool_)


def as_ints(arr: pa.Array | pa.ChunkedArray, null: int = -1) -> npt.NDArray[np.intp]:
    """Return an Arrow integer array as ``intp``, ``null`` where it is null.

    Examples
    --------
    >>> import pyarrow.compute as pc
    >>> as_ints(pc.index_in(text_array(["b", "z"]), value_set=text_array(["a", "b"])))
    array([ 1, -1])
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    width = arr.type.bit_width // 8
    dtype = (
        np.dtype(f"i{width}")
        if pa.types.is_signed_integer(arr.type)
        else np.dtype(f"u{width}")
    )
    values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + n)[
        arr.offset :
    ].astype(np.intp)
    if arr.null_count:
        values[~_validity(arr)] = null
    return values


def as_bools(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    """Return an Arrow boolean array as NumPy; a null is ``False``.

    Examples
    --------
    >>> import pyarrow.compute as pc
    >>> as_bools(pc.equal(text_array(["a", None, "b"]), text_array(["a", "a", "a"])))
    array([ True, False, False])
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    bits = np.unpackbits(
        np.frombuffer(arr.buffers()[1], dtype=np.uint8),
        count=arr.offset + n,
        bitorder="little",
    )[arr.offset :].astype(np.bool_)
    return bits & _validity(arr)


def as_objects(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.object_]:
    """Return an Arrow string array as a NumPy array of ``str`` (``None`` = null)."""
    out = np.empty(len(arr), dtype=object)
    out[:] = arr.to_pylist()
    return out


def text_array(values: Sequence[str | None]) -> pa.Array:
    """Return Python strings (``None`` = null) as an Arrow ``string`` array.

    Examples
    --------
    >>> text_array(["a", None]).to_pylist()
    ['a', None]
    """
    return pl.Series(values=list(values), dtype=pl.String).to_arrow().cast(pa.string())
