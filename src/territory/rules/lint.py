"""Lint a rule set against the accounts it will run on.

Each finding names the rule, territory, accounts or values involved:

* ``rule_never_matches`` — a rule no account satisfies (or that contradicts
  itself), and ``territory_never_matches`` for a rule set no account passes;
* ``territories_shadow`` — territories with the same rule set (they always
  receive the same accounts), or a territory with rules of its own whose every
  match is taken by a lower territory on its branch;
* ``accounts_unmatched`` — accounts no territory matched (a catch-all may
  still receive them);
* ``blank_decided`` — accounts a rule rejected only because a field is blank;
* ``zip_not_comparable`` — accounts whose postal code is not a US ZIP where a
  rule compares postal codes as a range;
* ``same_type_twice`` — accounts that land in two territories of one type.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from territory.rules.account_table import AccountTable, TextColumn
from territory.rules.boolean_filter import FilterOps, evaluate_filter
from territory.rules.criterion import (
    RANGE_OPERATORS,
    CompiledCriterion,
    FieldKind,
    Operator,
)
from territory.rules.engine import Evaluation, RuleEngine, _Run

__all__ = ["LintFinding", "lint"]

_SAMPLE = 20


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One lint finding; ``accounts`` is a sorted sample of ``count`` accounts."""

    code: str
    message: str
    rule_id: str | None = None
    territory_id: str | None = None
    accounts: tuple[str, ...] = ()
    count: int = 0
    values: tuple[str, ...] = ()


def _ids(
    table: AccountTable, rows: npt.NDArray[np.intp]
) -> tuple[tuple[str, ...], int]:
    ids = sorted(str(a) for a in table.ids[rows].tolist())
    return tuple(ids[:_SAMPLE]), len(ids)


def lint(
    engine: RuleEngine, table: AccountTable, evaluation: Evaluation | None = None
) -> tuple[LintFinding, ...]:
    """Return every lint finding for ``engine``'s rules on ``table``, sorted."""
    ev = evaluation if evaluation is not None else engine.evaluate(table)
    run = _Run(engine, table)
    out: list[LintFinding] = []
    tids = engine.territory_ids
    # rules that can never match
    for rid, rule in sorted(engine.rules.items()):
        contradiction = _self_contradiction(rule.criteria) if rule.and_only else None
        if contradiction:
            out.append(
                LintFinding(
                    "rule_never_matches",
                    f"rule {rid} can never match: {contradiction}",
                    rule_id=rid,
                )
            )
            continue
        if table.n_accounts and len(run.apply_rule(rule, None)) == 0:
            out.append(
                LintFinding(
                    "rule_never_matches",
                    f"rule {rid} matches none of the {table.n_accounts} accounts",
                    rule_id=rid,
                )
            )
    for t, tid in enumerate(tids):
        if t == engine.catch_all or not engine.rule_set_of(t):
            continue
        if table.n_accounts and len(ev.matched[t]) == 0:
            rules = ", ".join(r for r, _ in engine.rule_set_of(t))
            out.append(
                LintFinding(
                    "territory_never_matches",
                    f"territory {tid} matches no account; its rule set ({rules}) "
                    "is never satisfied as a whole",
                    territory_id=tid,
                )
            )
    out.extend(_shadowing(engine, ev))
    # accounts that match nothing
    covered = np.zeros(table.n_accounts, dtype=np.bool_)
    for t, arr in enumerate(ev.matched):
        if t != engine.catch_all:
            covered[arr] = True
    lost = np.flatnonzero(~covered)
    if len(lost):
        sample, count = _ids(table, lost)
        extra = (
            " (the catch-all territory receives them)" if engine.catch_all >= 0 else ""
        )
        out.append(
            LintFinding(
                "accounts_unmatched",
                f"{count} account{'s' if count > 1 else ''} match no territory{extra}",
                accounts=sample,
                count=count,
            )
        )
    out.extend(_blank_decided(engine, table, run))
    out.extend(_bad_zips(engine, table))
    out.extend(_same_type(engine, table, ev))
    return tuple(
        sorted(
            out,
            key=lambda f: (f.code, f.rule_id or "", f.territory_id or "", f.message),
        )
    )


def _self_contradiction(criteria: tuple[CompiledCriterion, ...]) -> str | None:
    equals: dict[str, list[frozenset[str]]] = defaultdict(list)
    for c in criteria:
        if c.operator is Operator.EQUALS and c.kind is not FieldKind.NUMBER:
            equals[c.criterion.field].append(c.equal_values)
        if c.operator is Operator.IN_TABLE and not c.equal_values:
            return f"value set {c.criterion.value!r} is empty"
    for field, sets in sorted(equals.items()):
        common = frozenset.intersection(*sets)
        if len(sets) > 1 and not common:
            return f"its items require {field} to equal disjoint values at once"
    return None


def _shadowing(engine: RuleEngine, ev: Evaluation) -> list[LintFinding]:
    out: list[LintFinding] = []
    tids = engine.territory_ids
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for t in range(len(tids)):
        rs = tuple(sorted(r for r, _ in engine.rule_set_of(t)))
        if rs and t != engine.catch_all:
            groups[rs].append(t)
    for rs, members in sorted(groups.items()):
        if len(members) > 1:
            names = ", ".join(tids[m] for m in members)
            out.append(
                LintFinding(
                    "territories_shadow",
                    f"territories {names} have the same rule set ({', '.join(rs)}) "
                    "and always receive the same accounts",
                    territory_id=tids[members[0]],
                    values=tuple(tids[m] for m in members),
                )
            )
    assigned = set(ev.territory_index.tolist())
    for t in range(len(tids)):
        if engine.local[t] and len(ev.matched[t]) and t not in assigned:
            out.append(
                LintFinding(
                    "territories_shadow",
                    f"territory {tids[t]} has rules of its own and matches "
                    f"{len(ev.matched[t])} accounts, but lower territories on its "
                    "branch take every one of them",
                    territory_id=tids[t],
                )
            )
    return out


def _blank_decided(
    engine: RuleEngine, table: AccountTable, run: _Run
) -> list[LintFinding]:
    out: list[LintFinding] = []
    ops: FilterOps[npt.NDArray[np.bool_]] = FilterOps(
        np.logical_and,
        np.logical_or,
        np.logical_not,
        lambda: np.ones(table.n_accounts, dtype=np.bool_),
    )
    for rid, rule in sorted(engine.rules.items()):
        if rule.and_only and _self_contradiction(rule.criteria):
            continue  # reported as never matching; blanks decide nothing there
        masks = [run.mask(cc, None) for cc in rule.criteria]
        forced = []
        blank_fields: list[str] = []
        for cc, m in zip(rule.criteria, masks, strict=True):
            col = table.columns.get(cc.criterion.field)
            if cc.is_negative or cc.operator is Operator.IS_NOT_NULL:
                forced.append(m)
                continue
            if col is None:
                blank = np.ones(table.n_accounts, dtype=np.bool_)
            elif isinstance(col, TextColumn):
                blank = col.codes < 0
            else:
                blank = np.isnan(col.values)
            if blank.any():
                blank_fields.append(cc.criterion.field)
            forced.append(m | blank)
        if not blank_fields:
            continue
        normal = evaluate_filter(rule.filter, _picker(masks), ops)
        relaxed = evaluate_filter(rule.filter, _picker(forced), ops)
        rows = np.flatnonzero(relaxed & ~normal)
        if len(rows):
            sample, count = _ids(table, rows)
            fields = ", ".join(sorted(set(blank_fields)))
            out.append(
                LintFinding(
                    "blank_decided",
                    f"rule {rid} rejects {count} account{'s' if count > 1 else ''} "
                    f"only because {fields} is blank",
                    rule_id=rid,
                    accounts=sample,
                    count=count,
                    values=tuple(sorted(set(blank_fields))),
                )
            )
    return out


def _picker(
    masks: list[npt.NDArray[np.bool_]],
) -> Callable[[int], npt.NDArray[np.bool_]]:
    return lambda i: masks[i - 1]


def _bad_zips(engine: RuleEngine, table: AccountTable) -> list[LintFinding]:
    out: list[LintFinding] = []
    seen: set[str] = set()
    for rid, rule in sorted(engine.rules.items()):
        for cc in rule.criteria:
            if cc.kind is not FieldKind.POSTAL or cc.operator not in RANGE_OPERATORS:
                continue
            name = cc.criterion.field
            col = table.columns.get(name)
            if not isinstance(col, TextColumn) or name in seen:
                continue
            seen.add(name)
            bad_codes = np.flatnonzero(col.zips() < 0)
            rows = np.flatnonzero(np.isin(col.codes, bad_codes))
            if len(rows):
                sample, count = _ids(table, rows)
                values = tuple(
                    sorted({str(col.categories[c]) for c in bad_codes.tolist()})
                )
                out.append(
                    LintFinding(
                        "zip_not_comparable",
                        f"{count} account{'s' if count > 1 else ''} have a {name} "
                        "that is not a US ZIP, so range rules such as "
                        f"{rid} never match them",
                        rule_id=rid,
                        accounts=sample,
                        count=count,
                        values=values[:_SAMPLE],
                    )
                )
    return out


def _same_type(
    engine: RuleEngine, table: AccountTable, ev: Evaluation
) -> list[LintFinding]:
    type_of: dict[str, str | None] = {
        t.id: t.type_id for t in engine.rule_set.territories
    }
    by_key: dict[tuple[int, str], list[str]] = defaultdict(list)
    for row, t in zip(
        ev.account_rows.tolist(), ev.territory_index.tolist(), strict=True
    ):
        tt = type_of.get(engine.territory_ids[t])
        if tt is not None:
            by_key[(row, tt)].append(engine.territory_ids[t])
    clashes: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    for (row, tt), names in by_key.items():
        if len(names) > 1:
            clashes[(tt, tuple(sorted(names)))].append(row)
    out: list[LintFinding] = []
    for (tt, terrs), rows in sorted(clashes.items()):
        sample, count = _ids(table, np.array(rows, dtype=np.intp))
        out.append(
            LintFinding(
                "same_type_twice",
                f"{count} account{'s' if count > 1 else ''} land in "
                f"{', '.join(terrs)}, all of type {tt}",
                territory_id=terrs[0],
                accounts=sample,
                count=count,
                values=terrs,
            )
        )
    return out
