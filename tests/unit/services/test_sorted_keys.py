"""Sorted-key joins and repeat checks equal the ordinary polars operations."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.services.sorted_keys import has_repeats, left_join_sorted, match_pairs


def _hash_join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    return left.join(right, on="k", how="left", maintain_order="left")


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # unmatched on both sides, a repeated left key
        (["a", "b", "b", "d"], {"b": 2.0, "c": 3.0, "d": 4.0}, [None, 2.0, 2.0, 4.0]),
        # prefixes sort first; byte order puts "z" before "é"
        (
            ["ab", "abc", "z", "é"],
            {"ab": 1.0, "abc": 2.0, "é": 3.0},
            [1.0, 2.0, None, 3.0],
        ),
        # nothing matches
        (["x", "y"], {"a": 1.0, "b": 2.0}, [None, None]),
        # an empty left side
        ([], {"a": 1.0}, []),
    ],
)
def test_left_join_sorted_matches_by_merge(
    left: list[str], right: dict[str, float], expected: list[float | None]
) -> None:
    a = pl.DataFrame(
        {"k": left, "x": list(range(len(left)))},
        schema={"k": pl.String, "x": pl.Int64},
    )
    b = pl.DataFrame({"k": list(right), "y": list(right.values())})
    got = left_join_sorted(a, b, "k")
    assert got["y"].to_list() == expected
    assert got.equals(_hash_join(a, b))


def test_left_join_sorted_falls_back_when_unsorted_or_repeated() -> None:
    a = pl.DataFrame({"k": ["b", "a"], "x": [1, 2]})
    b = pl.DataFrame({"k": ["a", "b"], "y": [10.0, 20.0]})
    assert left_join_sorted(a, b, "k")["y"].to_list() == [20.0, 10.0]
    # a key twice on the right: every match is kept, as a hash join keeps it
    a = pl.DataFrame({"k": ["a", "b"], "x": [1, 2]})
    b = pl.DataFrame({"k": ["a", "a", "b"], "y": [1.0, 2.0, 3.0]})
    got = left_join_sorted(a, b, "k")
    assert got["y"].to_list() == [1.0, 2.0, 3.0]
    # null keys never match
    a = pl.DataFrame(
        {"k": [None, "a"], "x": [1, 2]}, schema={"k": pl.String, "x": pl.Int64}
    )
    b = pl.DataFrame({"k": ["a"], "y": [5.0]})
    assert left_join_sorted(a, b, "k")["y"].to_list() == [None, 5.0]


def test_has_repeats_sorted_and_unsorted() -> None:
    assert has_repeats(pl.Series(["a", "b", "b", "c"]))
    assert not has_repeats(pl.Series(["a", "b", "c"]))
    assert has_repeats(pl.Series(["c", "a", "c"]))
    assert not has_repeats(pl.Series(["c", "a"]))
    assert not has_repeats(pl.Series([], dtype=pl.String))


_keys = st.lists(st.text(alphabet="abé\x00", max_size=3), max_size=40)


@settings(max_examples=200, deadline=None)
@given(left=_keys, right=_keys)
def test_left_join_sorted_equals_hash_join(left: list[str], right: list[str]) -> None:
    a = pl.DataFrame({"k": sorted(left, key=str.encode)}, schema={"k": pl.String})
    a = a.with_row_index("x")
    keys = sorted(set(right), key=str.encode)
    b = pl.DataFrame(
        {"k": keys, "y": [float(i) for i in range(len(keys))]},
        schema={"k": pl.String, "y": pl.Float64},
    )
    assert left_join_sorted(a, b, "k").equals(_hash_join(a, b))
    assert has_repeats(a["k"]) == (len(set(left)) != len(left))


_pairs = st.lists(
    st.tuples(st.text(alphabet="abé", max_size=2), st.integers(0, 3)), max_size=30
)


@settings(max_examples=200, deadline=None)
@given(left=_pairs, right=_pairs, shuffle=st.booleans())
def test_match_pairs_marks_the_shared_pairs(
    left: list[tuple[str, int]], right: list[tuple[str, int]], shuffle: bool
) -> None:
    a = sorted(set(left), key=lambda p: (p[0].encode(), p[1]))
    b = sorted(set(right), key=lambda p: (p[0].encode(), p[1]))
    if shuffle:  # not in key order: matched by joins instead of the merge
        a = a[::-1]
    in_b, in_a = match_pairs(
        pl.Series([k for k, _ in a], dtype=pl.String),
        np.array([s for _, s in a], dtype=np.int64),
        pl.Series([k for k, _ in b], dtype=pl.String),
        np.array([s for _, s in b], dtype=np.int64),
    )
    assert in_b.tolist() == [p in set(b) for p in a]
    assert in_a.tolist() == [p in set(a) for p in b]
