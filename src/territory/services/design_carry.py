"""What a redesign (``territory design --from BASE``) carries over from its base.

A redesign keeps the base model's territory ids, so the people and the
hierarchy around those territories stay meaningful in the new plan, as a
Salesforce model clone keeps its users:

* the **ancestors** (regions, districts) of the designed territories, when
  the redesign draws no levels of its own: each designed territory keeps the
  parent it had in the base, and every ancestor row is copied;
* the **memberships** (owners, overlays, managers, with their effective
  dates) of every territory the new model holds.

Territories of the base that the redesign does not hold (overlays on other
branches, territories that disappeared) are not copied, nor are their
memberships; ``territory compare`` then shows what their reps lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, literal, select

from territory.storage.audit import AuditEntry, record
from territory.storage.tables import territory, territory_membership

__all__ = ["CarriedHierarchy", "carry_hierarchy", "carry_memberships"]


@dataclass(frozen=True, slots=True)
class CarriedHierarchy:
    """Ancestor rows to insert before the designed territories, and parents."""

    ancestors: tuple[dict[str, Any], ...]
    parent_of: dict[str, str]


def carry_hierarchy(
    conn: Connection, base_id: str, territory_ids: list[str]
) -> CarriedHierarchy:
    """Return the base's ancestors of ``territory_ids`` (root first) and parents.

    Ancestors that are themselves designed territories are not repeated.
    """
    rows = {
        r["id"]: dict(r)
        for r in conn.execute(
            select(
                territory.c.id,
                territory.c.name,
                territory.c.type_id,
                territory.c.parent_id,
                territory.c.description,
                territory.c.is_catch_all,
                territory.c.attributes,
            ).where(territory.c.model_id == base_id)
        ).mappings()
    }
    designed = set(territory_ids)
    parent_of: dict[str, str] = {}
    needed: set[str] = set()
    for tid in territory_ids:
        parent = rows.get(tid, {}).get("parent_id")
        if parent is None or parent not in rows or parent in designed:
            continue
        parent_of[tid] = parent
        seen = {tid}
        while parent is not None and parent in rows and parent not in seen:
            if parent in designed:
                break
            needed.add(parent)
            seen.add(parent)
            parent = rows[parent]["parent_id"]

    def depth(tid: str) -> int:
        d, cur, seen = 0, rows[tid]["parent_id"], {tid}
        while cur is not None and cur in rows and cur not in seen:
            d, seen, cur = d + 1, seen | {cur}, rows[cur]["parent_id"]
        return d

    ancestors = tuple(
        {
            **rows[a],
            "parent_id": rows[a]["parent_id"]
            if rows[a]["parent_id"] in needed
            else None,
        }
        for a in sorted(needed, key=lambda a: (depth(a), a))
    )
    return CarriedHierarchy(ancestors, parent_of)


def carry_memberships(
    conn: Connection,
    base_id: str,
    model_id: str,
    *,
    actor: str,
    run_id: str,
) -> int:
    """Copy the base's memberships of the new model's territories; return how many.

    The new model must have no memberships yet.

    One audit row records the copy (base, count).
    """
    held = select(territory.c.id).where(territory.c.model_id == model_id)
    m = territory_membership
    source = select(
        literal(model_id, m.c.model_id.type),
        m.c.territory_id,
        m.c.rep_id,
        m.c.role,
        m.c.start_date,
        m.c.end_date,
    ).where(m.c.model_id == base_id, m.c.territory_id.in_(held))
    conn.execute(
        insert(m).from_select(
            ["model_id", "territory_id", "rep_id", "role", "start_date", "end_date"],
            source,
        )
    )
    # (some drivers give no row count for INSERT ... SELECT: count the rows)
    copied = int(
        conn.execute(
            select(func.count()).select_from(m).where(m.c.model_id == model_id)
        ).scalar_one()
    )
    if copied:
        record(
            conn,
            AuditEntry(
                entity="territory_membership",
                entity_id=f"{copied} carried",
                model_id=model_id,
                action="insert",
                old_value={"model_id": base_id},
                new_value={"memberships": copied},
                cause="design",
                source=run_id,
            ),
            actor=actor,
        )
    return copied
