"""Why is this account here? Where it sits, what the rules say, and why.

An explanation starts from where the account actually sits (its stored
associations, each with its cause: manual, design, import or rule, and
whether the account is excluded from realignment), then evaluates every
territory's rules on it, item by item, with the same compiled criteria the
vectorised engine uses, and takes the rules' placement from the engine
itself, so it can never tell a different story from a run. Last, it says
what the next rule run would do and flags every disagreement between the
store and the rules ("the rules would move it to X on the next run",
"kept: excluded from realignment").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from territory.domain.wording import with_article
from territory.errors import InternalError
from territory.rules.account_table import AccountTable, NumberColumn
from territory.rules.boolean_filter import FilterOps, evaluate_filter
from territory.rules.criterion import CompiledCriterion, Operator
from territory.rules.engine import RuleEngine

__all__ = [
    "AccountExplanation",
    "ItemOutcome",
    "RuleOutcome",
    "StoredAssociation",
    "TerritoryOutcome",
    "explain",
]

#: Causes a rule run never changes.
_KEPT_CAUSES = ("manual", "import")


@dataclass(frozen=True, slots=True)
class StoredAssociation:
    """Where the account sits: one stored association and its cause.

    ``cause`` is ``manual``, ``design``, ``import`` or ``rule``; ``source``
    the rule or design run that made it.
    """

    territory_id: str
    cause: str
    source: str | None = None


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
    """A territory's verdict for one account, with the reason in words.

    ``matched`` and ``assigned`` are the rules' verdict; ``stored`` the
    account's stored association with this territory, if any.
    """

    territory_id: str
    matched: bool
    assigned: bool
    rules: tuple[RuleOutcome, ...]
    reason: str
    stored: StoredAssociation | None = None


@dataclass(frozen=True, slots=True)
class AccountExplanation:
    """Where one account sits, where the rules put it, and what the next run does.

    ``stored`` lists its stored associations (sorted by territory),
    ``excluded`` whether it is excluded from realignment; ``assigned`` the
    territories the rules give it (sorted ids); ``territories`` every
    territory's verdict; ``next_run`` what the next rule run would do, one
    sentence per territory it concerns; ``names`` each territory's name.
    """

    account_id: str
    assigned: tuple[str, ...]
    territories: tuple[TerritoryOutcome, ...]
    stored: tuple[StoredAssociation, ...] = ()
    excluded: bool = False
    next_run: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    has_rules: bool = True
    changes_on_next_run: bool = False

    def label(self, territory_id: str) -> str:
        """Return ``Name (id)``, or the id when the territory has no other name."""
        return _label(self.names, territory_id)

    def lines(self, *, show_failed: bool = True) -> list[str]:
        """Return the explanation as readable lines."""
        sits = "; ".join(
            f"{self.label(s.territory_id)} — {_cause(s)}" for s in self.stored
        )
        out = [
            f"Account {self.account_id} sits in: {sits}"
            if self.stored
            else f"Account {self.account_id} sits in no territory of this model"
        ]
        if self.excluded:
            out.append(
                "  excluded from realignment: rule runs leave its associations "
                "as they are"
            )
        if not self.has_rules:
            out.append(
                "The model has no rules: rule runs leave every association as it is."
            )
            return out
        out.append(
            "The rules put it in: "
            + (
                ", ".join(self.label(t) for t in self.assigned)
                if self.assigned
                else "no territory"
            )
        )
        out.append("Next rule run:")
        out.extend(f"  - {line}" for line in self.next_run)
        out.append("Territory by territory:")
        for t in self.territories:
            if not t.matched and not show_failed and t.stored is None:
                continue
            verdict = (
                "assigned" if t.assigned else ("matched" if t.matched else "failed")
            )
            mark = (
                f"here: {t.stored.cause}; rules: {verdict}"
                if t.stored is not None
                else f"rules: {verdict}"
            )
            out.append(f"  {self.label(t.territory_id)} [{mark}]: {t.reason}")
            if t.matched:
                for r in t.rules:
                    via = (
                        f" (inherited from {self.label(r.inherited_from)})"
                        if r.inherited_from
                        else ""
                    )
                    out.append(f"    rule {r.rule_id} '{r.rule_name}'{via}: matched")
                    for i in r.items:
                        out.append(f"      {i.number}. {i.reason}")
        return out


def _label(names: Mapping[str, str], territory_id: str) -> str:
    name = names.get(territory_id)
    return f"{name} ({territory_id})" if name and name != territory_id else territory_id


def _cause(s: StoredAssociation) -> str:
    if s.cause == "rule":
        return f"rule {s.source}" if s.source else "rule"
    if s.cause == "design":
        return f"design ({s.source})" if s.source else "design"
    return s.cause


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
    engine: RuleEngine,
    table: AccountTable,
    account_id: str,
    *,
    stored: Sequence[StoredAssociation] = (),
    excluded: bool = False,
) -> AccountExplanation:
    """Explain where one account sits, where the rules put it, and why.

    ``stored`` are the account's stored associations in the model and
    ``excluded`` its ``excluded_from_realign`` flag; from them and the rules'
    verdict the explanation says what the next rule run would do.

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
    names: dict[str, str] = {str(x.id): x.name for x in engine.rule_set.territories}
    here = {s.territory_id: s for s in stored}
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
                _reason(engine, t, o, verdicts, names),
                here.get(o.territory_id),
            )
        )
    final.sort(
        key=lambda o: (
            o.stored is None,
            not o.assigned,
            not o.matched,
            o.territory_id,
        )
    )
    assigned = tuple(sorted(tids[t] for t in assigned_idx))
    next_run, changes = _next_run(engine, names, stored, assigned, excluded)
    return AccountExplanation(
        account_id,
        assigned,
        tuple(final),
        tuple(sorted(stored, key=lambda s: s.territory_id)),
        excluded,
        next_run,
        names,
        any(engine.rule_driven),
        changes,
    )


def _next_run(
    engine: RuleEngine,
    names: Mapping[str, str],
    stored: Sequence[StoredAssociation],
    assigned: tuple[str, ...],
    excluded: bool,
) -> tuple[tuple[str, ...], bool]:
    """What the next rule run does to the account, per territory; any change?

    The same decisions as the run (see ``services.assignment_diff``): the
    rules replace rule-made associations everywhere and design ones in the
    territories they decide; manual and imported ones, the design ones of
    territories without rules, and everything of an excluded account stay.
    """
    pos: dict[str, int] = {tid: i for i, tid in enumerate(engine.territory_ids)}
    wanted = set(assigned)
    out: list[str] = []
    changes = False

    def label(tid: str) -> str:
        return _label(names, tid)

    for s in sorted(stored, key=lambda s: s.territory_id):
        where = label(s.territory_id)
        ruled = s.territory_id in pos and engine.rule_driven[pos[s.territory_id]]
        agree = s.territory_id in wanted
        if s.cause in _KEPT_CAUSES:
            tail = (
                "the rules agree" if agree else "the rules alone would not put it there"
            )
            kept = with_article(f"{s.cause} association")
            out.append(f"kept in {where}: {kept} ({tail})")
        elif s.cause == "design" and not ruled:
            out.append(
                f"kept in {where}: a design association, and {where} has no rules"
            )
        elif excluded:
            out.append(
                f"kept in {where}: excluded from realignment"
                + ("" if agree else " (the rules would remove it from there)")
            )
        elif agree:
            source = engine.sources[pos[s.territory_id]] or "catch-all"
            if s.cause == "design":
                changes = True
                out.append(
                    f"stays in {where}: the rules agree; the design association "
                    f"becomes rule-made (rule {source})"
                )
            elif s.source != source:
                changes = True
                out.append(
                    f"stays in {where}: recorded as made by rule {source} "
                    f"instead of {s.source}"
                )
            else:
                out.append(f"stays in {where}: the rules agree")
        else:
            changes = True
            out.append(
                f"the rules would remove it from {where} on the next run "
                f"(a {s.cause} association the rules no longer give)"
            )
    have = {s.territory_id for s in stored}
    for tid in sorted(wanted - have):
        if excluded:
            out.append(
                f"kept out of {label(tid)}: excluded from realignment (the rules "
                "would put it there)"
            )
        else:
            changes = True
            out.append(f"the rules would add it to {label(tid)} on the next run")
    if not out:
        out.append("nothing to do: it sits in no territory and the rules give none")
    return tuple(out), changes


def _descendants(engine: RuleEngine, t: int) -> list[int]:
    out: list[int] = []
    stack = list(engine.children[t])
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(engine.children[c])
    return sorted(out)


def _reason(
    engine: RuleEngine,
    t: int,
    o: TerritoryOutcome,
    verdicts: dict[int, bool],
    names: Mapping[str, str],
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
        via = (
            f" inherited from {_label(names, first.inherited_from)}"
            if first.inherited_from
            else ""
        )
        failed = "; ".join(i.reason for i in first.failed_items) or "filter not met"
        flt = f" (filter {first.boolean_filter})" if first.boolean_filter else ""
        return f"failed rule {first.rule_id}{via}{flt}: {failed}"
    n_rules = len(o.rules)
    if o.assigned:
        plural = "s" if n_rules > 1 else ""
        return f"all {n_rules} rule{plural} matched; lowest matching on its branch"
    lower = [_label(names, tids[d]) for d in _descendants(engine, t) if verdicts.get(d)]
    return (
        "matched, but the lower territory "
        + ", ".join(lower)
        + " on the same branch also matched and wins (lowest territory on a branch)"
    )
