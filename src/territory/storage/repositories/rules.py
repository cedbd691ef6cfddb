"""Assignment rules of a model: rows <-> ``territory.domain.rule`` objects.

A model's rule set is its territories, every territory type, its rules with
their items and territory links, and its value sets. Saving merges: types
and territories are inserted or updated by id, each saved rule replaces the
stored rule of the same id (items and links included), each saved value set
replaces the stored set of the same name; nothing else is deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from territory.domain.ids import ModelId, TerritoryId, TerritoryTypeId
from territory.domain.rule import AssignmentRule, RuleItem, RuleLink, RuleSet
from territory.domain.territory import Territory, TerritoryType
from territory.errors import Conflict
from territory.storage import tables as t

__all__ = ["RuleRepository", "SaveCounts"]


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """How many rows of each kind a save inserted or updated."""

    types: int
    territories: int
    rules: int
    items: int
    links: int
    value_sets: int


class RuleRepository:
    """Read and write one model's rule set on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def types(self) -> tuple[tuple[TerritoryType, ...], dict[str, str]]:
        """Return every territory type and the Salesforce developer names."""
        rows = self.conn.execute(
            select(t.territory_type).order_by(t.territory_type.c.id)
        )
        types: list[TerritoryType] = []
        dev: dict[str, str] = {}
        for r in rows:
            m = r._mapping
            types.append(
                TerritoryType(
                    TerritoryTypeId(m["id"]),
                    m["name"],
                    int(m["priority"]),
                    m["description"] or "",
                )
            )
            if m["developer_name"]:
                dev[m["id"]] = m["developer_name"]
        return tuple(types), dev

    def territories(self, model_id: str) -> tuple[Territory, ...]:
        """Return the model's territories, sorted by id."""
        tt = t.territory
        rows = self.conn.execute(
            select(tt).where(tt.c.model_id == model_id).order_by(tt.c.id)
        )
        return tuple(
            Territory(
                TerritoryId(m["id"]),
                ModelId(m["model_id"]),
                m["name"],
                type_id=TerritoryTypeId(m["type_id"]) if m["type_id"] else None,
                parent_id=TerritoryId(m["parent_id"]) if m["parent_id"] else None,
                description=m["description"] or "",
                is_catch_all=bool(m["is_catch_all"]),
                attributes=dict(m["attributes"] or {}),
            )
            for m in (r._mapping for r in rows)
        )

    def load(self, model_id: str) -> RuleSet:
        """Return the model's whole rule set (empty parts when it has none)."""
        types, dev = self.types()
        items: dict[str, list[tuple[int, RuleItem]]] = defaultdict(list)
        ri = t.rule_item
        for r in self.conn.execute(select(ri).where(ri.c.model_id == model_id)):
            m = r._mapping
            items[m["rule_id"]].append(
                (
                    int(m["sort_order"]),
                    RuleItem(m["field"], m["operation"], m["value"], m["external_id"]),
                )
            )
        ar = t.assignment_rule
        rules = tuple(
            AssignmentRule(
                m["id"],
                m["name"],
                tuple(i for _, i in sorted(items.get(m["id"], []), key=lambda p: p[0])),
                boolean_filter=m["boolean_filter"],
                is_active=bool(m["is_active"]),
                object_type=m["object_type"],
                developer_name=m["developer_name"],
            )
            for m in (
                r._mapping
                for r in self.conn.execute(
                    select(ar).where(ar.c.model_id == model_id).order_by(ar.c.id)
                )
            )
        )
        rt = t.rule_territory
        links = tuple(
            RuleLink(
                m["rule_id"],
                m["territory_id"],
                bool(m["is_inherited"]),
                m["external_id"],
            )
            for m in (
                r._mapping
                for r in self.conn.execute(
                    select(rt)
                    .where(rt.c.model_id == model_id)
                    .order_by(rt.c.rule_id, rt.c.territory_id)
                )
            )
        )
        sets: dict[str, set[str]] = defaultdict(set)
        for name, value in self._value_rows(model_id):
            sets[name].add(value)
        territories = self.territories(model_id)
        used_types = {x.type_id for x in territories}
        return RuleSet(
            territories,
            rules,
            links,
            tuple(x for x in types if x.id in used_types),
            {k: frozenset(v) for k, v in sorted(sets.items())},
            {k: v for k, v in dev.items() if k in used_types},
        )

    def _value_rows(self, model_id: str) -> list[tuple[str, str]]:
        """Every ``(name, value)`` of the model's value sets.

        Read on the driver's cursor: a model may hold hundreds of thousands
        of ZIP codes and account ids, and plain text needs no conversion.
        """
        vs = t.value_set
        stmt = select(vs.c.name, vs.c.value).where(vs.c.model_id == model_id)
        compiled = stmt.compile(dialect=self.conn.dialect)
        params: Any = compiled.params
        if compiled.positiontup is not None:
            params = tuple(compiled.params[k] for k in compiled.positiontup)
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(str(compiled), params)
            return [(str(a), str(b)) for a, b in cursor.fetchall()]
        finally:
            cursor.close()

    def _save_types(
        self, types: tuple[TerritoryType, ...], dev: Mapping[str, str]
    ) -> int:
        tt = t.territory_type
        existing = {
            m["id"]: m for m in (r._mapping for r in self.conn.execute(select(tt)))
        }
        by_priority = {m["priority"]: i for i, m in existing.items()}
        by_name = {m["name"]: i for i, m in existing.items()}
        name_of = {i: m["name"] for i, m in existing.items()}
        priority_of = {i: m["priority"] for i, m in existing.items()}
        n = 0
        for x in sorted(types, key=lambda x: x.id):
            other = by_priority.get(x.priority)
            if other is not None and other != x.id:
                raise Conflict(
                    f"Territory type '{x.id}' ('{x.name}') wants priority "
                    f"{x.priority}, which type '{other}' ('{name_of[other]}') "
                    "already has; types are shared by every model of the store and "
                    "their priorities are unique: give it another priority, or "
                    f"name it '{name_of[other]}' to use the stored type.",
                    code="territory_type_priority_taken",
                    details={"type": x.id, "priority": x.priority, "holder": other},
                )
            named = by_name.get(x.name)
            if named is not None and named != x.id:
                raise Conflict(
                    f"Territory type '{x.id}' is named '{x.name}' with priority "
                    f"{x.priority}, but the stored type '{named}' of that name has "
                    f"priority {priority_of[named]}; type names are unique: give it "
                    f"priority {priority_of[named]} to use the stored type, or "
                    "rename it.",
                    code="territory_type_name_taken",
                    details={"type": x.id, "name": x.name, "holder": named},
                )
            values = {
                "name": x.name,
                "priority": x.priority,
                "description": x.description,
                "developer_name": dev.get(x.id),
            }
            if x.id in existing:
                self.conn.execute(update(tt).where(tt.c.id == x.id).values(**values))
            else:
                self.conn.execute(insert(tt).values(id=x.id, **values))
            by_priority[x.priority] = x.id
            by_name[x.name] = x.id
            name_of[x.id], priority_of[x.id] = x.name, x.priority
            n += 1
        return n

    def delete_rules(self, model_id: str, *, prefix: str = "") -> int:
        """Delete the model's rules (those whose id starts with ``prefix``).

        Items and links go with their rules; value sets named with ``prefix``
        go too (every value set when ``prefix`` is empty). Returns the number
        of rules deleted.
        """
        ar, ri, rt, vs = t.assignment_rule, t.rule_item, t.rule_territory, t.value_set
        ids = list(
            self.conn.execute(
                select(ar.c.id).where(
                    (ar.c.model_id == model_id)
                    & ar.c.id.startswith(prefix, autoescape=True)
                )
            ).scalars()
        )
        for table in (ri, rt):
            self.conn.execute(
                delete(table).where(
                    (table.c.model_id == model_id) & table.c.rule_id.in_(ids)
                )
            )
        self.conn.execute(
            delete(ar).where((ar.c.model_id == model_id) & ar.c.id.in_(ids))
        )
        self.conn.execute(
            delete(vs).where(
                (vs.c.model_id == model_id)
                & vs.c.name.startswith(prefix, autoescape=True)
            )
        )
        return len(ids)

    def save(self, model_id: str, rule_set: RuleSet) -> SaveCounts:
        """Merge ``rule_set`` into the model (see the module docstring).

        Raises
        ------
        Conflict
            When a territory type takes a priority or name another type holds.
        """
        n_types = self._save_types(rule_set.types, rule_set.type_developer_names)
        tt = t.territory
        existing = set(
            self.conn.execute(
                select(tt.c.id).where(tt.c.model_id == model_id)
            ).scalars()
        )
        # parents first so the hierarchy is complete after every statement
        for x in _parents_first(rule_set.territories):
            values: dict[str, Any] = {
                "name": x.name,
                "type_id": x.type_id,
                "parent_id": x.parent_id,
                "description": x.description,
                "is_catch_all": x.is_catch_all,
                "attributes": dict(x.attributes),
            }
            if x.id in existing:
                self.conn.execute(
                    update(tt)
                    .where((tt.c.model_id == model_id) & (tt.c.id == x.id))
                    .values(**values)
                )
            else:
                self.conn.execute(
                    insert(tt).values(model_id=model_id, id=x.id, **values)
                )
        rule_ids = [r.id for r in rule_set.rules]
        ar, ri, rt = t.assignment_rule, t.rule_item, t.rule_territory
        if rule_ids:
            for table in (ri, rt):
                self.conn.execute(
                    delete(table).where(
                        (table.c.model_id == model_id) & table.c.rule_id.in_(rule_ids)
                    )
                )
            self.conn.execute(
                delete(ar).where((ar.c.model_id == model_id) & ar.c.id.in_(rule_ids))
            )
            self.conn.execute(
                insert(ar),
                [
                    {
                        "model_id": model_id,
                        "id": r.id,
                        "name": r.name,
                        "object_type": r.object_type,
                        "boolean_filter": r.boolean_filter,
                        "is_active": r.is_active,
                        "developer_name": r.developer_name,
                    }
                    for r in rule_set.rules
                ],
            )
        item_rows = [
            {
                "model_id": model_id,
                "rule_id": r.id,
                "sort_order": n,
                "field": i.field,
                "operation": i.operator,
                "value": i.value,
                "external_id": i.external_id,
            }
            for r in rule_set.rules
            for n, i in enumerate(r.items, start=1)
        ]
        if item_rows:
            self.conn.execute(insert(ri), item_rows)
        link_rows = [
            {
                "model_id": model_id,
                "rule_id": k.rule_id,
                "territory_id": k.territory_id,
                "is_inherited": k.apply_to_children,
                "external_id": k.external_id,
            }
            for k in rule_set.links
        ]
        if link_rows:
            self.conn.execute(insert(rt), link_rows)
        vs = t.value_set
        for name, values_ in sorted(rule_set.value_sets.items()):
            self.conn.execute(
                delete(vs).where((vs.c.model_id == model_id) & (vs.c.name == name))
            )
            if values_:
                self.conn.execute(
                    insert(vs),
                    [
                        {"model_id": model_id, "name": name, "value": v}
                        for v in sorted(values_)
                    ],
                )
        return SaveCounts(
            n_types,
            len(rule_set.territories),
            len(rule_set.rules),
            len(item_rows),
            len(link_rows),
            len(rule_set.value_sets),
        )


def _parents_first(territories: tuple[Territory, ...]) -> list[Territory]:
    by_id = {x.id: x for x in territories}
    done: set[str] = set()
    out: list[Territory] = []

    def visit(x: Territory) -> None:
        if x.id in done:
            return
        done.add(x.id)
        if x.parent_id in by_id:
            visit(by_id[x.parent_id])
        out.append(x)

    for x in sorted(territories, key=lambda x: x.id):
        visit(x)
    return out
