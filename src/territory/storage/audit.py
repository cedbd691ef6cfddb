"""Audit trail: every change to an assignment or a model's state leaves a row.

Writers call :func:`record` (one change) or :func:`record_many` (bulk) on the
same connection, inside the same transaction, as the change itself, so a
change and its audit row commit or roll back together.

A rule run, which may change a million associations at once, writes its
audit compactly: one ``audit_log`` row for the run (entity ``rule_run``,
with actor, time, cause ``rule`` and counts) and one ``assignment_change``
row per changed association (account, territory, action, old and new rule).
:func:`read_audit` and :func:`read_assignment_changes` give those changes
back as ordinary audit entries of entity ``account_assignment``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from territory.storage.tables import assignment_change, audit_log

__all__ = [
    "RULE_RUN_ENTITY",
    "AuditEntry",
    "read_assignment_changes",
    "read_audit",
    "record",
    "record_many",
    "record_rule_run",
]

#: ``audit_log.entity`` of a rule run's row; its changes are ``assignment_change``.
RULE_RUN_ENTITY = "rule_run"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited change."""

    entity: str
    entity_id: str
    action: str
    cause: str
    model_id: str | None = None
    old_value: Any = None
    new_value: Any = None
    source: str | None = None


def _row(entry: AuditEntry, actor: str, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "model_id": entry.model_id,
        "action": entry.action,
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "cause": entry.cause,
        "source": entry.source,
    }


def record(conn: Connection, entry: AuditEntry, *, actor: str) -> None:
    """Write one audit row on ``conn`` (inside the caller's transaction)."""
    conn.execute(audit_log.insert(), [_row(entry, actor, datetime.now(UTC))])


def record_many(conn: Connection, entries: Iterable[AuditEntry], *, actor: str) -> int:
    """Write many audit rows with one timestamp; return how many were written."""
    at = datetime.now(UTC)
    rows = [_row(e, actor, at) for e in entries]
    if rows:
        conn.execute(audit_log.insert(), rows)
    return len(rows)


def record_rule_run(
    conn: Connection,
    model_id: str,
    summary: Mapping[str, Any],
    *,
    actor: str,
    at: datetime,
) -> int:
    """Write a rule run's ``audit_log`` row; return its id (the changes' ``run_id``)."""
    result = conn.execute(
        audit_log.insert().values(
            at=at,
            actor=actor,
            entity=RULE_RUN_ENTITY,
            entity_id=model_id,
            model_id=model_id,
            action="run",
            old_value=None,
            new_value=dict(summary),
            cause="rule",
            source=None,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _value(
    territory_id: str, source: str | None, cause: str | None = None
) -> dict[str, Any] | None:
    if source is None and cause is None:
        return None  # no association on that side (an insert's old value)
    return {"territory_id": territory_id, "cause": cause or "rule", "source": source}


def _changes_of(
    run: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "id": None,
            "at": run["at"],
            "actor": run["actor"],
            "entity": "account_assignment",
            "entity_id": f"{c['account_id']}|{c['territory_id']}",
            "model_id": run["model_id"],
            "action": c["action"],
            "old_value": _value(c["territory_id"], c["old_source"], c.get("old_cause")),
            "new_value": _value(c["territory_id"], c["new_source"]),
            "cause": run["cause"],
            "source": c["new_source"] if c["action"] != "delete" else c["old_source"],
            "run_id": run["id"],
        }
        for c in rows
    ]


def read_assignment_changes(
    conn: Connection, *, model_id: str | None = None, run_id: int | None = None
) -> list[dict[str, Any]]:
    """Return rule runs' changed associations as audit entries, oldest run first.

    Each entry has the keys of an ``audit_log`` row (``id`` is ``None``),
    entity ``account_assignment``, ``entity_id`` ``account|territory``, old
    and new value ``{territory_id, cause, source}`` (the old cause is
    ``design`` when the run replaced a design association, else ``rule``),
    and the run's ``run_id``; within a run, entries are sorted by account
    and territory.
    """
    stmt = (
        select(audit_log)
        .where(audit_log.c.entity == RULE_RUN_ENTITY)
        .order_by(audit_log.c.id)
    )
    if model_id is not None:
        stmt = stmt.where(audit_log.c.model_id == model_id)
    if run_id is not None:
        stmt = stmt.where(audit_log.c.id == run_id)
    out: list[dict[str, Any]] = []
    for run in [dict(r._mapping) for r in conn.execute(stmt)]:
        out.extend(_changes_of(run, _run_rows(conn, int(run["id"]))))
    return out


def _run_rows(conn: Connection, run_id: int) -> list[Mapping[str, Any]]:
    ac = assignment_change
    rows = conn.execute(
        select(ac)
        .where(ac.c.run_id == run_id)
        .order_by(ac.c.account_id, ac.c.territory_id)
    )
    return [dict(r._mapping) for r in rows]


def read_audit(
    conn: Connection, *, model_id: str | None = None, entity: str | None = None
) -> list[Mapping[str, Any]]:
    """Return audit rows, oldest first, optionally for one model and entity.

    A rule run's row is followed by its changed associations (entity
    ``account_assignment``, see :func:`read_assignment_changes`); asking for
    entity ``account_assignment`` returns those without the run rows.
    """
    stmt = select(audit_log).order_by(audit_log.c.id)
    if model_id is not None:
        stmt = stmt.where(audit_log.c.model_id == model_id)
    if entity == "account_assignment":
        stmt = stmt.where(audit_log.c.entity.in_([entity, RULE_RUN_ENTITY]))
    elif entity is not None:
        stmt = stmt.where(audit_log.c.entity == entity)
    out: list[Mapping[str, Any]] = []
    for row in (dict(r._mapping) for r in conn.execute(stmt)):
        if row["entity"] != RULE_RUN_ENTITY:
            out.append(row)
            continue
        if entity != "account_assignment":
            out.append(row)
        if entity in (None, "account_assignment"):
            out.extend(_changes_of(row, _run_rows(conn, int(row["id"]))))
    return out
