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
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from territory.domain.account import Account
from territory.errors import InputError
from territory.rules.criterion import FieldKind, normalise_text, zip5

__all__ = [
    "NUMBER_FIELDS",
    "POSTAL_FIELDS",
    "AccountTable",
    "NumberColumn",
    "TextColumn",
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
            self._zips = np.array(
                [
                    z if (z := zip5(c)) is not None else -1
                    for c in self.categories.tolist()
                ],
                dtype=np.int64,
            )
        return self._zips

    def value(self, row: int) -> str | None:
        """Return the normalised value of one account, ``None`` when blank."""
        code = int(self.codes[row])
        return None if code < 0 else str(self.categories[code])


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
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or other objects
        arr = pa.array([None if v is None else str(v) for v in values], pa.string())
    enc = arr.dictionary_encode()
    normal = [normalise_text(v) for v in enc.dictionary.to_pylist()]
    if normal:
        distinct, inverse = np.unique(
            np.array(normal, dtype=np.str_), return_inverse=True
        )
    else:
        distinct, inverse = np.array([], dtype="<U1"), np.array([], dtype=np.intp)
    shift = 1 if len(distinct) and distinct[0] == "" else 0
    categories = distinct[shift:]
    remap = np.append(inverse.astype(np.int32) - shift, np.int32(-1))
    indices = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    codes = remap[indices.astype(np.intp)]
    return TextColumn(kind, codes.astype(np.int32), categories)


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
