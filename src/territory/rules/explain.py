"""Why is this account here? One account, every territory, every rule and item.

The explanation evaluates each item on the account's own value with the same
compiled criteria the vectorised engine uses, and takes the final placement
from the engine itself, so it can never tell a different story from the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from territory.errors import InternalError
from territory.rules.account_table import AccountTable, NumberColumn
from territory.rules.boolean_filter import FilterOps, evaluate_filter
from territory.rules.criterion import CompiledCriterion, Operator
from territory.rules.engine import RuleEngine

__all__ = [
    "AccountExplanation",
    "ItemOutcome",
    "RuleOutcome",
    "TerritoryOutcome",
    "explain",
]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item of a rule applied to one account: its value and the verdict."""

    number: int
    field: str
    operator: str
    value: str | None
    actual: str | float | None
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule applied to one account for one territory.

    ``inherited_from`` names the ancestor that passes the rule on, or is
    ``None`` when the territory owns the rule.
    """

    rule_id: str
    rule_name: str
    territory_id: str
    inherited_from: str | None
    boolean_filter: str | None
    matched: bool
    items: tuple[ItemOutcome, ...]

    @property
    def failed_items(self) -> tuple[ItemOutcome, ...]:
        """The items that did not match."""
        return tuple(i for i in self.items if not i.matched)


@dataclass(frozen=True, slots=True)
class TerritoryOutcome:
    """A territory's verdict for one account, with the reason in words."""

    territory_id: str
    matched: bool
    assigned: bool
    rules: tuple[RuleOutcome, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class AccountExplanation:
    """Every territory's verdict for one account; ``assigned`` lists where it lands."""

    account_id: str
    assigned: tuple[str, ...]
    territories: tuple[TerritoryOutcome, ...]

    def lines(self, *, show_failed: bool = True) -> list[str]:
        """Return the explanation as readable lines."""
        out = [
            f"Account {self.account_id} lands in: "
            + (", ".join(self.assigned) if self.assigned else "no territory")
        ]
        for t in self.territories:
            if not t.matched and not show_failed:
                continue
            mark = "assigned" if t.assigned else ("matched" if t.matched else "failed")
            out.append(f"  {t.territory_id} [{mark}]: {t.reason}")
            if t.matched:
                for r in t.rules:
                    via = (
                        f" (inherited from {r.inherited_from})"
                        if r.inherited_from
                        else ""
                    )
                    out.append(f"    rule {r.rule_id} '{r.rule_name}'{via}: matched")
                    for i in r.items:
                        out.append(f"      {i.number}. {i.reason}")
        return out


def _item(
    number: int, cc: CompiledCriterion, table: AccountTable, row: int
) -> ItemOutcome:
    col = table.columns.get(cc.criterion.field)
    actual: str | float | None
    if col is None:
        actual = None
    elif isinstance(col, NumberColumn):
        actual = col.value(row)
    else:
        actual = col.value(row)
    crit = cc.criterion
    if actual is None:
        matched = cc.is_negative
        why = (
            "a blank field matches a negative criterion"
            if matched
            else "a blank field never matches a positive criterion"
        )
        reason = f"{crit.describe()}: blank -> {'yes' if matched else 'no'} ({why})"
    else:
        matched = (
            cc.test_number(actual)
            if isinstance(actual, float)
            else cc.test_text(actual)
        )
        reason = f"{crit.describe()}: {actual!r} -> {'yes' if matched else 'no'}"
        if cc.operator is Operator.IN_TABLE:
            reason += f" (value set of {len(cc.equal_values)} values)"
    return ItemOutcome(
        number,
        crit.field,
        crit.operator.value,
        crit.value,
        actual,
        matched,
        reason,
    )


def _picker(items: tuple[ItemOutcome, ...]) -> Callable[[int], bool]:
    return lambda i: items[i - 1].matched


_BOOL: FilterOps[bool] = FilterOps(
    lambda a, b: a and b, lambda a, b: a or b, lambda a: not a, lambda: True
)


def explain(
    engine: RuleEngine, table: AccountTable, account_id: str
) -> AccountExplanation:
    """Explain where one account lands and why.

    Raises
    ------
    NotFound
        When the account is not in ``table``.
    InternalError
        If the item-by-item verdict disagrees with the engine (a bug).
    """
    row = table.row_of(account_id)
    evaluation = engine.evaluate(table, np.array([row], dtype=np.intp))
    assigned_idx = set(evaluation.territory_index.tolist())
    tids = engine.territory_ids
    matched_by_engine = {t for t, arr in enumerate(evaluation.matched) if row in arr}
    outcomes: list[TerritoryOutcome] = []
    verdicts: dict[int, bool] = {}
    for t in range(len(tids)):
        rule_outcomes: list[RuleOutcome] = []
        for rid, owner in engine.rule_set_of(t):
            compiled = engine.rules[rid]
            items = tuple(
                _item(n, cc, table, row)
                for n, cc in enumerate(compiled.criteria, start=1)
            )
            ok = evaluate_filter(compiled.filter, _picker(items), _BOOL)
            rule_outcomes.append(
                RuleOutcome(
                    rid,
                    compiled.rule.name,
                    tids[t],
                    None if owner == t else tids[owner],
                    compiled.rule.boolean_filter,
                    ok,
                    items,
                )
            )
        is_catch_all = t == engine.catch_all
        if is_catch_all:
            matched = t in assigned_idx
        else:
            matched = bool(rule_outcomes) and all(r.matched for r in rule_outcomes)
            if matched != (t in matched_by_engine):
                raise InternalError(
                    f"Explanation of account '{account_id}' disagrees with the "
                    f"engine on territory '{tids[t]}'; please report this.",
                    code="explain_mismatch",
                )
        verdicts[t] = matched
        outcomes.append(
            TerritoryOutcome(
                tids[t], matched, t in assigned_idx, tuple(rule_outcomes), ""
            )
        )
    final: list[TerritoryOutcome] = []
    for t, o in enumerate(outcomes):
        final.append(
            TerritoryOutcome(
                o.territory_id,
                o.matched,
                o.assigned,
                o.rules,
                _reason(engine, t, o, verdicts),
            )
        )
    final.sort(key=lambda o: (not o.assigned, not o.matched, o.territory_id))
    return AccountExplanation(
        account_id,
        tuple(sorted(tids[t] for t in assigned_idx)),
        tuple(final),
    )


def _descendants(engine: RuleEngine, t: int) -> list[int]:
    out: list[int] = []
    stack = list(engine.children[t])
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(engine.children[c])
    return sorted(out)


def _reason(
    engine: RuleEngine, t: int, o: TerritoryOutcome, verdicts: dict[int, bool]
) -> str:
    tids = engine.territory_ids
    if t == engine.catch_all:
        return (
            "catch-all: no other territory matched"
            if o.assigned
            else "catch-all: another territory matched, so the catch-all does not apply"
        )
    if not o.rules:
        return "no rules: a territory with an empty rule set receives nothing"
    if not o.matched:
        first = next(r for r in o.rules if not r.matched)
        via = f" inherited from {first.inherited_from}" if first.inherited_from else ""
        failed = "; ".join(i.reason for i in first.failed_items) or "filter not met"
        flt = f" (filter {first.boolean_filter})" if first.boolean_filter else ""
        return f"failed rule {first.rule_id}{via}{flt}: {failed}"
    n_rules = len(o.rules)
    if o.assigned:
        plural = "s" if n_rules > 1 else ""
        return f"all {n_rules} rule{plural} matched; lowest matching on its branch"
    lower = [tids[d] for d in _descendants(engine, t) if verdicts.get(d)]
    return (
        "matched, but the lower territory "
        + ", ".join(lower)
        + " on the same branch also matched and wins (lowest territory on a branch)"
    )
