"""Read the accounts a rule run needs from the store, as encoded columns.

A rule run reads every account, but only the fields its rules name (plus
the revenue its diff reports). On SQLite the columns come back folded into
a few large values (:mod:`territory.storage.columnar`), so no Python object
is made per account and field; custom fields are decoded once per
*distinct* JSON document, exactly as ``json.loads`` reads them. A filtered
read, PostgreSQL, or a value the columnar read does not handle takes the
ordinary path, with the same result.

Custom field names are case-insensitive, as Salesforce API names are: a rule
naming ``Account.Tier__c`` reads a stored ``tier__c``. When the store holds
one field under two spellings (``Tier__c`` and ``tier__c``), they are read
as one: each account's value is the first non-blank one in sorted spelling
order, and :attr:`StoredAccounts.case_variants` lists them (lint says so).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from territory.domain.rule import RuleSet, resolve_field
from territory.errors import InputError
from territory.rules import AccountTable, FieldKind
from territory.rules.account_table import (
    NUMBER_FIELDS,
    POSTAL_FIELDS,
    Column,
    NumberColumn,
    encode_dictionary,
)
from territory.rules.arrow import as_ints, text_array
from territory.services.reading import fetch_columns
from territory.storage import tables as t
from territory.storage.columnar import AccountColumns, read_account_columns
from territory.storage.engine import sqlite_file_for_reading

__all__ = [
    "STANDARD_FIELDS",
    "StoredAccounts",
    "read_accounts",
    "rule_fields",
]

#: Account columns that rules can name directly (custom fields live in JSON).
STANDARD_FIELDS = (
    "id",
    "name",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_postal_code",
    "billing_country",
    "industry",
    "annual_revenue",
    "employees",
    "latitude",
    "longitude",
    "county_id",
    "zip_id",
)


@dataclass(frozen=True, slots=True)
class StoredAccounts:
    """Accounts read for a rule run, in id order.

    ``excluded`` (shape ``(n_accounts,)``) flags accounts excluded from
    realignment; ``id_array`` holds the ids as Arrow strings. ``store_rows``
    holds each account's SQLite ``rowid`` when the fast read ran, so writes
    can join to the account table in the store without sending ids back;
    ``None`` otherwise. It is valid only inside the transaction that read it.
    ``case_variants`` maps a custom field read under several stored
    spellings (differing only by case) to those spellings, sorted.
    """

    table: AccountTable
    excluded: npt.NDArray[np.bool_]
    id_array: pa.Array
    store_rows: npt.NDArray[np.int64] | None
    case_variants: dict[str, tuple[str, ...]] = field(default_factory=dict)


def rule_fields(rule_set: RuleSet) -> frozenset[str]:
    """Return the account fields the rule set's items name (resolved).

    A field that is neither standard nor custom is left out: compiling the
    rules reports it.
    """
    out: set[str] = set()
    for rule in rule_set.rules:
        for item in rule.items:
            try:
                out.add(resolve_field(item.field))
            except InputError:
                continue  # compiling the rules reports it, with the rule and item
    return frozenset(out)


def read_accounts(
    conn: Connection,
    *,
    fields: Collection[str] | None = None,
    account_ids: Sequence[str] | None = None,
    changed_since: datetime | None = None,
) -> StoredAccounts:
    """Read accounts (all, listed, or changed since a time) with the given fields.

    ``fields`` names account fields (standard or custom); ``None`` reads
    every standard field and every custom field any account has. The table
    always has the ids; the ``id`` field is a column when ``fields`` is
    ``None`` or holds it. A custom field is a number when every non-blank
    value is a JSON number, text otherwise.
    """
    std = [f for f in STANDARD_FIELDS if fields is None or f in fields]
    custom = None if fields is None else sorted(set(fields) - set(STANDARD_FIELDS))
    if conn.dialect.name == "sqlite" and account_ids is None and changed_since is None:
        got = _read_sqlite(conn, std, custom)
        if got is not None:
            return got
    return _read_generic(conn, std, custom, account_ids, changed_since)


# ------------------------------------------------------------------ custom


def _first_present(doc: dict[str, Any], keys: Sequence[str]) -> Any:
    """The first non-blank value of ``keys`` in ``doc`` (spellings of one field)."""
    for k in keys:
        v = doc.get(k)
        if v is not None and v != "":
            return v
    return doc.get(keys[0])


def _custom_columns(
    documents: Sequence[Any],
    indices: npt.NDArray[np.intp],
    wanted: Sequence[str] | None,
) -> tuple[dict[str, Column], dict[str, FieldKind], dict[str, tuple[str, ...]]]:
    """Decode custom fields given per distinct document.

    ``documents`` holds each distinct ``custom_fields`` value (a dict, JSON
    text, or ``None``); ``indices`` maps each account to one (``-1`` = none).
    Names match ignoring case: a wanted name reads every stored spelling of
    it and keeps the wanted spelling; unasked (``wanted`` ``None``), a field
    is named by its first spelling in sorted order. Spellings of one field
    merge, first non-blank value first; the third value maps each merged
    field to its spellings. Typing follows the row-by-row reading: a field
    is a number when every value that is neither ``None`` nor ``""`` is an
    ``int`` or ``float`` (``bool`` excluded); text otherwise, where a value
    that is not a string is written with ``str`` unless every value is a
    string (or NaN, blank).
    """
    parsed: list[dict[str, Any]] = []
    for doc in documents:
        value = json.loads(doc) if isinstance(doc, str) and doc else doc
        parsed.append(value if isinstance(value, dict) else {})
    spellings: dict[str, list[str]] = {}
    for k in sorted({k for d in parsed for k in d}):
        spellings.setdefault(k.casefold(), []).append(k)
    targets = (
        [(keys[0], keys) for keys in spellings.values()]
        if wanted is None
        else [(w, spellings[w.casefold()]) for w in wanted if w.casefold() in spellings]
    )
    variants = {name: tuple(keys) for name, keys in targets if len(keys) > 1}
    columns: dict[str, Column] = {}
    kinds: dict[str, FieldKind] = {}
    for key, keys in targets:
        values = (
            [d.get(key) for d in parsed]
            if len(keys) == 1 and keys[0] == key
            else [_first_present(d, keys) for d in parsed]
        )
        present = [v for v in values if v is not None and v != ""]
        numeric = bool(present) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in present
        )
        if numeric:
            lut = np.array(
                [
                    math.nan
                    if v is None or (isinstance(v, str) and not v.strip())
                    else float(v)
                    for v in values
                ]
                + [math.nan],
                dtype=np.float64,
            )
            columns[key] = NumberColumn(lut[indices])
            kinds[key] = FieldKind.NUMBER
            continue
        all_text = all(
            v is None or isinstance(v, str) or (isinstance(v, float) and math.isnan(v))
            for v in values
        )
        texts = [
            ""
            if v is None or (all_text and not isinstance(v, str))
            else (v if isinstance(v, str) else str(v))
            for v in values
        ]
        columns[key] = encode_dictionary(text_array(texts), indices, FieldKind.TEXT)
        kinds[key] = FieldKind.TEXT
    return columns, kinds, variants


def _standard_kind(name: str) -> FieldKind:
    if name in NUMBER_FIELDS:
        return FieldKind.NUMBER
    if name in POSTAL_FIELDS:
        return FieldKind.POSTAL
    return FieldKind.TEXT


# ------------------------------------------------------------------ generic


def _read_generic(
    conn: Connection,
    std: Sequence[str],
    custom: Sequence[str] | None,
    account_ids: Sequence[str] | None,
    changed_since: datetime | None,
) -> StoredAccounts:
    a = t.account
    names = ["id", *[f for f in std if f != "id"]]
    stmt = select(
        *[a.c[c] for c in names], a.c.excluded_from_realign, a.c.custom_fields
    ).order_by(a.c.id)
    if account_ids is not None:
        stmt = stmt.where(a.c.id.in_(list(account_ids)))
    if changed_since is not None:
        stmt = stmt.where(a.c.updated_at >= changed_since)
    cols = fetch_columns(conn, stmt)
    ids = text_array([str(v) for v in cols[0]])
    columns: dict[str, Any] = {}
    kinds: dict[str, FieldKind] = {}
    for name, values in zip(names, cols[: len(names)], strict=True):
        if name == "id" and name not in std:
            continue
        kind = _standard_kind(name)
        kinds[name] = kind
        if kind is FieldKind.NUMBER:
            columns[name] = np.array(
                [math.nan if v is None else float(v) for v in values], dtype=np.float64
            )
        else:
            columns[name] = text_array([None if v is None else str(v) for v in values])
    excluded = np.array([bool(v) for v in cols[len(names)]], dtype=np.bool_)
    variants: dict[str, tuple[str, ...]] = {}
    if custom is None or custom:
        documents = list(cols[len(names) + 1])
        indices = np.arange(len(documents), dtype=np.intp)
        extra, extra_kinds, variants = _custom_columns(documents, indices, custom)
        columns.update(extra)
        kinds.update(extra_kinds)
    table = AccountTable.from_arrow(ids, columns, kinds)
    return StoredAccounts(table, excluded, ids, None, variants)


# ------------------------------------------------------------------- SQLite


def _read_native(
    conn: Connection, text_cols: Sequence[str], number_cols: Sequence[str]
) -> AccountColumns | None:
    """Read the columns natively (:mod:`territory.services.sqlite_reader`).

    It reads on a connection of its own, which sees what ``conn`` sees when
    ``conn``'s transaction has written nothing. ``conn`` has read already
    (the rule set), so its snapshot is fixed: if another writer commits in
    between, this run's first write fails instead of mixing two snapshots.
    """
    path = sqlite_file_for_reading(conn)
    if path is None:
        return None
    from territory.services.sqlite_reader import read_sqlite_frame

    names = [f"t{k}" for k in range(len(text_cols))] + [
        f"n{k}" for k in range(len(number_cols))
    ]
    columns = [f'"{c}"' for c in [*text_cols, *number_cols]]
    sql = (
        "SELECT rowid, excluded_from_realign, "
        + ", ".join(columns)
        + " FROM account ORDER BY rowid"
    )
    schema: dict[str, Any] = {"r": pl.Int64, "x": pl.Int64}
    schema.update(dict.fromkeys(names[: len(text_cols)], pl.String))
    schema.update(dict.fromkeys(names[len(text_cols) :], pl.Float64))
    frame = read_sqlite_frame(path, sql, (), schema)
    if frame is None:
        return None
    return AccountColumns(
        frame["r"].to_numpy().astype(np.int64),
        frame["x"].fill_null(0).to_numpy().astype(np.bool_),
        {
            name: frame[f"t{k}"].to_arrow().cast(pa.string())
            for k, name in enumerate(text_cols)
        },
        {
            name: frame[f"n{k}"].to_numpy().astype(np.float64)
            for k, name in enumerate(number_cols)
        },
    )


def _read_sqlite(
    conn: Connection, std: Sequence[str], custom: Sequence[str] | None
) -> StoredAccounts | None:
    number_cols = [f for f in std if f in NUMBER_FIELDS]
    text_cols = ["id", *[f for f in std if f not in NUMBER_FIELDS and f != "id"]]
    read_custom = custom is None or bool(custom)
    if read_custom:
        text_cols.append("custom_fields")
    raw = _read_native(conn, text_cols, number_cols) or read_account_columns(
        conn, text_cols, number_cols
    )
    if raw is None:
        return None
    texts = dict(raw.texts)
    numbers = dict(raw.numbers)
    store_rows, excluded = raw.rowids, raw.excluded
    ids = texts["id"]
    n = len(ids)
    if n > 1 and not pc.all(pc.greater(ids.slice(1), ids.slice(0, n - 1))).as_py():
        # rowid order is not id order: put the accounts in id order
        order = pc.array_sort_indices(ids)
        take = as_ints(order)
        texts = {k: v.take(order) for k, v in texts.items()}
        numbers = {k: v[take] for k, v in numbers.items()}
        store_rows, excluded = store_rows[take], excluded[take]
        ids = texts["id"]
    columns: dict[str, Any] = {}
    kinds: dict[str, FieldKind] = {}
    for name in std:
        if name in numbers:
            columns[name] = numbers[name]
        else:
            columns[name] = texts[name]
        kinds[name] = _standard_kind(name)
    variants: dict[str, tuple[str, ...]] = {}
    if read_custom:
        enc = texts["custom_fields"].dictionary_encode()
        try:
            extra, extra_kinds, variants = _custom_columns(
                enc.dictionary.to_pylist(), as_ints(enc.indices), custom
            )
        except ValueError:  # not JSON after all: let the ordinary read decide
            return None
        columns.update(extra)
        kinds.update(extra_kinds)
    table = AccountTable.from_arrow(ids, columns, kinds)
    return StoredAccounts(table, excluded, ids, store_rows, variants)
