"""A rule run's work in the store: the current assignments in, the changes out.

A full realignment changes about as many account-territory associations as
there are accounts, so nothing here handles them one Python object at a
time. The run's territories (index, id, rule recorded) go into a temporary
table; the changes go into a second one as ``(account id, territory index,
action)``; then a handful of set-based statements do the row work inside
the database, in one transaction:

* one ``audit_log`` row for the run (entity ``rule_run``: actor, time,
  cause ``rule``, counts) and one ``assignment_change`` row per changed
  association (account, territory, action, old and new rule, old cause),
  the old rule and cause read from the stored row before it changes;
* ``DELETE``, ``UPDATE ... FROM`` and ``INSERT ... SELECT`` on
  ``account_assignment``; an update makes the row rule-made (a design row
  the rules now decide keeps its place and takes the rule as its source).
  A first realignment, whose inserts outnumber the table's rows four to
  one, drops the table's plain index and builds it again after: one sort
  instead of a million scattered B-tree inserts.

On SQLite the run's transaction may be opened with foreign-key checks off
(:func:`foreign_keys_off`): they cost a lookup of the territory for every
inserted row, and every row's territory comes from the run's own territory
table, which :meth:`RuleRunStore.write` checks against the model's
territories once, before writing.

Changes are staged in one of two ways. On SQLite, when the accounts were
read with their ``rowid`` (``store_rows``), the keys travel as one JSON
array of integers and the store joins them to the account table itself;
otherwise the account ids are bulk-inserted (``COPY`` on PostgreSQL) with
:func:`territory.storage.bulk.insert_columns`. Both stagings feed the same
statements, so both give the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    text,
)
from sqlalchemy.schema import CreateIndex

from territory.errors import InternalError
from territory.storage import tables as t
from territory.storage.audit import record_rule_run
from territory.storage.bulk import REBUILD_INDEXES_FROM_ROWS, insert_columns
from territory.storage.columnar import split_texts

__all__ = [
    "CAUSE_CODE_SQL",
    "CAUSE_DESIGN",
    "CAUSE_OTHER",
    "CAUSE_RULE",
    "CurrentRows",
    "RuleRunStore",
    "StagedChanges",
    "foreign_keys_off",
    "read_current_rows",
]
#: Above this many accounts in scope, current rows are read for the whole model.
_IN_LIST_LIMIT = 10_000
_BIG_CACHE_KIB = 262_144
#: Page cache while SQLite builds an index: its sort runs faster in pieces
#: merged than in one list held in a large cache (measured, 1.2M rows).
_INDEX_CACHE_KIB = 16_384

#: Stored causes as small integers: what a rule run may replace (rule, and
#: design in a territory the rules decide) and what it never touches.
CAUSE_OTHER, CAUSE_RULE, CAUSE_DESIGN = 0, 1, 2
CAUSE_CODE_SQL = "CASE cause WHEN 'rule' THEN 1 WHEN 'design' THEN 2 ELSE 0 END"
_CODES = {"rule": CAUSE_RULE, "design": CAUSE_DESIGN}

_temp = MetaData()
_territory_stage = Table(
    "_rule_territory",
    _temp,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("territory_id", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    prefixes=["TEMPORARY"],
)
_change_stage = Table(
    "_rule_change",
    _temp,
    Column("account_id", String(64), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("action", String(8), nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True, slots=True)
class CurrentRows:
    """Stored assignments of the model: Arrow text columns, shape ``(n_rows,)``.

    ``cause`` holds each row's cause as :data:`CAUSE_RULE`,
    :data:`CAUSE_DESIGN` or :data:`CAUSE_OTHER` (manual, import); ``source``
    is ``""`` where the stored source is ``NULL``.
    """

    account_id: pa.Array
    territory_id: pa.Array
    cause: npt.NDArray[np.int8]
    source: pa.Array

    @classmethod
    def of_lists(
        cls,
        account_id: Sequence[str],
        territory_id: Sequence[str],
        cause: Sequence[str],
        source: Sequence[str],
    ) -> CurrentRows:
        """Build from Python lists (Arrow made by polars, which needs no pandas)."""

        def texts(values: Sequence[str]) -> pa.Array:
            return (
                pl.Series(values=list(values), dtype=pl.String)
                .to_arrow()
                .cast(pa.string())
            )

        return cls(
            texts(account_id),
            texts(territory_id),
            np.array([_CODES.get(c, CAUSE_OTHER) for c in cause], dtype=np.int8),
            texts(source),
        )


@dataclass(frozen=True, slots=True)
class StagedChanges:
    """A run's changes as account rows and territory indices, shape ``(n,)`` each.

    ``account_ids`` gives each account row's id; ``store_rows`` its SQLite
    ``rowid`` when known (then the ids need not travel back to the store).
    Pairs are sorted by account row, then territory index.
    """

    account_ids: npt.NDArray[np.object_]
    store_rows: npt.NDArray[np.int64] | None
    inserts: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
    deletes: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
    updates: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]


@contextmanager
def foreign_keys_off(conn: Connection) -> Iterator[bool]:
    """Turn SQLite's foreign-key checks off for the transaction about to begin.

    Yields whether they were turned off (only on SQLite, outside a
    transaction, when they were on); they are turned on again after, on
    this pooled connection. Only rule runs use it, and
    :meth:`RuleRunStore.write` checks the one reference its rows make.
    """
    dbapi: Any = (
        conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
    )
    if dbapi is None or conn.in_transaction() or dbapi.in_transaction:
        yield False
        return
    (was_on,) = dbapi.execute("PRAGMA foreign_keys").fetchone()
    if not was_on:
        yield False
        return
    dbapi.execute("PRAGMA foreign_keys = OFF")
    try:
        yield True
    finally:
        dbapi.execute("PRAGMA foreign_keys = ON")


def read_current_rows(
    conn: Connection, model_id: str, account_ids: Sequence[str] | None = None
) -> CurrentRows:
    """Return the model's stored assignments (of ``account_ids`` if few).

    Rows of other accounts may come back when ``account_ids`` is long; the
    caller ignores accounts it did not read.
    """
    aa = t.account_assignment
    where = "model_id = :m"
    params: dict[str, Any] = {"m": model_id}
    if account_ids is not None and len(account_ids) <= _IN_LIST_LIMIT:
        if not account_ids:
            return CurrentRows.of_lists([], [], [], [])
        marks = ", ".join(f":a{i}" for i in range(len(account_ids)))
        where += f" AND account_id IN ({marks})"
        params.update({f"a{i}": a for i, a in enumerate(account_ids)})
    target = conn.dialect.identifier_preparer.format_table(aa)
    if conn.dialect.name == "sqlite":
        # in key order: SQLite then walks the primary key's index, not the
        # territory index (which would fetch the rows in random order)
        row = conn.execute(
            text(
                "SELECT count(*), group_concat(account_id, char(31)), "
                "group_concat(territory_id, char(31)), "
                f"group_concat({CAUSE_CODE_SQL}), "
                "group_concat(coalesce(source, ''), char(31)) "
                f"FROM (SELECT * FROM {target} WHERE {where} "
                "ORDER BY model_id, account_id, territory_id)"
            ),
            params,
        ).one()
        n = int(row[0])
        if n == 0:
            return CurrentRows.of_lists([], [], [], [])
        acc, ter, src = (split_texts(row[k], n) for k in (1, 2, 4))
        if acc is not None and ter is not None and src is not None:
            codes = np.fromstring(str(row[3]), dtype=np.int64, sep=",")
            return CurrentRows(acc, ter, codes.astype(np.int8), src)
    rows = conn.execute(
        text(
            f"SELECT account_id, territory_id, cause, source FROM {target} "
            f"WHERE {where} ORDER BY model_id, account_id, territory_id"
        ),
        params,
    ).all()
    return CurrentRows.of_lists(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] or "" for r in rows],
    )


class RuleRunStore:
    """One rule run's writes on one connection (inside the caller's transaction).

    Create it with the run's territories, :meth:`write` the changes and
    :meth:`drop` the staging tables; :meth:`restore` the connection's
    settings always.
    """

    def __init__(
        self,
        conn: Connection,
        model_id: str,
        territory_ids: Sequence[str],
        sources: Sequence[str],
    ) -> None:
        self.conn = conn
        self.model_id = model_id
        self.territory_ids = tuple(territory_ids)
        self.sources = tuple(sources)
        self._sqlite = conn.dialect.name == "sqlite"
        self._pragmas: dict[str, Any] = {}
        _territory_stage.create(conn)
        if self.territory_ids:
            conn.execute(
                insert(_territory_stage),
                [
                    {"idx": i, "territory_id": tid, "source": src}
                    for i, (tid, src) in enumerate(
                        zip(self.territory_ids, self.sources, strict=True)
                    )
                ],
            )

    def drop(self) -> None:
        """Drop the staging tables (after a successful write)."""
        _change_stage.drop(self.conn, checkfirst=True)
        _territory_stage.drop(self.conn, checkfirst=True)

    def restore(self) -> None:
        """Put back the connection settings the write changed (SQLite pragmas).

        Safe after a failed statement: a rollback discards the staging
        tables, but not the pragmas of this pooled connection.
        """
        for name, value in self._pragmas.items():
            self.conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
        self._pragmas.clear()

    # ------------------------------------------------------------- writing

    def write(
        self,
        changes: StagedChanges,
        *,
        actor: str,
        at: datetime,
        summary: Mapping[str, Any],
        lap: Callable[[str], None] | None = None,
    ) -> int:
        """Apply ``changes`` with their audit; return the run's ``audit_log`` id.

        ``lap(name)`` is called at the end of each phase: ``stage`` (changes
        into the store), ``write_audit`` (the run row and one
        ``assignment_change`` row per change), ``write_assignments``
        (deletes, updates, inserts, index rebuild).
        """
        conn = self.conn
        mark = lap or (lambda _name: None)
        self._check_territories()
        n_ins = len(changes.inserts[0])
        n_all = n_ins + len(changes.deletes[0]) + len(changes.updates[0])
        if self._sqlite and n_all >= 2_000:
            self._set_pragma("cache_size", -_BIG_CACHE_KIB)
            self._set_pragma("temp.cache_size", -_BIG_CACHE_KIB)
        _change_stage.create(conn)
        for action, (rows, idx) in (
            ("insert", changes.inserts),
            ("delete", changes.deletes),
            ("update", changes.updates),
        ):
            self._stage(changes, action, rows, idx)
        mark("stage")
        run_id = self._audit(actor, at, summary)
        mark("write_audit")
        pairs = (
            "SELECT c.account_id, x.territory_id, x.source, c.action "
            "FROM _rule_change AS c JOIN _rule_territory AS x ON x.idx = c.idx"
        )
        aa = conn.dialect.identifier_preparer.format_table(t.account_assignment)
        m = {"m": self.model_id}
        if len(changes.deletes[0]):
            conn.execute(
                text(
                    f"DELETE FROM {aa} WHERE model_id = :m AND "
                    "(account_id, territory_id) IN (SELECT s.account_id, "
                    f"s.territory_id FROM ({pairs}) AS s WHERE s.action = 'delete')"
                ),
                m,
            )
        if len(changes.updates[0]):
            conn.execute(
                text(
                    f"UPDATE {aa} SET cause = 'rule', source = s.source "
                    f"FROM ({pairs}) AS s "
                    f"WHERE s.action = 'update' AND {aa}.model_id = :m "
                    f"AND {aa}.account_id = s.account_id "
                    f"AND {aa}.territory_id = s.territory_id"
                ),
                m,
            )
        if n_ins:
            rebuild = self._rebuild_indexes(n_ins)
            for ix in rebuild:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {ix.name}")
            conn.execute(
                text(
                    f"INSERT INTO {aa} (model_id, account_id, territory_id, cause, "
                    "source) SELECT :m, s.account_id, s.territory_id, 'rule', "
                    f"s.source FROM ({pairs}) AS s WHERE s.action = 'insert'"
                ),
                m,
            )
            if rebuild and self._sqlite:
                self._set_pragma("cache_size", -_INDEX_CACHE_KIB)
            for ix in rebuild:
                conn.execute(CreateIndex(ix))
        mark("write_assignments")
        return run_id

    def _check_territories(self) -> None:
        """Every staged territory must be the model's (foreign keys may be off)."""
        tt = self.conn.dialect.identifier_preparer.format_table(t.territory)
        missing = self.conn.execute(
            text(
                "SELECT x.territory_id FROM _rule_territory AS x "
                f"LEFT JOIN {tt} AS tt ON tt.model_id = :m AND tt.id = x.territory_id "
                "WHERE tt.id IS NULL"
            ),
            {"m": self.model_id},
        ).first()
        if missing is not None:
            raise InternalError(
                f"Rule run of model '{self.model_id}' names territory "
                f"'{missing[0]}', which the model does not have; nothing was written.",
                code="rule_run_territory_missing",
                details={"model_id": self.model_id, "territory_id": missing[0]},
            )

    def _set_pragma(self, name: str, value: int) -> None:
        if name not in self._pragmas:
            (old,) = self.conn.exec_driver_sql(f"PRAGMA {name}").one()
            self._pragmas[name] = old
        self.conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")

    def _stage(
        self,
        changes: StagedChanges,
        action: str,
        rows: npt.NDArray[np.intp],
        idx: npt.NDArray[np.intp],
    ) -> None:
        if not len(rows):
            return
        n_t = max(len(self.territory_ids), 1)
        if self._sqlite and changes.store_rows is not None:
            keys = changes.store_rows[rows] * n_t + idx
            self.conn.execute(
                text(
                    "INSERT INTO _rule_change (account_id, idx, action) "
                    "SELECT a.id, j.value % :nt, :action FROM json_each(:keys) AS j "
                    "JOIN account AS a ON a.rowid = j.value / :nt"
                ),
                {"nt": n_t, "action": action, "keys": _json_integers(keys)},
            )
            return
        insert_columns(
            self.conn,
            _change_stage,
            {
                "account_id": changes.account_ids[rows].astype(str),
                "idx": idx.astype(np.int64),
                "action": action,
            },
        )

    def _audit(self, actor: str, at: datetime, summary: Mapping[str, Any]) -> int:
        conn = self.conn
        run_id = record_rule_run(conn, self.model_id, summary, actor=actor, at=at)
        ac = conn.dialect.identifier_preparer.format_table(t.assignment_change)
        aa = conn.dialect.identifier_preparer.format_table(t.account_assignment)
        conn.execute(
            text(
                f"INSERT INTO {ac} (run_id, account_id, territory_id, action, "
                "old_source, new_source) SELECT :run, c.account_id, x.territory_id, "
                "'insert', NULL, x.source FROM _rule_change AS c "
                "JOIN _rule_territory AS x ON x.idx = c.idx WHERE c.action = 'insert'"
            ),
            {"run": run_id},
        )
        conn.execute(
            text(
                f"INSERT INTO {ac} (run_id, account_id, territory_id, action, "
                "old_source, new_source, old_cause) SELECT :run, c.account_id, "
                "x.territory_id, c.action, aa.source, CASE WHEN c.action = 'update' "
                "THEN x.source END, aa.cause FROM _rule_change AS c "
                "JOIN _rule_territory AS x "
                f"ON x.idx = c.idx JOIN {aa} AS aa ON aa.model_id = :m "
                "AND aa.account_id = c.account_id AND aa.territory_id = x.territory_id "
                "WHERE c.action IN ('delete', 'update')"
            ),
            {"run": run_id, "m": self.model_id},
        )
        return int(run_id)

    def _rebuild_indexes(self, n_insert: int) -> list[Any]:
        """Plain indexes worth rebuilding: inserts at least 4x the stored rows."""
        if n_insert < REBUILD_INDEXES_FROM_ROWS:
            return []
        aa = self.conn.dialect.identifier_preparer.format_table(t.account_assignment)
        (stored,) = self.conn.execute(text(f"SELECT count(*) FROM {aa}")).one()
        if int(stored) * 4 > n_insert:
            return []
        return sorted(
            (ix for ix in t.account_assignment.indexes if not ix.unique),
            key=lambda ix: str(ix.name),
        )


def _json_integers(values: npt.NDArray[np.int64]) -> str:
    """Return integers as one JSON array text."""
    return "[" + ",".join(map(str, values.tolist())) + "]"
