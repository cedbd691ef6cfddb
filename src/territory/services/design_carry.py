"""What a redesign (``territory design --from BASE``) carries over from its base.

A redesign keeps the base model's territory ids, so the people and the
hierarchy around those territories stay meaningful in the new plan, as a
Salesforce model clone keeps its users:

* the **ancestors** (regions, districts) of the designed territories, when
  the redesign draws no levels of its own: each designed territory keeps the
  parent it had in the base, and every ancestor row is copied;
* the **memberships** (owners, overlays, managers, with their effective
  dates) of every territory the new model holds.

* the **overlays**: territories of the base on other branches of the
  hierarchy, which hold no geographic unit and no designed account (an
  industry overlay, a named-account team). They are copied whole — the
  territory rows, the rules that feed them (with their items and value
  sets), their account assignments (each audited) and their memberships — so
  the redesign is a complete plan and ``territory compare`` shows only what
  the new map changes.

Territories of the base's designed layer that the redesign does not hold
(territories that disappeared) are not copied, nor are their memberships;
``territory compare`` then shows what their reps lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, literal, select

from territory.storage.audit import AuditEntry, record_many
from territory.storage.bulk import insert_columns
from territory.storage.tables import (
    account_assignment,
    assignment_rule,
    audit_log,
    rule_item,
    rule_territory,
    territory,
    territory_membership,
    unit_assignment,
    value_set,
)

__all__ = [
    "CarriedHierarchy",
    "CarriedOverlays",
    "carry_hierarchy",
    "carry_memberships",
    "carry_overlay_assignments",
    "carry_overlay_territories",
    "overlay_territories",
]


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

    The new model must have no memberships yet. Each copied membership gets
    its own audit row (``membership``, ``territory/rep/role``, cause
    ``design``), naming the base model it came from.
    """
    held = select(territory.c.id).where(territory.c.model_id == model_id)
    m = territory_membership
    rows = conn.execute(
        select(m.c.territory_id, m.c.rep_id, m.c.role, m.c.start_date, m.c.end_date)
        .where(m.c.model_id == base_id, m.c.territory_id.in_(held))
        .order_by(m.c.territory_id, m.c.rep_id, m.c.role, m.c.id)
    ).all()
    if not rows:
        return 0
    conn.execute(
        insert(m),
        [
            {
                "model_id": model_id,
                "territory_id": r[0],
                "rep_id": r[1],
                "role": r[2],
                "start_date": r[3],
                "end_date": r[4],
            }
            for r in rows
        ],
    )
    record_many(
        conn,
        [
            AuditEntry(
                entity="membership",
                entity_id=f"{r[0]}/{r[1]}/{r[2]}",
                model_id=model_id,
                action="insert",
                old_value={"model_id": base_id},
                new_value={
                    "role": r[2],
                    "start_date": None if r[3] is None else str(r[3]),
                    "end_date": None if r[4] is None else str(r[4]),
                },
                cause="design",
                source=run_id,
            )
            for r in rows
        ],
        actor=actor,
    )
    return len(rows)


@dataclass(frozen=True, slots=True)
class CarriedOverlays:
    """What :func:`carry_overlay_territories` copied: territories and rules."""

    territories: tuple[str, ...]
    rules: tuple[str, ...]
    value_sets: tuple[str, ...]


def overlay_territories(
    conn: Connection, base_id: str, designed: list[str]
) -> tuple[str, ...]:
    """Return the base's territories that lie outside its designed layer.

    The designed layer is every territory of the base that holds a
    geographic unit or an account assigned by a design, every ancestor of
    one, and every territory the redesign holds (``designed``). The rest —
    overlays on other branches, and their descendants — is returned, sorted.
    """
    parent = {
        str(r[0]): (None if r[1] is None else str(r[1]))
        for r in conn.execute(
            select(territory.c.id, territory.c.parent_id).where(
                territory.c.model_id == base_id
            )
        ).all()
    }
    held = {
        str(r[0])
        for r in conn.execute(
            select(unit_assignment.c.territory_id)
            .where(unit_assignment.c.model_id == base_id)
            .distinct()
        ).all()
    } | {
        str(r[0])
        for r in conn.execute(
            select(account_assignment.c.territory_id)
            .where(
                account_assignment.c.model_id == base_id,
                account_assignment.c.cause == "design",
            )
            .distinct()
        ).all()
    }
    layer: set[str] = set()
    for tid in sorted(held | set(designed)):
        cur: str | None = tid
        while cur is not None and cur not in layer:
            layer.add(cur)
            cur = parent.get(cur)
    return tuple(sorted(t for t in parent if t not in layer))


def carry_overlay_territories(
    conn: Connection, base_id: str, model_id: str, overlays: tuple[str, ...]
) -> CarriedOverlays:
    """Copy the overlay territories of the base, and the rules that feed them.

    A rule is copied when it is linked to an overlay; only its links to
    overlays come along (links to the designed layer would assign by the old
    map). The value sets its ``inTable`` items name are copied with it. Call
    this before :func:`carry_memberships`, which then copies the overlays'
    memberships too.
    """
    if not overlays:
        return CarriedOverlays((), (), ())
    keep = set(overlays)
    rows = [
        dict(r)
        for r in conn.execute(
            select(
                territory.c.id,
                territory.c.name,
                territory.c.type_id,
                territory.c.parent_id,
                territory.c.description,
                territory.c.is_catch_all,
                territory.c.attributes,
            )
            .where(territory.c.model_id == base_id, territory.c.id.in_(overlays))
            .order_by(territory.c.id)
        ).mappings()
    ]
    conn.execute(
        insert(territory),
        [
            {
                **r,
                "model_id": model_id,
                "parent_id": r["parent_id"] if r["parent_id"] in keep else None,
            }
            for r in rows
        ],
    )
    links = [
        dict(r)
        for r in conn.execute(
            select(
                rule_territory.c.rule_id,
                rule_territory.c.territory_id,
                rule_territory.c.is_inherited,
                rule_territory.c.external_id,
            )
            .where(
                rule_territory.c.model_id == base_id,
                rule_territory.c.territory_id.in_(overlays),
            )
            .order_by(rule_territory.c.rule_id, rule_territory.c.territory_id)
        ).mappings()
    ]
    rule_ids = tuple(sorted({str(r["rule_id"]) for r in links}))
    if not rule_ids:
        return CarriedOverlays(tuple(r["id"] for r in rows), (), ())
    for table, key in (
        (assignment_rule, assignment_rule.c.id),
        (rule_item, rule_item.c.rule_id),
    ):
        cols = [c.name for c in table.columns if c.name != "model_id"]
        conn.execute(
            insert(table).from_select(
                ["model_id", *cols],
                select(
                    literal(model_id, table.c.model_id.type),
                    *[table.c[c] for c in cols],
                ).where(table.c.model_id == base_id, key.in_(rule_ids)),
            )
        )
    conn.execute(insert(rule_territory), [{**r, "model_id": model_id} for r in links])
    names = tuple(
        sorted(
            {
                str(r[0]).strip()
                for r in conn.execute(
                    select(rule_item.c.value).where(
                        rule_item.c.model_id == base_id,
                        rule_item.c.rule_id.in_(rule_ids),
                        rule_item.c.operation == "inTable",
                    )
                ).all()
                if r[0] is not None
            }
        )
    )
    if names:
        conn.execute(
            insert(value_set).from_select(
                ["model_id", "name", "value"],
                select(
                    literal(model_id, value_set.c.model_id.type),
                    value_set.c.name,
                    value_set.c.value,
                ).where(value_set.c.model_id == base_id, value_set.c.name.in_(names)),
            )
        )
    return CarriedOverlays(tuple(r["id"] for r in rows), rule_ids, names)


def carry_overlay_assignments(
    conn: Connection,
    base_id: str,
    model_id: str,
    overlays: tuple[str, ...],
    *,
    actor: str,
    run_id: str,
    at: datetime,
) -> int:
    """Copy the base's account assignments of ``overlays``; return how many.

    Rows the new model already holds (manual or excluded accounts kept by the
    design) are left as they are. Each copied row gets its own audit row,
    cause ``design``, naming the base model and the row's original cause.
    """
    if not overlays:
        return 0
    a = account_assignment
    have = {
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            select(a.c.account_id, a.c.territory_id).where(
                a.c.model_id == model_id, a.c.territory_id.in_(overlays)
            )
        ).all()
    }
    rows = [
        r
        for r in conn.execute(
            select(
                a.c.account_id,
                a.c.territory_id,
                a.c.cause,
                a.c.source,
                a.c.start_date,
                a.c.end_date,
            )
            .where(a.c.model_id == base_id, a.c.territory_id.in_(overlays))
            .order_by(a.c.account_id, a.c.territory_id)
        ).all()
        if (str(r[0]), str(r[1])) not in have
    ]
    if not rows:
        return 0
    insert_columns(
        conn,
        a,
        {
            "model_id": model_id,
            "account_id": [r[0] for r in rows],
            "territory_id": [r[1] for r in rows],
            "cause": [r[2] for r in rows],
            "source": [r[3] for r in rows],
            "start_date": [r[4] for r in rows],
            "end_date": [r[5] for r in rows],
        },
    )
    insert_columns(
        conn,
        audit_log,
        {
            "at": at,
            "actor": actor,
            "entity": "account_assignment",
            "entity_id": [r[0] for r in rows],
            "model_id": model_id,
            "action": "insert",
            "old_value": [{"model_id": base_id, "cause": r[2]} for r in rows],
            "new_value": [{"territory_id": r[1]} for r in rows],
            "cause": "design",
            "source": run_id,
        },
    )
    return len(rows)
