"""A columnar table of accounts, encoded for fast rule evaluation.

Text columns are dictionary encoded: each account holds an ``int32`` code into
the column's sorted, normalised distinct values (``-1`` for a blank). A
criterion is then answered once per distinct value (a lookup table) and
gathered for all accounts, and an equality over the full table reads the
column's posting lists (accounts grouped by code) instead of scanning it.
Number columns are ``float64`` with ``NaN`` for a blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from territory.domain.account import Account
from territory.errors import InputError
from territory.rules.arrow import as_ints, as_objects, text_array
from territory.rules.criterion import FieldKind, normalise_text, zip5

__all__ = [
    "NUMBER_FIELDS",
    "POSTAL_FIELDS",
    "AccountTable",
    "NumberColumn",
    "TextColumn",
    "encode_arrow",
    "encode_dictionary",
    "encode_text",
]

#: Standard account fields that compare as numbers.
NUMBER_FIELDS = frozenset({"annual_revenue", "employees", "latitude", "longitude"})
#: Standard account fields that hold US postal codes.
POSTAL_FIELDS = frozenset({"billing_postal_code", "zip_id"})
_STANDARD_TEXT = (
    "id",
    "name",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_postal_code",
    "billing_country",
    "industry",
    "county_id",
    "zip_id",
)


@dataclass(slots=True)
class TextColumn:
    """A dictionary-encoded text column.

    ``codes`` has shape ``(n_accounts,)`` (``-1`` = blank); ``categories`` the
    sorted distinct normalised values, shape ``(n_categories,)``.
    """

    kind: FieldKind
    codes: npt.NDArray[np.int32]
    categories: npt.NDArray[np.str_]
    _lookup: dict[str, int] | None = None
    _order: npt.NDArray[np.intp] | None = None
    _starts: npt.NDArray[np.intp] | None = None
    _zips: npt.NDArray[np.int64] | None = None

    @property
    def lookup(self) -> dict[str, int]:
        """Map each category to its code."""
        if self._lookup is None:
            self._lookup = {c: i for i, c in enumerate(self.categories.tolist())}
        return self._lookup

    def code_of(self, value: str) -> int | None:
        """Return the code of a normalised value, ``None`` when absent."""
        cats = self.categories
        i = int(np.searchsorted(cats, value))
        return i if i < len(cats) and cats[i] == value else None

    def postings(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Return ``(order, starts)`` posting lists.

        The accounts of code ``c`` are ``order[starts[c + 1]:starts[c + 2]]``.
        """
        if self._order is None or self._starts is None:
            self._order = np.argsort(self.codes, kind="stable").astype(np.intp)
            counts = np.bincount(self.codes + 1, minlength=len(self.categories) + 1)
            self._starts = np.concatenate(([0], np.cumsum(counts))).astype(np.intp)
        return self._order, self._starts

    def zips(self) -> npt.NDArray[np.int64]:
        """Return each category as a 5-digit ZIP number, ``-1`` where malformed."""
        if self._zips is None:
            self._zips = _zip_numbers(self.categories)
        return self._zips

    def value(self, row: int) -> str | None:
        """Return the normalised value of one account, ``None`` when blank."""
        code = int(self.codes[row])
        return None if code < 0 else str(self.categories[code])


def _zip_numbers(categories: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
    """:func:`zip5` of each category, ``-1`` where it is not a US ZIP.

    Categories are normalised (no surrounding blanks). ASCII ones are read
    as code points in NumPy (``12345``, ``123456789``, ``12345-6789``);
    any other goes through :func:`zip5` itself.
    """
    n = len(categories)
    out = np.full(n, -1, dtype=np.int64)
    width = categories.dtype.itemsize // 4
    if n == 0 or width < 5:
        return out
    points = np.ascontiguousarray(categories).view(np.uint32).reshape(n, width)
    digit = (points >= ord("0")) & (points <= ord("9"))

    def blank_from(k: int) -> npt.NDArray[np.bool_]:
        if k >= width:
            return np.ones(n, dtype=np.bool_)
        return np.asarray(~points[:, k:].any(1), dtype=np.bool_)

    head = digit[:, :5].all(1)
    five = head & blank_from(5)
    nine = head & (digit[:, 5:9].all(1) if width >= 9 else False) & blank_from(9)
    ten = (
        head & (points[:, 5] == ord("-")) & digit[:, 6:10].all(1) & blank_from(10)
        if width >= 10
        else np.zeros(n, dtype=np.bool_)
    )
    ok = five | nine | ten
    value = (points[:, :5].astype(np.int64) - ord("0")) @ (10 ** np.arange(4, -1, -1))
    out[ok] = value[ok]
    for i in np.flatnonzero((points > 127).any(1)).tolist():  # non-ASCII digits
        z = zip5(str(categories[i]))
        out[i] = -1 if z is None else z
    return out


@dataclass(slots=True)
class NumberColumn:
    """A number column, shape ``(n_accounts,)``, ``NaN`` for a blank."""

    values: npt.NDArray[np.float64]
    kind: FieldKind = FieldKind.NUMBER

    def value(self, row: int) -> float | None:
        """Return the value of one account, ``None`` when blank."""
        x = float(self.values[row])
        return None if np.isnan(x) else x


Column = TextColumn | NumberColumn


#: What ``str.strip()`` removes from an ASCII string (``str.isspace``).
_ASCII_BLANKS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def encode_text(
    values: Sequence[Any] | npt.NDArray[Any], kind: FieldKind
) -> TextColumn:
    """Dictionary-encode ``values`` (``None`` or blank text counts as blank).

    Examples
    --------
    >>> col = encode_text(["CA", " ca", None, "NY"], FieldKind.TEXT)
    >>> col.codes.tolist(), col.categories.tolist()
    ([0, 0, -1, 1], ['ca', 'ny'])
    """
    seq = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if all(_is_text_or_blank(v) for v in seq):
        texts = [
            v.decode("utf-8")
            if isinstance(v, bytes)
            else v
            if isinstance(v, str)
            else None
            for v in seq
        ]
    else:  # numbers or other objects: each written with str(), NaN included
        texts = [None if v is None else str(v) for v in seq]
    return encode_arrow(text_array(texts), kind)


def _is_text_or_blank(value: Any) -> bool:
    """Whether Arrow takes ``value`` as text or null (NaN is null)."""
    return (
        value is None
        or isinstance(value, str | bytes)
        or (isinstance(value, float) and value != value)
    )


def encode_arrow(values: pa.Array | pa.ChunkedArray, kind: FieldKind) -> TextColumn:
    """Dictionary-encode an Arrow string array (a null or blank text is blank).

    The same encoding as :func:`encode_text`, computed in Arrow's native
    code: distinct raw values are found first and only they are normalised.
    A column that is already normalised, unique and sorted (account ids
    read in key order) is taken as it is.

    Examples
    --------
    >>> import pyarrow as pa
    >>> col = encode_arrow(pa.array(["NY", None, " ca ", "ny"]), FieldKind.TEXT)
    >>> col.codes.tolist(), col.categories.tolist()
    ([1, -1, 0, 1], ['ca', 'ny'])
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type not in (pa.string(), pa.large_string()):
        values = values.cast(pa.string())
    n = len(values)
    if n > 1 and values.null_count == 0 and _is_normal_sorted_unique(values):
        return TextColumn(kind, np.arange(n, dtype=np.int32), _unicode(values))
    enc = values.dictionary_encode()
    return encode_dictionary(enc.dictionary, as_ints(enc.indices), kind)


def _is_ascii(values: pa.Array) -> bool:
    return pc.all(pc.string_is_ascii(values)).as_py() is not False


def _is_normal_sorted_unique(values: pa.Array) -> bool:
    """Whether every value is non-blank, normalised, and above the one before."""
    rising = pc.greater(values.slice(1), values.slice(0, len(values) - 1))
    if not pc.all(rising).as_py():  # the cheap test first: most columns repeat
        return False
    if not _is_ascii(values) or pc.any(pc.match_substring(values, "\x00")).as_py():
        return False
    if pc.min(pc.utf8_length(values)).as_py() == 0:
        return False
    normal = pc.utf8_trim(pc.ascii_lower(values), characters=_ASCII_BLANKS)
    return bool(pc.all(pc.equal(normal, values)).as_py())


def _unicode(values: pa.Array) -> npt.NDArray[np.str_]:
    """Return Arrow strings (no nulls) as a NumPy ``str_`` array."""
    n = len(values)
    if n == 0:
        return np.array([], dtype="<U1")
    if n < 1024 or not _is_ascii(values):
        return np.array(values.to_pylist(), dtype=np.str_)
    # ASCII: widen the bytes to UCS-4 code units in place of a Python str each
    if values.type == pa.large_string():
        values = values.cast(pa.string())
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(
        offsets_buf, dtype=np.int32, count=n + 1, offset=values.offset * 4
    )
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets)
    width = max(int(lengths.max()), 1)
    if int(lengths.min()) == width:
        wide = data.astype(np.uint32)
    else:
        wide = np.zeros(n * width, dtype=np.uint32)
        starts = np.arange(n, dtype=np.int64) * width
        place = np.arange(len(data), dtype=np.int64) + np.repeat(
            starts - (offsets[:-1] - offsets[0]), lengths
        )
        wide[place] = data
    return wide.view(f"<U{width}")


def encode_dictionary(
    dictionary: pa.Array, indices: npt.NDArray[np.intp], kind: FieldKind
) -> TextColumn:
    """Encode accounts given as ``indices`` into ``dictionary`` (``-1`` = blank).

    ``dictionary`` is an Arrow string array without nulls; values may repeat
    and may normalise to the same category. Only the dictionary is
    normalised: plain ASCII (no NUL) in Arrow, anything else through
    :func:`normalise_text` and NumPy, so both give what :func:`encode_text`
    gives.

    Examples
    --------
    >>> import numpy as np, pyarrow as pa
    >>> col = encode_dictionary(pa.array(["NY", " ", "ny"]),
    ...                         np.array([0, 1, 2, -1]), FieldKind.TEXT)
    >>> col.codes.tolist(), col.categories.tolist()
    ([0, -1, 0, -1], ['ny'])
    """
    if (
        _is_ascii(dictionary)
        and not pc.any(pc.match_substring(dictionary, "\x00")).as_py()
    ):
        # str.strip().casefold() on ASCII is trimming ASCII blanks and lowering
        normal = pc.utf8_trim(pc.ascii_lower(dictionary), characters=_ASCII_BLANKS)
        distinct = pc.unique(normal)
        # byte order of UTF-8 is code-point order, as NumPy sorts
        distinct = distinct.take(pc.array_sort_indices(distinct))
        inverse = as_ints(pc.index_in(normal, value_set=distinct))
        categories = _unicode(distinct)
    else:
        words = [normalise_text(v) for v in dictionary.to_pylist()]
        if words:
            categories, inverse = np.unique(
                np.array(words, dtype=np.str_), return_inverse=True
            )
        else:
            categories = np.array([], dtype="<U1")
            inverse = np.array([], dtype=np.intp)
    shift = 1 if len(categories) and categories[0] == "" else 0
    remap = np.append(np.asarray(inverse, dtype=np.int32) - shift, np.int32(-1))
    codes = remap[indices]
    return TextColumn(kind, codes.astype(np.int32), categories[shift:])


def _as_number(name: str, values: Sequence[Any]) -> npt.NDArray[np.float64]:
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and not v.strip()):
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise InputError(
                f"Account field '{name}' row {i + 1} holds {v!r}, which is not a "
                "number; fix the value or leave it blank.",
                code="account_field_not_number",
                details={"field": name, "row": i + 1, "value": v},
            ) from None
    return out


@dataclass(slots=True)
class AccountTable:
    """Accounts as columns. ``ids`` has shape ``(n_accounts,)``.

    Build one with :meth:`from_columns` or :meth:`from_accounts`.
    """

    ids: npt.NDArray[np.object_]
    columns: dict[str, Column]
    _row_of: dict[str, int] | None = field(default=None)

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return len(self.ids)

    def kinds(self) -> dict[str, FieldKind]:
        """Return each field's kind."""
        return {name: col.kind for name, col in self.columns.items()}

    def row_of(self, account_id: str) -> int:
        """Return the row of an account.

        Raises
        ------
        NotFound
            When no account has that id.
        """
        from territory.errors import NotFound

        if self._row_of is None:
            self._row_of = {str(a): i for i, a in enumerate(self.ids.tolist())}
        row = self._row_of.get(account_id)
        if row is None:
            raise NotFound(
                f"Account '{account_id}' is not among the accounts; check the id "
                "or import the account first.",
                code="account_not_found",
                details={"account_id": account_id},
            )
        return row

    @classmethod
    def from_columns(
        cls,
        ids: Sequence[str] | npt.NDArray[Any],
        columns: Mapping[str, Sequence[Any] | npt.NDArray[Any]],
        kinds: Mapping[str, FieldKind] | None = None,
    ) -> AccountTable:
        """Build a table from raw columns; ``kinds`` overrides the field kinds.

        Without an override, standard number fields and numeric NumPy arrays
        are numbers, ``billing_postal_code``/``zip_id`` are postal codes and
        every other field is text. ``id`` is always available as a text field.

        Raises
        ------
        InputError
            When an account id is blank or repeated, a column's length differs
            from the ids', or a number field holds text.
        """
        id_array = np.array([str(i) for i in ids], dtype=object)
        n = len(id_array)
        if n and len(set(id_array.tolist())) != n:
            seen: set[str] = set()
            dup = ""
            for a in id_array.tolist():
                if a in seen:
                    dup = a
                    break
                seen.add(a)
            raise InputError(
                f"Account '{dup}' appears more than once; account ids must be unique.",
                code="account_duplicate",
                details={"account_id": dup},
            )
        overrides = dict(kinds or {})
        encoded: dict[str, Column] = {}
        for name, values in columns.items():
            if len(values) != n:
                raise InputError(
                    f"Account column '{name}' has {len(values)} values for {n} "
                    "accounts; every column needs one value per account.",
                    code="account_column_length",
                )
            kind = overrides.get(name)
            if kind is None:
                if name in NUMBER_FIELDS or (
                    isinstance(values, np.ndarray) and values.dtype.kind in "fiub"
                ):
                    kind = FieldKind.NUMBER
                elif name in POSTAL_FIELDS:
                    kind = FieldKind.POSTAL
                else:
                    kind = FieldKind.TEXT
            if kind is FieldKind.NUMBER:
                if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
                    encoded[name] = NumberColumn(values.astype(np.float64))
                else:
                    encoded[name] = NumberColumn(_as_number(name, list(values)))
            else:
                encoded[name] = encode_text(values, kind)
        if "id" not in encoded:
            encoded["id"] = encode_text(id_array, FieldKind.TEXT)
        return cls(id_array, encoded)

    @classmethod
    def from_arrow(
        cls,
        ids: pa.Array | pa.ChunkedArray,
        columns: Mapping[
            str, pa.Array | pa.ChunkedArray | npt.NDArray[np.float64] | Column
        ],
        kinds: Mapping[str, FieldKind],
    ) -> AccountTable:
        """Build a table from columns already typed: Arrow text, NumPy numbers.

        A NumPy ``float64`` array (``NaN`` = blank) is a number column; an
        Arrow string array (null or blank text = blank) is text or postal as
        ``kinds`` says (text by default); an encoded column is taken as it
        is. Unlike :meth:`from_columns`,
        ``id`` is a field only when ``columns`` holds it.

        Raises
        ------
        InputError
            When an account id is null or repeated, or a column's length
            differs from the ids'.
        """
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        n = len(ids)
        if ids.null_count:
            raise InputError(
                "An account has no id; every account needs one.",
                code="account_id_missing",
            )
        rising = n < 2 or pc.all(pc.greater(ids.slice(1), ids.slice(0, n - 1))).as_py()
        if not rising and pc.count_distinct(ids).as_py() != n:
            counts = pc.value_counts(ids)
            dup = counts.filter(pc.greater(counts.field("counts"), 1))[0]
            raise InputError(
                f"Account '{dup['values']}' appears more than once; account ids "
                "must be unique.",
                code="account_duplicate",
                details={"account_id": str(dup["values"])},
            )
        encoded: dict[str, Column] = {}
        for name, values in columns.items():
            size = (
                len(values.codes)
                if isinstance(values, TextColumn)
                else len(values.values)
                if isinstance(values, NumberColumn)
                else len(values)
            )
            if size != n:
                raise InputError(
                    f"Account column '{name}' has {size} values for {n} "
                    "accounts; every column needs one value per account.",
                    code="account_column_length",
                )
            if isinstance(values, TextColumn | NumberColumn):
                encoded[name] = values
            elif isinstance(values, np.ndarray):
                encoded[name] = NumberColumn(values.astype(np.float64, copy=False))
            else:
                encoded[name] = encode_arrow(values, kinds.get(name, FieldKind.TEXT))
        return cls(as_objects(ids), encoded)

    @classmethod
    def from_accounts(cls, accounts: Iterable[Account]) -> AccountTable:
        """Build a table from domain accounts, custom fields included.

        A custom field is a number when every non-blank value is an ``int``
        or ``float``, text otherwise.
        """
        rows = list(accounts)
        columns: dict[str, list[Any]] = {
            name: [getattr(a, name) for a in rows] for name in _STANDARD_TEXT
        }
        for name in NUMBER_FIELDS:
            columns[name] = [getattr(a, name) for a in rows]
        custom_names = sorted({k for a in rows for k in a.custom_fields})
        kinds: dict[str, FieldKind] = {}
        for name in custom_names:
            values = [a.custom_fields.get(name) for a in rows]
            columns[name] = values
            present = [v for v in values if v is not None and v != ""]
            numeric = bool(present) and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in present
            )
            kinds[name] = FieldKind.NUMBER if numeric else FieldKind.TEXT
        return cls.from_columns([a.id for a in rows], columns, kinds)

    def take(self, rows: npt.NDArray[np.intp]) -> AccountTable:
        """Return a table of the given rows (re-encoded, so categories stay small)."""
        cols: dict[str, Column] = {}
        for name, col in self.columns.items():
            if isinstance(col, NumberColumn):
                cols[name] = NumberColumn(col.values[rows])
            else:
                codes = col.codes[rows]
                used = np.unique(codes[codes >= 0])
                remap = np.full(len(col.categories) + 1, -1, dtype=np.int32)
                remap[used] = np.arange(len(used), dtype=np.int32)
                cats = col.categories[used]
                cols[name] = TextColumn(col.kind, remap[codes], cats)
        return AccountTable(self.ids[rows], cols)
