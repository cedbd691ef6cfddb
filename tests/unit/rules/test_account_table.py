"""Column encoding in Arrow, ZIP numbers, and Arrow <-> NumPy without pandas."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from territory.errors import InputError
from territory.rules import AccountTable, FieldKind
from territory.rules.account_table import (
    TextColumn,
    encode_arrow,
    encode_dictionary,
    encode_text,
)
from territory.rules.arrow import as_bools, as_ints, as_objects, text_array
from territory.rules.criterion import zip5


def _decoded(col: TextColumn) -> list[str | None]:
    cats = col.categories.tolist()
    return [None if c < 0 else cats[c] for c in col.codes.tolist()]


ASCII = ["NY", None, " ca ", "ny", "", "\x1cTX\x1f", "\tOr"]
# normalised: ny, blank, ca, ny, blank, tx (str.strip drops \x1c and \x1f), or
ASCII_CATEGORIES = ["ca", "ny", "or", "tx"]
ASCII_CODES = [1, -1, 0, 1, -1, 3, 2]


def test_encode_arrow_normalises_ascii_in_arrow() -> None:
    col = encode_arrow(text_array(ASCII), FieldKind.TEXT)
    assert col.categories.tolist() == ASCII_CATEGORIES
    assert col.codes.tolist() == ASCII_CODES


def test_encode_arrow_normalises_other_text_like_str_casefold() -> None:
    values = ["STRASSE", "Straße", " Ärger", "ärger ", "ny", None]
    col = encode_arrow(text_array(values), FieldKind.TEXT)
    # casefold: ß -> ss, Ä -> ä; sorted by code point, 'ä' after ASCII
    assert col.categories.tolist() == ["ny", "strasse", "ärger"]
    assert col.codes.tolist() == [1, 1, 2, 2, 0, -1]


def test_encode_text_and_encode_arrow_agree() -> None:
    a = encode_text(ASCII, FieldKind.TEXT)
    b = encode_arrow(text_array(ASCII), FieldKind.TEXT)
    assert a.codes.tolist() == b.codes.tolist()
    assert a.categories.tolist() == b.categories.tolist()


def test_encode_text_writes_non_text_values_with_str() -> None:
    # a list that Arrow cannot take as text: every value through str(), NaN too
    col = encode_text([12, "Key", float("nan"), None], FieldKind.TEXT)
    assert _decoded(col) == ["12", "key", "nan", None]
    # only text and NaN: NaN is blank
    col = encode_text(["Key", float("nan")], FieldKind.TEXT)
    assert _decoded(col) == ["key", None]


def test_sorted_normal_unique_values_are_taken_as_they_are() -> None:
    ids = ["001a", "001b", "002"]
    col = encode_arrow(text_array(ids), FieldKind.TEXT)
    assert col.codes.tolist() == [0, 1, 2]
    assert col.categories.tolist() == ids
    # not normalised: the general path folds the case
    col = encode_arrow(text_array(["001A", "001b"]), FieldKind.TEXT)
    assert col.categories.tolist() == ["001a", "001b"]
    assert col.codes.tolist() == [0, 1]


def test_encode_dictionary_maps_accounts_through_their_index() -> None:
    col = encode_dictionary(
        text_array(["Key", " key", "", "Other"]),
        np.array([3, 0, 1, 2, -1, 0]),
        FieldKind.TEXT,
    )
    assert _decoded(col) == ["other", "key", "key", None, None, "key"]


def test_long_ascii_categories_widen_to_unicode_in_numpy() -> None:
    values = [f"{i:05d}" for i in range(3000)] + ["1", "22"]
    col = encode_arrow(text_array(values), FieldKind.POSTAL)
    assert col.categories.tolist() == sorted(values)
    assert col.categories.dtype == np.dtype("<U5")


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("02134", 2134),
        ("02134-1234", 2134),
        ("021341234", 2134),
        ("00000", 0),
        ("9", -1),
        ("0213", -1),
        ("02134-123", -1),
        ("02134 1234", -1),
        ("1234-56789", -1),
        ("k1a 0b1", -1),
        ("abcde", -1),
        ("12345x", -1),
        ("٣٣٣٣٣", 33333),  # Arabic-Indic digits: re's \d, as zip5 reads them
    ],
)
def test_zip_numbers_read_each_category_as_zip5_does(value: str, number: int) -> None:
    col = encode_arrow(text_array([value, "99999"]), FieldKind.POSTAL)
    got = dict(zip(col.categories.tolist(), col.zips().tolist(), strict=True))
    expected = zip5(value)
    assert got[value] == number == (-1 if expected is None else expected)
    assert got["99999"] == 99999


def test_from_arrow_rejects_a_repeated_id() -> None:
    with pytest.raises(InputError, match="Account 'A2' appears more than once") as info:
        AccountTable.from_arrow(text_array(["A2", "A1", "A2"]), {}, {})
    assert info.value.code == "account_duplicate"
    assert info.value.details == {"account_id": "A2"}


def test_from_arrow_types_columns_and_keeps_ids() -> None:
    table = AccountTable.from_arrow(
        text_array(["b", "a"]),
        {
            "billing_state": text_array(["CA", None]),
            "annual_revenue": np.array([1.5, np.nan]),
        },
        {"billing_state": FieldKind.TEXT},
    )
    assert table.ids.tolist() == ["b", "a"]
    assert table.kinds() == {
        "billing_state": FieldKind.TEXT,
        "annual_revenue": FieldKind.NUMBER,
    }
    assert "id" not in table.columns
    assert table.row_of("a") == 1


def test_arrow_helpers_read_sliced_arrays_with_nulls() -> None:
    ints = pa.chunked_array([text_array(["x", None, "y", "x"])]).combine_chunks()
    codes = ints.dictionary_encode().indices
    assert as_ints(codes).tolist() == [0, -1, 1, 0]
    assert as_ints(codes.slice(1)).tolist() == [-1, 1, 0]
    flags = pc.equal(text_array(["a", None, "b", "a"]), text_array(["a"] * 4))
    assert as_bools(flags).tolist() == [True, False, False, True]
    assert as_bools(flags.slice(2)).tolist() == [False, True]
    assert as_objects(text_array(["a", None])).tolist() == ["a", None]
