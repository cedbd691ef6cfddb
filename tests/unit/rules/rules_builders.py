"""Builders for small rule sets written as plain tuples."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from territory.domain import Territory, TerritoryType
from territory.rules import (
    AccountTable,
    AssignmentRule,
    FieldKind,
    Operator,
    RuleItem,
    RuleLink,
    RuleSet,
)

Build = Callable[..., RuleSet]


def build_rule_set(
    territories: Sequence[tuple[str, str | None] | tuple[str, str | None, str | None]],
    rules: Mapping[str, Sequence[tuple[str, str, str | None]]],
    links: Sequence[tuple[str, str] | tuple[str, str, bool]],
    *,
    filters: Mapping[str, str] | None = None,
    catch_all: str | None = None,
    inactive: Sequence[str] = (),
    types: Sequence[tuple[str, int]] = (),
    value_sets: Mapping[str, Sequence[str]] | None = None,
) -> RuleSet:
    """Build a rule set from tuples.

    Territories are ``(id, parent[, type])``, rules ``id -> items`` and links
    ``(rule, territory[, apply_to_children])``.
    """
    terrs = tuple(
        Territory(
            t[0],
            "m",
            t[0],
            parent_id=t[1],
            type_id=t[2] if len(t) > 2 else None,  # type: ignore[misc]
            is_catch_all=t[0] == catch_all,
        )
        for t in territories
    )
    rule_objs = tuple(
        AssignmentRule(
            rid,
            rid,
            tuple(RuleItem(f, Operator(op), v) for f, op, v in items),
            boolean_filter=(filters or {}).get(rid),
            is_active=rid not in inactive,
        )
        for rid, items in rules.items()
    )
    link_objs = tuple(
        RuleLink(lk[0], lk[1], bool(lk[2]) if len(lk) > 2 else False)  # type: ignore[misc]
        for lk in links
    )
    return RuleSet(
        terrs,
        rule_objs,
        link_objs,
        tuple(TerritoryType(i, i, p) for i, p in types),
        {k: frozenset(v) for k, v in (value_sets or {}).items()},
    )


def build_table(rows: Sequence[Mapping[str, Any]], **kinds: FieldKind) -> AccountTable:
    """Build an account table from dicts (each with an ``id``)."""
    names = sorted({k for r in rows for k in r} - {"id"})
    return AccountTable.from_columns(
        [r["id"] for r in rows], {n: [r.get(n) for r in rows] for n in names}, kinds
    )
