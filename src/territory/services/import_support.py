"""Shared steps of every entity import: accept or refuse rows, upsert, audit.

Used by :mod:`territory.services.importing` and the per-entity importers in
:mod:`territory.services.import_catalogue` and
:mod:`territory.services.import_plans`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Table,
    Text,
    bindparam,
    func,
    select,
    tuple_,
)

from territory.errors import Issue, ValidationFailed
from territory.io.schema import EntitySchema
from territory.io.validation import Validated
from territory.services.models import resolve_writable_model
from territory.services.placement import ZipDirectoryReader
from territory.services.reading import read_frame
from territory.storage.bulk import insert_columns, upsert_columns
from territory.storage.tables import audit_log

__all__ = [
    "ImportContext",
    "Progress",
    "accept_rows",
    "audit_changes",
    "exists_mask",
    "file_values",
    "fill_defaults",
    "known_ids",
    "model_of",
    "store_frame",
    "stored_rows",
    "write_rows",
]

Progress = Callable[[int], None]


@dataclass(slots=True)
class ImportContext:
    """One import in progress: its connection, rows, options and clock."""

    conn: Connection
    validated: Validated
    model: str | None
    skip_invalid: bool
    actor: str
    now: datetime
    read_zip_directory: ZipDirectoryReader | None
    on_progress: Progress | None
    #: Custom field names the store's accounts hold (read for account files
    #: with custom columns only).
    stored_custom: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        return self.validated.file


# ------------------------------------------------------------------ helpers


def accept_rows(ctx: ImportContext) -> tuple[pl.DataFrame, tuple[Issue, ...]]:
    """Return the rows to import and the issues of skipped rows, or refuse.

    Raises
    ------
    ValidationFailed
        When the file's columns are wrong, when any row has an issue and
        ``skip_invalid`` is false, or when every row has one (skipping them
        all would import nothing).
    """
    v = ctx.validated
    if v.fatal:
        raise ValidationFailed(
            f"{v.file} cannot be imported as {v.schema.entity}: "
            f"{len(v.fatal)} problem(s) with its columns; nothing was imported.",
            v.all_issues(),
            code="import_invalid",
        )
    if v.issues and not ctx.skip_invalid:
        good = v.n_rows - v.n_bad
        skip = (
            f", or run with --skip-invalid to import the {good} valid row(s) and "
            "skip the rest"
            if good
            else ""
        )
        raise ValidationFailed(
            f"{v.file}: {len(v.issues)} problem(s) in {v.n_bad} of {v.n_rows} "
            f"rows; nothing was imported. Fix them and import again{skip}.",
            v.all_issues(),
            code="import_invalid",
        )
    if v.issues and v.n_bad == v.n_rows:
        # Skipping every row is no import: say so (exit 2), rows and all.
        raise ValidationFailed(
            f"{v.file}: every row has a problem ({len(v.issues)} problem(s) in "
            f"{v.n_rows} of {v.n_rows} rows), so --skip-invalid would skip them "
            "all; nothing was imported. Fix them and import again.",
            v.all_issues(),
            code="import_invalid",
        )
    return v.good(), tuple(v.all_issues())


def fill_defaults(frame: pl.DataFrame, schema: EntitySchema) -> pl.DataFrame:
    """Replace blanks in columns that have a default (booleans, name, role)."""
    fills = [
        pl.col(f.name).fill_null(f.default)
        for f in schema.fields
        if f.default is not None and f.name in frame.columns
    ]
    return frame.with_columns(fills) if fills else frame


def store_frame(conn: Connection, stmt: Any, schema: Mapping[str, Any]) -> pl.DataFrame:
    rows = conn.execute(stmt).all()
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame(
        {
            name: pl.Series(name, list(vals), dtype=dtype, strict=False)
            for (name, dtype), vals in zip(schema.items(), cols, strict=True)
        }
    )


def _among(
    conn: Connection, columns: Sequence[Any], values: pl.DataFrame
) -> ColumnElement[bool]:
    """Return ``columns IN values`` with the values bound as one parameter.

    One JSON text (SQLite, through ``json_each``) or one array per column
    (PostgreSQL, through ``unnest``), so the store looks each key up in its
    index instead of returning every row; ``values`` has one text column per
    column of ``columns``.
    """
    names = values.columns
    if conn.dialect.name == "postgresql":
        arrays = [
            bindparam(f"_among_{i}", values.get_column(n).to_list(), ARRAY(Text))
            for i, n in enumerate(names)
        ]
        if len(columns) == 1:
            one: ColumnElement[bool] = columns[0] == func.any(arrays[0])
            return one
        return tuple_(*columns).in_(select(*[func.unnest(a) for a in arrays]))
    # [{"k0": "...", "k1": "..."}, ...]: polars writes the JSON, escapes and all.
    doc = values.select(pl.struct(names).struct.json_encode().str.join(",")).item()
    each = func.json_each(bindparam("_among", f"[{doc}]")).table_valued("value")
    picked = [func.json_extract(each.c.value, f'$."{n}"') for n in names]
    if len(columns) == 1:
        member: ColumnElement[bool] = columns[0].in_(select(picked[0]))
        return member
    return tuple_(*columns).in_(select(*picked))


def stored_rows(
    conn: Connection,
    table: Table,
    frame: pl.DataFrame,
    key: Sequence[str],
    columns: Mapping[str, Any] | None = None,
    *,
    where: Any = None,
    rename: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Return ``key`` and ``columns`` of the stored rows whose key ``frame`` holds.

    Only those rows are read (set-based: the keys go to the store as one
    parameter), so the cost follows the file, not the table. ``columns``
    maps table column -> polars dtype; ``rename`` maps frame column -> table
    column where their names differ. Keys with a blank part match nothing.
    """
    rename = dict(rename or {})
    columns = dict(columns or {})
    key_cols = [table.c[rename.get(k, k)] for k in key]
    schema = dict.fromkeys(key, pl.String) | columns
    keys = frame.select([pl.col(k).cast(pl.String) for k in key]).drop_nulls().unique()
    if keys.height == 0:
        return pl.DataFrame(schema=schema)
    stmt = select(*key_cols, *[table.c[c] for c in columns]).where(
        _among(conn, key_cols, keys)
    )
    if where is not None:
        stmt = stmt.where(where)
    return read_frame(conn, stmt, schema)


def exists_mask(
    conn: Connection,
    table: Table,
    frame: pl.DataFrame,
    key: Sequence[str],
    *,
    where: Any = None,
    rename: Mapping[str, str] | None = None,
) -> pl.Series:
    """Return, for each row of ``frame``, whether ``table`` already holds its key.

    ``rename`` maps frame column -> table column where their names differ.
    Only the file's keys are looked up (:func:`stored_rows`).
    """
    rename = dict(rename or {})
    probe = select(table.c[rename.get(key[0], key[0])]).limit(1)
    if where is not None:
        probe = probe.where(where)
    if frame.height == 0 or conn.execute(probe).first() is None:
        return pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias(
            "_exists"
        )
    stored = (
        stored_rows(conn, table, frame, key, where=where, rename=rename)
        .unique()
        .with_columns(pl.lit(True).alias("_exists"))
    )
    joined = frame.select([pl.col(k).cast(pl.String) for k in key]).join(
        stored, on=list(key), how="left", maintain_order="left"
    )
    return joined.get_column("_exists").fill_null(False)


def file_values(validated: Validated, field: str) -> pl.Series:
    """Return the values of ``field`` in the file (empty when it has no such column)."""
    if field not in validated.frame.columns:
        return pl.Series(field, [], dtype=pl.String)
    return validated.frame.get_column(field)


def known_ids(
    conn: Connection, column: Any, where: Any = None, *, among: pl.Series | None = None
) -> pl.Series:
    """Return the distinct values of ``column`` (under ``where``) in the store.

    With ``among``, only those of its values the store holds: a file's
    references are looked up, not the whole table read.
    """
    if among is not None:
        values = among.cast(pl.String).drop_nulls().unique().to_frame("v")
        if values.height == 0:
            return pl.Series([], dtype=pl.String)
        stmt = select(column).where(_among(conn, [column], values)).distinct()
    else:
        stmt = select(column).distinct()
    if where is not None:
        stmt = stmt.where(where)
    return read_frame(conn, stmt, {"v": pl.String}).get_column("v")


def write_rows(
    conn: Connection,
    table: Table,
    columns: Mapping[str, Any],
    exists: pl.Series,
    *,
    update: Sequence[str],
    on_progress: Progress | None = None,
    key: Sequence[str] | None = None,
    merge_keys: Mapping[str, Sequence[str]] | None = None,
) -> tuple[int, int]:
    """Insert the new rows and upsert the existing ones; return (new, updated).

    ``merge_keys`` as for :func:`territory.storage.bulk.upsert_columns`.
    """
    n_new = int((~exists).sum())
    n_old = int(exists.sum())

    def part(mask: pl.Series) -> dict[str, Any]:
        return {
            k: (v.filter(mask) if isinstance(v, pl.Series) else v)
            for k, v in columns.items()
        }

    if n_new:
        insert_columns(conn, table, part(~exists), on_progress=on_progress)
    if n_old:
        upsert_columns(
            conn,
            table,
            part(exists),
            key=key,
            update=list(update),
            merge_keys=merge_keys,
            on_progress=on_progress,
        )
    return n_new, n_old


def model_of(ctx: ImportContext, *, action: str) -> tuple[str, str]:
    """Return (id, name) of ``--model`` or the active model, which it may change.

    ``action`` says what the import would do to the model, for the message
    refusing an archived one.

    Raises
    ------
    NotFound
        When no model has that name, or none is named and none is active.
    Conflict
        When the model is archived (``model_archived``).
    """
    model = resolve_writable_model(ctx.conn, ctx.model, action=action)
    return str(model.id), model.name


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def audit_changes(
    ctx: ImportContext,
    entity: str,
    model_id: str,
    entity_ids: list[str],
    actions: list[str],
    old: list[dict[str, Any] | None],
    new: list[dict[str, Any] | None],
    causes: list[str],
    sources: list[str | None],
) -> None:
    if not entity_ids:
        return
    insert_columns(
        ctx.conn,
        audit_log,
        {
            "at": ctx.now,
            "actor": ctx.actor,
            "entity": entity,
            "entity_id": entity_ids,
            "model_id": model_id,
            "action": actions,
            "old_value": [
                None if o is None else {k: _jsonable(v) for k, v in o.items()}
                for o in old
            ],
            "new_value": [
                None if n is None else {k: _jsonable(v) for k, v in n.items()}
                for n in new
            ],
            "cause": causes,
            "source": sources,
        },
    )
