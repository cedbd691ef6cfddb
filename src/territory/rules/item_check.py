"""Every problem of a rule set's items and filters, found in one pass.

:class:`~territory.rules.RuleEngine` stops at the first kind of problem
(structure, then criteria). An import wants them all at once, each with the
rule, the item and the key to fix: an unknown field, an unknown operator, a
value that does not fit (a missing value set, a malformed ``between``) and
a filter that names an item the rule lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from territory.errors import InputError
from territory.rules.boolean_filter import parse_filter
from territory.rules.criterion import (
    Criterion,
    FieldKind,
    compile_criterion,
    parse_operator,
)
from territory.rules.engine import _STANDARD_KINDS
from territory.rules.ruleset import RuleSet, resolve_field

__all__ = ["ItemProblem", "find_item_problems"]


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """One problem of a rule: ``item`` counts from 1 (None for the filter).

    ``key`` is the key to fix: ``field``, ``operator``, ``value`` or
    ``filter``.
    """

    rule_id: str
    item: int | None
    key: str
    problem: str


def find_item_problems(
    rule_set: RuleSet, value_sets: Mapping[str, frozenset[str]]
) -> list[ItemProblem]:
    """Return every item and filter problem of ``rule_set``, rule by rule.

    ``value_sets`` are those an ``inTable`` may name (the file's and the
    model's). A criterion is checked against its value only when its field
    and operator are known.

    Examples
    --------
    >>> from territory.rules import AssignmentRule, RuleItem
    >>> rs = RuleSet((), (AssignmentRule("r1", "r1", (
    ...     RuleItem("Account.Nope", "equals", "x"),
    ...     RuleItem("industry", "equalz", "x"),
    ...     RuleItem("Account.Id", "inTable", "missing")), boolean_filter="1 AND 4"),),
    ...     ())
    >>> [(p.item, p.key) for p in find_item_problems(rs, {})]
    [(1, 'field'), (2, 'operator'), (3, 'value'), (None, 'filter')]
    """
    out: list[ItemProblem] = []
    for rule in sorted(rule_set.rules, key=lambda r: r.id):
        for n, item in enumerate(rule.items, start=1):
            name = op = None
            try:
                name = resolve_field(item.field)
            except InputError as exc:
                out.append(ItemProblem(rule.id, n, "field", exc.message))
            try:
                op = parse_operator(item.operator)
            except InputError as exc:
                out.append(ItemProblem(rule.id, n, "operator", exc.message))
            if name is None or op is None:
                continue
            kind = _STANDARD_KINDS.get(name, FieldKind.TEXT)
            try:
                compile_criterion(Criterion(name, op, item.value), kind, value_sets)
            except InputError as exc:
                out.append(ItemProblem(rule.id, n, "value", exc.message))
        if rule.items:
            try:
                parse_filter(rule.boolean_filter, len(rule.items), rule.id)
            except InputError as exc:
                out.append(ItemProblem(rule.id, None, "filter", exc.message))
    return out
