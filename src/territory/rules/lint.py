"""Lint a rule set against the accounts it will run on.

Each finding names the rule, territory, accounts or values involved:

* ``rule_never_matches`` — a rule no account satisfies (or that contradicts
  itself), and ``territory_never_matches`` for a rule set no account passes;
* ``territories_shadow`` — territories with the same rule set (they always
  receive the same accounts), or a territory with rules of its own whose every
  match is taken by a lower territory on its branch;
* ``accounts_unmatched`` — accounts no territory matched (a catch-all may
  still receive them);
* ``blank_decided`` — accounts whose blank fields decided a rule's outcome:
  rejected only because a field a positive item tests is blank, or
  accepted only because a field a negative item (``notEqual``,
  ``notContain``, ``excludes``) tests is blank — a blank always matches
  those;
* ``zip_not_comparable`` — accounts whose postal code is not a US ZIP where a
  rule compares postal codes as a range;
* ``same_type_twice`` — accounts that land in two territories of one type;
* ``field_case_variants`` — a custom field stored under spellings that
  differ only by case (``Tier__c``, ``tier__c``), which rules read as one.

Territories are named with their id (``Bay Area (0MIHs0000004C1LKAU)``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from territory.domain.wording import with_article
from territory.rules.account_table import AccountTable, TextColumn
from territory.rules.boolean_filter import FilterOps, evaluate_filter
from territory.rules.criterion import (
    NEGATIVE_OPERATORS,
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


def _labeller(engine: RuleEngine) -> Callable[[str], str]:
    names = {str(x.id): x.name for x in engine.rule_set.territories}

    def label(tid: str) -> str:
        name = names.get(tid)
        return f"{name} ({tid})" if name and name != tid else tid

    return label


def lint(
    engine: RuleEngine,
    table: AccountTable,
    evaluation: Evaluation | None = None,
    *,
    case_variants: Mapping[str, Sequence[str]] | None = None,
) -> tuple[LintFinding, ...]:
    """Return every lint finding for ``engine``'s rules on ``table``, sorted.

    ``case_variants`` maps a custom field to the stored spellings it was
    read from when they differ only by case (see
    ``services.account_columns``); each gets a finding.
    """
    ev = evaluation if evaluation is not None else engine.evaluate(table)
    run = _Run(engine, table)
    out: list[LintFinding] = []
    tids = engine.territory_ids
    label = _labeller(engine)
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
                    f"territory {label(tid)} matches no account; its rule set "
                    f"({rules}) is never satisfied as a whole",
                    territory_id=tid,
                )
            )
    out.extend(_shadowing(engine, ev, label))
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
    out.extend(_same_type(engine, table, ev, label))
    out.extend(_case_variants(engine, case_variants or {}))
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


def _shadowing(
    engine: RuleEngine, ev: Evaluation, label: Callable[[str], str]
) -> list[LintFinding]:
    out: list[LintFinding] = []
    tids = engine.territory_ids
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for t in range(len(tids)):
        rs = tuple(sorted(r for r, _ in engine.rule_set_of(t)))
        if rs and t != engine.catch_all:
            groups[rs].append(t)
    for rs, members in sorted(groups.items()):
        if len(members) > 1:
            names = ", ".join(label(tids[m]) for m in members)
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
                    f"territory {label(tids[t])} has rules of its own and matches "
                    f"{len(ev.matched[t])} accounts, but lower territories on its "
                    "branch take every one of them",
                    territory_id=tids[t],
                )
            )
    return out


def _blank_decided(
    engine: RuleEngine, table: AccountTable, run: _Run
) -> list[LintFinding]:
    """Accounts whose blank fields decided a rule's outcome, either way.

    Rejected by a blank: the rule fails, and would pass if every blank field
    of a positive item matched. Accepted by a blank: the rule passes, and
    would fail if no blank field of a negative item (``notEqual``,
    ``notContain``, ``excludes``) matched. ``isNull`` and ``isNotNull``
    test blankness on purpose and decide nothing here.
    """
    out: list[LintFinding] = []
    n = table.n_accounts
    ops: FilterOps[npt.NDArray[np.bool_]] = FilterOps(
        np.logical_and,
        np.logical_or,
        np.logical_not,
        lambda: np.ones(n, dtype=np.bool_),
    )
    for rid, rule in sorted(engine.rules.items()):
        if rule.and_only and _self_contradiction(rule.criteria):
            continue  # reported as never matching; blanks decide nothing there
        masks = [run.mask(cc, None) for cc in rule.criteria]
        blanks = [_blank(table, cc) for cc in rule.criteria]
        positive = [
            cc.operator not in (Operator.IS_NULL, Operator.IS_NOT_NULL)
            and not cc.is_negative
            for cc in rule.criteria
        ]
        negative = [cc.operator in NEGATIVE_OPERATORS for cc in rule.criteria]
        if not any(b.any() for b in blanks):
            continue
        normal = evaluate_filter(rule.filter, _picker(masks), ops)
        relaxed = evaluate_filter(
            rule.filter,
            _picker(
                [
                    m | b if p else m
                    for m, b, p in zip(masks, blanks, positive, strict=True)
                ]
            ),
            ops,
        )
        strict = evaluate_filter(
            rule.filter,
            _picker(
                [
                    m & ~b if q else m
                    for m, b, q in zip(masks, blanks, negative, strict=True)
                ]
            ),
            ops,
        )
        for verb, rows_mask, which, why in (
            ("rejects", relaxed & ~normal, positive, ""),
            (
                "accepts",
                normal & ~strict,
                negative,
                " (a blank field always matches notEqual, notContain and excludes)",
            ),
        ):
            rows = np.flatnonzero(rows_mask)
            if not len(rows):
                continue
            fields = sorted(
                {
                    cc.criterion.field
                    for cc, b, w in zip(rule.criteria, blanks, which, strict=True)
                    if w and b[rows].any()
                }
            )
            sample, count = _ids(table, rows)
            out.append(
                LintFinding(
                    "blank_decided",
                    f"rule {rid} {verb} {count} account{'s' if count > 1 else ''} "
                    f"only because {', '.join(fields)} "
                    f"{'is' if len(fields) == 1 else 'are'} blank{why}",
                    rule_id=rid,
                    accounts=sample,
                    count=count,
                    values=tuple(fields),
                )
            )
    return out


def _blank(table: AccountTable, cc: CompiledCriterion) -> npt.NDArray[np.bool_]:
    """Which accounts have no value in the criterion's field."""
    col = table.columns.get(cc.criterion.field)
    if col is None:
        return np.ones(table.n_accounts, dtype=np.bool_)
    if isinstance(col, TextColumn):
        return np.asarray(col.codes < 0, dtype=np.bool_)
    return np.asarray(np.isnan(col.values), dtype=np.bool_)


def _case_variants(
    engine: RuleEngine, variants: Mapping[str, Sequence[str]]
) -> list[LintFinding]:
    used: dict[str, list[str]] = defaultdict(list)
    for rid, rule in sorted(engine.rules.items()):
        for cc in rule.criteria:
            used[cc.criterion.field.casefold()].append(rid)
    out: list[LintFinding] = []
    for name, spellings in sorted(variants.items()):
        rules = sorted(set(used.get(name.casefold(), [])))
        by = f"rules {', '.join(rules)} read" if rules else "rules would read"
        out.append(
            LintFinding(
                "field_case_variants",
                f"custom field {name} is stored under {len(spellings)} spellings "
                f"({', '.join(spellings)}) that differ only by case; {by} them as "
                f"one field (where both are set, {spellings[0]} wins): re-import "
                "the accounts with one spelling",
                rule_id=rules[0] if rules else None,
                values=tuple(spellings),
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
                        f"{count} account{'s' if count > 1 else ''} have "
                        f"{with_article(name)} "
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
    engine: RuleEngine,
    table: AccountTable,
    ev: Evaluation,
    label: Callable[[str], str],
) -> list[LintFinding]:
    type_names = {str(x.id): x.name for x in engine.rule_set.types}
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
                f"{', '.join(label(x) for x in terrs)}, all of type "
                + (f"{type_names[tt]} ({tt})" if type_names.get(tt, tt) != tt else tt),
                territory_id=terrs[0],
                accounts=sample,
                count=count,
                values=terrs,
            )
        )
    return out
