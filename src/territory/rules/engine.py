"""Vectorised rule evaluation over a columnar account table.

The engine walks the territory hierarchy from the top. Each territory is
evaluated only on the accounts that passed every rule it inherits; the rules
it passes on narrow the set further for its children. A territory's own
local rules never gate its children.

Three levers keep a million accounts in seconds:

* a criterion is answered once per *distinct value* of its field (a lookup
  table over the dictionary-encoded column) and then gathered;
* equal criteria in different rules share one lookup table, and over the
  full table one result, keyed by ``CompiledCriterion.key``;
* a selective equality over the full table reads the column's posting lists
  (accounts grouped by value) instead of scanning every account.

After matching, an account that matched several territories on one branch
stays only in the lowest of them, and the catch-all territory (if any)
receives the accounts that matched nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from territory.errors import InputError, Issue, ValidationFailed
from territory.rules.account_table import AccountTable, NumberColumn, TextColumn
from territory.rules.boolean_filter import (
    FilterNode,
    FilterOps,
    evaluate_filter,
    parse_filter,
)
from territory.rules.criterion import (
    NEGATIVE_OPERATORS,
    CompiledCriterion,
    Criterion,
    FieldKind,
    Operator,
    compile_criterion,
    normalise_text,
    parse_operator,
)
from territory.rules.ruleset import (
    AssignmentRule,
    RuleSet,
    check_rule_set,
    resolve_field,
)

__all__ = ["CompiledRule", "Evaluation", "RuleEngine"]

_BOOL: FilterOps[bool] = FilterOps(
    lambda a, b: a and b, lambda a, b: a or b, lambda a: not a, lambda: True
)
Index = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]
_EMPTY: Index = np.empty(0, dtype=np.intp)
_STANDARD_KINDS = {
    "annual_revenue": FieldKind.NUMBER,
    "employees": FieldKind.NUMBER,
    "latitude": FieldKind.NUMBER,
    "longitude": FieldKind.NUMBER,
    "billing_postal_code": FieldKind.POSTAL,
    "zip_id": FieldKind.POSTAL,
}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with resolved fields, compiled criteria and a parsed filter."""

    rule: AssignmentRule
    criteria: tuple[CompiledCriterion, ...]
    filter: FilterNode
    and_only: bool


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of a rule run.

    ``account_rows`` and ``territory_index`` (shape ``(n_pairs,)``) list the
    final assignments, sorted by row then territory; ``territory_ids`` maps a
    territory index to its id. ``matched[t]`` holds the sorted rows that
    satisfied territory ``t``'s rule set before the lowest-territory rule;
    ``caught`` the rows the catch-all territory received.
    """

    territory_ids: tuple[str, ...]
    account_rows: Index
    territory_index: Index
    matched: tuple[Index, ...]
    caught: Index
    sources: tuple[str | None, ...]

    def pairs(self, table: AccountTable) -> list[tuple[str, str]]:
        """Return ``(account_id, territory_id)`` pairs, sorted."""
        ids = table.ids[self.account_rows].tolist()
        tids = [self.territory_ids[i] for i in self.territory_index.tolist()]
        return sorted(zip(ids, tids, strict=True))


class RuleEngine:
    """A rule set compiled for accounts whose fields have the given kinds.

    Compile once, evaluate many tables (a full realignment, one changed
    account).

    Raises
    ------
    ValidationFailed
        When the rule set is malformed or a criterion does not fit its field.

    Examples
    --------
    >>> from territory.domain import Territory
    >>> from territory.rules import (
    ...     AssignmentRule, Operator, RuleItem, RuleLink, RuleSet)
    >>> rs = RuleSet(
    ...     territories=(Territory("West", "m", "West"),),
    ...     rules=(AssignmentRule("r1", "CA", (RuleItem("Account.BillingState",
    ...            Operator.EQUALS, "CA"),)),),
    ...     links=(RuleLink("r1", "West"),))
    >>> table = AccountTable.from_columns(["a", "b"], {"billing_state": ["ca", "NY"]})
    >>> RuleEngine(rs).evaluate(table).pairs(table)
    [('a', 'West')]
    """

    def __init__(
        self,
        rule_set: RuleSet,
        kinds: dict[str, FieldKind] | None = None,
    ) -> None:
        check_rule_set(rule_set)
        self.rule_set = rule_set
        self.kinds = {**_STANDARD_KINDS, **(kinds or {})}
        # custom fields are case-insensitive (Salesforce API names): a rule's
        # Tier__c is the table's tier__c
        custom: dict[str, str] = {}
        for key in sorted(self.kinds):
            if key.casefold().endswith("__c"):
                custom.setdefault(key.casefold(), key)
        issues: list[Issue] = []
        shared: dict[tuple[object, ...], CompiledCriterion] = {}
        self.rules: dict[str, CompiledRule] = {}
        for rule in sorted(rule_set.rules, key=lambda r: r.id):
            crit: list[CompiledCriterion] = []
            for n, item in enumerate(rule.items, start=1):
                name = resolve_field(item.field)
                if name not in self.kinds:
                    name = custom.get(name.casefold(), name)
                kind = self.kinds.get(name, FieldKind.TEXT)
                try:
                    cc = compile_criterion(
                        Criterion(name, parse_operator(item.operator), item.value),
                        kind,
                        rule_set.value_sets,
                    )
                except InputError as exc:
                    issues.append(Issue(f"rule '{rule.id}' item {n}: {exc.message}"))
                    continue
                crit.append(shared.setdefault(cc.key, cc))
            node = parse_filter(rule.boolean_filter, len(rule.items), rule.id)
            and_only = node.op == "item" or (
                node.op == "and" and all(c.op == "item" for c in node.children)
            )
            self.rules[rule.id] = CompiledRule(rule, tuple(crit), node, and_only)
        if issues:
            raise ValidationFailed(
                f"{len(issues)} rule item{'s' if len(issues) > 1 else ''} cannot be "
                "evaluated; fix them and import again.",
                issues,
                code="rule_item_invalid",
            )
        self._index_territories()

    def _index_territories(self) -> None:
        terrs = sorted(self.rule_set.territories, key=lambda t: t.id)
        self.territory_ids = tuple(t.id for t in terrs)
        pos: dict[str, int] = {tid: i for i, tid in enumerate(self.territory_ids)}
        self.parent = [pos[t.parent_id] if t.parent_id else -1 for t in terrs]
        self.children: list[list[int]] = [[] for _ in terrs]
        for i, p in enumerate(self.parent):
            if p >= 0:
                self.children[p].append(i)
        catch = [i for i, t in enumerate(terrs) if t.is_catch_all]
        self.catch_all = catch[0] if catch else -1
        active = {r.id for r in self.rule_set.rules if r.is_active}
        self.passed_on: list[list[str]] = [[] for _ in terrs]
        self.local: list[list[str]] = [[] for _ in terrs]
        for link in sorted(
            self.rule_set.links, key=lambda k: (k.territory_id, k.rule_id)
        ):
            if link.rule_id not in active:
                continue
            t = pos[link.territory_id]
            target = self.passed_on[t] if link.apply_to_children else self.local[t]
            if link.rule_id not in target:
                target.append(link.rule_id)
        for t in range(len(terrs)):  # a rule both passed on and local is passed on
            self.local[t] = [r for r in self.local[t] if r not in self.passed_on[t]]
        # depth-first order, parents before children
        self.order: list[int] = []
        stack = [i for i in reversed(range(len(terrs))) if self.parent[i] < 0]
        while stack:
            i = stack.pop()
            self.order.append(i)
            stack.extend(reversed(self.children[i]))
        self.inherited: list[list[tuple[str, int]]] = [[] for _ in terrs]
        for i in self.order:
            p = self.parent[i]
            if p >= 0:
                self.inherited[i] = self.inherited[p] + [
                    (r, p) for r in self.passed_on[p]
                ]
        self.has_inherited = [bool(self.inherited[i]) for i in range(len(terrs))]
        #: Territories the rules decide: a non-empty rule set, or the catch-all.
        #: A rule run replaces their design associations; the others keep them.
        self.rule_driven: tuple[bool, ...] = tuple(
            bool(self.inherited[i] or self.passed_on[i] or self.local[i])
            or i == self.catch_all
            for i in range(len(terrs))
        )
        self.roots = [i for i in range(len(terrs)) if self.parent[i] < 0]
        self.sources: tuple[str | None, ...] = tuple(
            self._source(i) for i in range(len(terrs))
        )

    def _source(self, t: int) -> str | None:
        """The rule recorded on an assignment: the territory's first own rule."""
        own = sorted(self.local[t] + self.passed_on[t])
        if own:
            return own[0]
        return self.inherited[t][-1][0] if self.inherited[t] else None

    def rule_set_of(self, t: int) -> list[tuple[str, int]]:
        """Return territory ``t``'s rule set as ``(rule_id, owner territory)`` pairs."""
        own = [(r, t) for r in self.passed_on[t] + self.local[t]]
        return self.inherited[t] + own

    def evaluate_record(self, record: Mapping[str, Any]) -> list[int]:
        """Return the territories (indices, sorted) one account lands in.

        The scalar twin of :meth:`evaluate` for a single changed account:
        it walks only the branches whose inherited rules the account passes.
        ``record`` maps field names to raw values (``None``/blank/NaN = blank).
        """
        cache: dict[tuple[object, ...], bool] = {}
        norm: dict[str, str | float | None] = {}
        folded: dict[str, str] = {}

        def value(name: str) -> str | float | None:
            if name in norm:
                return norm[name]
            raw = record.get(name)
            if raw is None and name.casefold().endswith("__c"):
                # a custom field spelled another way in the record
                if not folded:
                    folded.update(
                        (k.casefold(), k) for k in sorted(record, reverse=True)
                    )
                raw = record.get(folded.get(name.casefold(), name))
            out: str | float | None
            if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                out = None
            elif self.kinds.get(name) is FieldKind.NUMBER:
                out = float(raw)
                out = None if math.isnan(out) else out
            else:
                text = normalise_text(str(raw))
                out = text or None
            norm[name] = out
            return out

        def item(cc: CompiledCriterion) -> bool:
            hit = cache.get(cc.key)
            if hit is None:
                v = value(cc.criterion.field)
                if v is None:
                    hit = cc.is_negative
                elif isinstance(v, float):
                    hit = cc.test_number(v)
                else:
                    hit = cc.test_text(v)
                cache[cc.key] = hit
            return hit

        def rule(rid: str) -> bool:
            cr = self.rules[rid]
            if cr.and_only:
                return all(item(cc) for cc in cr.criteria)
            return evaluate_filter(cr.filter, lambda i: item(cr.criteria[i - 1]), _BOOL)

        matched: list[int] = []
        stack = list(reversed(self.roots))
        while stack:
            t = stack.pop()
            if not all(rule(r) for r in self.passed_on[t]):
                continue
            stack.extend(reversed(self.children[t]))
            if t == self.catch_all:
                continue
            if not (self.has_inherited[t] or self.passed_on[t] or self.local[t]):
                continue
            if all(rule(r) for r in self.local[t]):
                matched.append(t)
        shadowed: set[int] = set()
        for t in matched:
            p = self.parent[t]
            while p >= 0 and p not in shadowed:
                shadowed.add(p)
                p = self.parent[p]
        final = [t for t in matched if t not in shadowed]
        if (
            not matched
            and self.catch_all >= 0
            and all(rule(r) for r, _ in self.rule_set_of(self.catch_all))
        ):
            final.append(self.catch_all)
        return sorted(final)

    def evaluate(self, table: AccountTable, rows: Index | None = None) -> Evaluation:
        """Evaluate every territory on ``table`` (or only on ``rows`` of it)."""
        run = _Run(self, table)
        start: Index | None = None if rows is None else np.unique(rows.astype(np.intp))
        return run.evaluate(start)


class _Run:
    """One evaluation over one table, with its caches."""

    def __init__(self, engine: RuleEngine, table: AccountTable) -> None:
        self.engine = engine
        self.table = table
        self.n = table.n_accounts
        self.luts: dict[tuple[object, ...], Mask] = {}
        self.full: dict[tuple[object, ...], Index] = {}

    # --- one criterion -------------------------------------------------
    def lut(self, cc: CompiledCriterion, col: TextColumn) -> Mask:
        """Answer ``cc`` for each category of ``col``; the last entry is for blanks."""
        hit = self.luts.get(cc.key)
        if hit is not None:
            return hit
        cats = col.categories
        n_cat = len(cats)
        op = cc.operator
        out = np.zeros(n_cat + 1, dtype=np.bool_)
        if op in (Operator.EQUALS, Operator.NOT_EQUAL, Operator.IN_TABLE):
            if n_cat < len(cc.equal_values):
                for pos, c in enumerate(cats.tolist()):
                    if c in cc.equal_values:
                        out[pos] = True
            elif len(cc.equal_values) * 8 < n_cat:
                # a category never ends in NUL (NumPy strings cannot hold it)
                wanted = np.array(
                    sorted(v for v in cc.equal_values if not v.endswith("\x00")),
                    dtype=np.str_,
                )
                at = np.searchsorted(cats, wanted)
                inside = at < n_cat
                hit = at[inside][cats[at[inside]] == wanted[inside]]
                out[hit] = True
            else:
                for v in cc.equal_values:
                    code = col.lookup.get(v)
                    if code is not None:
                        out[code] = True
            if op is Operator.IN_TABLE and cc.kind is FieldKind.POSTAL:
                wanted_zips = [
                    int(v) for v in cc.equal_values if len(v) == 5 and v.isdigit()
                ]
                zips = col.zips()
                out[:n_cat] |= np.isin(zips, np.array(wanted_zips, dtype=np.int64)) & (
                    zips >= 0
                )
            if op is Operator.NOT_EQUAL:
                out[:n_cat] = ~out[:n_cat]
        elif op is Operator.STARTS_WITH:
            for prefix in cc.texts:
                lo = int(np.searchsorted(cats, prefix, side="left"))
                hi = int(np.searchsorted(cats, prefix + "\U0010ffff", side="left"))
                out[lo:hi] = True
        elif op in (Operator.CONTAINS, Operator.NOT_CONTAIN) and n_cat:
            for t in cc.texts:
                out[:n_cat] |= np.strings.find(cats, t) >= 0
            if op is Operator.NOT_CONTAIN:
                out[:n_cat] = ~out[:n_cat]
        elif op is Operator.IS_NOT_NULL:
            out[:n_cat] = True
        elif op is Operator.IS_NULL:
            pass
        elif cc.kind is FieldKind.POSTAL and cc.ranges:
            zips = col.zips().astype(np.float64)
            ok = zips >= 0
            acc = np.zeros(n_cat, dtype=np.bool_)
            for lo_b, hi_b, lo_in, hi_in in cc.ranges:
                above = zips >= lo_b if lo_in else zips > lo_b  # type: ignore[operator]
                below = zips <= hi_b if hi_in else zips < hi_b  # type: ignore[operator]
                acc |= above & below
            out[:n_cat] = acc & ok
        else:
            out[:n_cat] = np.fromiter(
                (cc.test_text(c) for c in cats.tolist()), dtype=np.bool_, count=n_cat
            )
        out[n_cat] = cc.is_negative
        self.luts[cc.key] = out
        return out

    def mask(self, cc: CompiledCriterion, idx: Index | None) -> Mask:
        """Answer ``cc`` for the accounts ``idx`` (all when ``None``)."""
        col = self.table.columns.get(cc.criterion.field)
        size = self.n if idx is None else len(idx)
        if col is None:  # a field no account has: every value is blank
            result: Mask = np.full(size, cc.is_negative, dtype=np.bool_)
        elif isinstance(col, NumberColumn):
            vals = col.values if idx is None else col.values[idx]
            result = _number_mask(cc, vals)
        else:
            lut = self.lut(cc, col)
            codes = col.codes if idx is None else col.codes[idx]
            result = lut[codes]
        return result

    def select_full(self, cc: CompiledCriterion) -> Index:
        """Return all rows matching ``cc``, via posting lists when selective."""
        hit = self.full.get(cc.key)
        if hit is not None:
            return hit
        col = self.table.columns.get(cc.criterion.field)
        result: Index | None = None
        if isinstance(col, TextColumn) and not cc.is_negative:
            lut = self.lut(cc, col)
            codes = np.flatnonzero(lut[:-1])
            order, starts = col.postings()
            sizes = starts[codes + 2] - starts[codes + 1]
            if int(sizes.sum()) * 8 < self.n:
                if len(codes) == 0:
                    result = _EMPTY
                else:
                    parts = [
                        order[starts[c + 1] : starts[c + 2]] for c in codes.tolist()
                    ]
                    result = np.sort(np.concatenate(parts))
        if result is None:
            result = np.flatnonzero(self.mask(cc, None)).astype(np.intp)
        self.full[cc.key] = result
        return result

    # --- one rule -------------------------------------------------------
    def apply_rule(self, rule: CompiledRule, idx: Index | None) -> Index:
        """Return the rows of ``idx`` (all when ``None``) that satisfy ``rule``."""
        crit = rule.criteria
        if rule.and_only:
            rest = list(crit)
            cur = idx
            if cur is None:
                first = min(rest, key=self._estimate)
                rest.remove(first)
                cur = self.select_full(first)
            for cc in rest:
                if len(cur) == 0:
                    break
                cur = cur[self.mask(cc, cur)]
            return cur
        ops: FilterOps[Mask] = FilterOps(
            np.logical_and,
            np.logical_or,
            np.logical_not,
            lambda: np.ones(self.n if idx is None else len(idx), dtype=np.bool_),
        )
        m = evaluate_filter(rule.filter, lambda i: self.mask(crit[i - 1], idx), ops)
        return np.flatnonzero(m).astype(np.intp) if idx is None else idx[m]

    def _estimate(self, cc: CompiledCriterion) -> int:
        col = self.table.columns.get(cc.criterion.field)
        if isinstance(col, TextColumn) and not cc.is_negative:
            if cc.operator in (Operator.EQUALS, Operator.IN_TABLE):
                return len(cc.equal_values)
            return self.n // 2
        return self.n

    # --- the hierarchy -------------------------------------------------
    def evaluate(self, start: Index | None) -> Evaluation:
        eng = self.engine
        n_t = len(eng.territory_ids)
        gate: list[Index | None] = [start] * n_t
        matched: list[Index] = [_EMPTY] * n_t
        has_set = [False] * n_t
        for t in eng.order:
            p = eng.parent[t]
            if p >= 0:
                has_set[t] = has_set[p] or bool(eng.passed_on[p])
            cur = gate[t]
            if cur is not None and len(cur) == 0:
                for c in eng.children[t]:
                    gate[c] = _EMPTY
                continue
            for rid in eng.passed_on[t]:
                cur = self.apply_rule(eng.rules[rid], cur)
                if len(cur) == 0:
                    break
            for c in eng.children[t]:
                gate[c] = cur
            if t == eng.catch_all:
                continue  # receives its accounts after every other territory
            if not (has_set[t] or eng.passed_on[t] or eng.local[t]):
                continue  # an empty rule set receives nothing
            for rid in eng.local[t]:
                if cur is not None and len(cur) == 0:
                    break
                cur = self.apply_rule(eng.rules[rid], cur)
            matched[t] = np.arange(self.n, dtype=np.intp) if cur is None else cur
        final = self._lowest(matched)
        caught = _EMPTY
        if eng.catch_all >= 0:
            caught = self._catch_all(matched, start)
            final[eng.catch_all] = caught
        nonempty = [i for i, f in enumerate(final) if len(f)]
        rows = np.concatenate([final[i] for i in nonempty] + [_EMPTY])
        terr = np.repeat(
            np.array(nonempty, dtype=np.intp),
            np.array([len(final[i]) for i in nonempty], dtype=np.intp),
        )
        order = np.lexsort((terr, rows))
        return Evaluation(
            eng.territory_ids,
            rows[order],
            terr[order],
            tuple(matched),
            caught,
            eng.sources,
        )

    def _lowest(self, matched: list[Index]) -> list[Index]:
        """Keep each account only in the lowest matching territory of a branch."""
        eng = self.engine
        below: list[list[Index]] = [[] for _ in matched]
        final = list(matched)
        scratch = np.zeros(self.n, dtype=np.bool_)
        for t in reversed(eng.order):
            lower = below[t]
            if lower and len(matched[t]):
                for arr in lower:
                    scratch[arr] = True
                final[t] = matched[t][~scratch[matched[t]]]
                for arr in lower:
                    scratch[arr] = False
            p = eng.parent[t]
            if p >= 0:
                if len(matched[t]):
                    below[p].append(matched[t])
                below[p].extend(lower)
        return final

    def _catch_all(self, matched: list[Index], start: Index | None) -> Index:
        eng = self.engine
        ca = eng.catch_all
        covered = np.zeros(self.n, dtype=np.bool_)
        for t, arr in enumerate(matched):
            if t != ca:
                covered[arr] = True
        pool = np.flatnonzero(~covered).astype(np.intp)
        if start is not None:
            pool = np.intersect1d(pool, start, assume_unique=True)
        for rid, _owner in eng.rule_set_of(ca):
            pool = self.apply_rule(eng.rules[rid], pool)
        return pool


def _number_mask(cc: CompiledCriterion, vals: npt.NDArray[np.float64]) -> Mask:
    blank = np.isnan(vals)
    op = cc.operator
    if op is Operator.IS_NULL:
        return blank
    if op is Operator.IS_NOT_NULL:
        return ~blank
    if op in (Operator.EQUALS, Operator.NOT_EQUAL):
        hit = np.isin(vals, np.array(cc.numbers, dtype=np.float64))
        return (
            hit if op is Operator.EQUALS else ~hit
        )  # NaN is never in, so blank passes
    if op is Operator.IN_TABLE:
        nums = np.array(sorted(float(v) for v in cc.equal_values), dtype=np.float64)
        return np.isin(vals, nums)
    out = np.zeros(len(vals), dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        for lo, hi, lo_in, hi_in in cc.ranges:
            above = vals >= lo if lo_in else vals > lo  # type: ignore[operator]
            below = vals <= hi if hi_in else vals < hi  # type: ignore[operator]
            out |= above & below
    if op in NEGATIVE_OPERATORS:  # not reached for numbers; kept for clarity
        out |= blank
    return out
