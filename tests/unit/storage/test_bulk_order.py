"""The key order bulk writes insert rows in: bytes order, found with NumPy."""

from __future__ import annotations

import polars as pl
import pytest

from territory.storage.bulk import _byte_order


def test_byte_order_sorts_ascii_keys_of_any_length() -> None:
    keys = pl.Series(["b", "a", "ab", "", "zz", "aa", "A", "a1"])
    order = _byte_order(keys)
    assert order is not None
    # Bytes order: "" < "A" (0x41) < "a" < "a1" < "aa" < "ab" < "b" < "zz".
    assert keys.gather(order).to_list() == ["", "A", "a", "a1", "aa", "ab", "b", "zz"]


def test_byte_order_of_a_slice_reads_its_own_rows() -> None:
    keys = pl.Series([f"K{i:03d}" for i in range(40)][::-1]).slice(5, 10)
    order = _byte_order(keys)
    assert order is not None
    assert keys.gather(order).to_list() == [f"K{i:03d}" for i in range(25, 35)]


@pytest.mark.parametrize(
    "values",
    [
        ["é", "e"],  # padding counts characters, not bytes
        ["a", None],
        ["x" * 65, "y"],
        [""],
    ],
)
def test_byte_order_leaves_other_keys_to_polars(values: list[str | None]) -> None:
    assert _byte_order(pl.Series(values, dtype=pl.String)) is None


def test_byte_order_leaves_non_text_keys_to_polars() -> None:
    assert _byte_order(pl.Series([3, 1, 2])) is None
