"""Audit trail: every change to an assignment or a model's state leaves a row.

Writers call :func:`record` (one change) or :func:`record_many` (bulk) on the
same connection, inside the same transaction, as the change itself, so a
change and its audit row commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from territory.storage.tables import audit_log

__all__ = ["AuditEntry", "record", "record_many", "read_audit"]


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


def read_audit(
    conn: Connection, *, model_id: str | None = None, entity: str | None = None
) -> list[Mapping[str, Any]]:
    """Return audit rows, oldest first, optionally for one model and entity."""
    stmt = select(audit_log).order_by(audit_log.c.id)
    if model_id is not None:
        stmt = stmt.where(audit_log.c.model_id == model_id)
    if entity is not None:
        stmt = stmt.where(audit_log.c.entity == entity)
    return [dict(r._mapping) for r in conn.execute(stmt)]
