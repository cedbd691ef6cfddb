"""What a rule run changes: a diff of integer keys, and its summaries.

Every account-territory pair is the key ``row * n_territories + territory``
(``row`` in the account table, ``territory`` in the engine's sorted
territories), so comparing a million new pairs with a million stored ones is
a few sorted-array operations in NumPy:

* the rules decide every territory whose rule set is non-empty (and the
  catch-all): there, rule-made *and* design pairs (cause ``rule``,
  ``design``) of accounts not excluded from realignment are replaced by
  what the rules give. Elsewhere only rule-made pairs move; manual and
  imported pairs, and every pair of an excluded account, never do;
* a replaceable pair the rules make again is kept, and updated when it was
  made by another rule or by the design (it becomes rule-made); one the
  rules no longer make is deleted; a pair the rules make that is not
  stored is inserted; any other stored pair the rules make keeps its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from territory.rules import AccountTable, Evaluation
from territory.rules.account_table import NumberColumn
from territory.rules.arrow import as_ints, text_array
from territory.storage.engine import sqlite_file_for_reading
from territory.storage.rule_run import (
    CAUSE_CODE_SQL,
    CAUSE_DESIGN,
    CAUSE_RULE,
    CurrentRows,
    read_current_rows,
)

__all__ = [
    "Changes",
    "Pairs",
    "StoredPairs",
    "TerritoryChange",
    "plan_changes",
    "read_current",
    "rep_changes",
    "stored_pairs",
    "territory_changes",
]

Index = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Pairs:
    """Account-territory pairs: table rows and territory indices, shape ``(n,)``.

    Sorted by row, then territory.
    """

    rows: Index
    territory: Index

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def of_keys(cls, keys: npt.NDArray[np.int64], n_territories: int) -> Pairs:
        """Decode sorted keys ``row * n_territories + territory``."""
        n_t = max(n_territories, 1)
        return cls((keys // n_t).astype(np.intp), (keys % n_t).astype(np.intp))

    def keys(self, n_territories: int) -> npt.NDArray[np.int64]:
        """Return each pair's key ``row * n_territories + territory``."""
        return self.rows.astype(np.int64) * max(n_territories, 1) + self.territory


@dataclass(frozen=True, slots=True)
class StoredPairs:
    """Stored assignments of the accounts in the table, as pairs.

    ``is_rule`` marks rule-made rows, ``is_design`` design rows;
    ``same_source`` rows whose stored source is the rule the engine records
    for that territory.
    """

    pairs: Pairs
    is_rule: npt.NDArray[np.bool_]
    same_source: npt.NDArray[np.bool_]
    is_design: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Changes:
    """What a rule run changes, as pairs (see :class:`Pairs`).

    ``sources[t]`` is the rule an assignment to territory ``t`` records.
    ``before`` and ``after`` are every assignment of the accounts in scope
    before and after the changes. ``adopted`` counts the updates that turn
    a design pair into a rule-made one (the rest re-source a rule pair).
    """

    territory_ids: tuple[str, ...]
    sources: tuple[str, ...]
    inserts: Pairs
    deletes: Pairs
    updates: Pairs
    before: Pairs
    after: Pairs
    adopted: int = 0

    @property
    def n_changes(self) -> int:
        """Number of changed associations (one audit row each)."""
        return len(self.inserts) + len(self.deletes) + len(self.updates)


@dataclass(frozen=True, slots=True)
class TerritoryChange:
    """Accounts gained and lost by one territory or rep, with revenue (USD)."""

    key: str
    name: str
    gained: int
    lost: int
    revenue_gained_usd: float
    revenue_lost_usd: float


def _empty() -> Pairs:
    return Pairs(np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp))


def stored_pairs(
    current: CurrentRows,
    account_ids: pa.Array,
    territory_ids: Sequence[str],
    sources: Sequence[str],
) -> StoredPairs:
    """Map stored rows onto the table's rows and the engine's territories.

    ``account_ids`` are the table's ids in row order. Rows of accounts not
    in the table are dropped; so are rows of territories the rule set does
    not know (none, while the store's foreign keys hold).
    """
    n = len(current.account_id)
    if n == 0:
        empty = np.zeros(0, dtype=np.bool_)
        return StoredPairs(_empty(), empty, empty, empty)
    rows = as_ints(pc.index_in(current.account_id, value_set=account_ids))
    terr = as_ints(
        pc.index_in(current.territory_id, value_set=text_array(territory_ids))
    )
    known = (rows >= 0) & (terr >= 0)
    r, k = rows[known], terr[known]
    # a source compared through its position among the distinct sources
    distinct = sorted(set(sources))
    position = {s: i for i, s in enumerate(distinct)}
    code = np.array([position[s] for s in sources] or [0], dtype=np.intp)
    stored_code = as_ints(pc.index_in(current.source, value_set=text_array(distinct)))
    same = stored_code[known] == code[k]
    cause = np.asarray(current.cause)[known]
    is_rule, is_design = cause == CAUSE_RULE, cause == CAUSE_DESIGN
    keys = r.astype(np.int64) * max(len(territory_ids), 1) + k
    if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):
        order = np.argsort(keys, kind="stable")
        r, k, same = r[order], k[order], same[order]
        is_rule, is_design = is_rule[order], is_design[order]
    return StoredPairs(Pairs(r, k), is_rule, same, is_design)


def _member(
    keys: npt.NDArray[np.int64], sorted_keys: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Whether each key is in ``sorted_keys`` (sorted, unique)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=np.bool_)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.asarray(sorted_keys[pos] == keys, dtype=np.bool_)


def read_current(
    conn: Connection, model_id: str, account_ids: Sequence[str] | None = None
) -> CurrentRows:
    """Read the model's stored assignments (of ``account_ids``, when given).

    A whole model on a SQLite file store whose transaction has written
    nothing is read natively (:mod:`territory.services.sqlite_reader`);
    otherwise :func:`territory.storage.rule_run.read_current_rows` reads it.
    """
    path = sqlite_file_for_reading(conn) if account_ids is None else None
    if path is not None:
        from territory.services.sqlite_reader import read_sqlite_frame

        frame = read_sqlite_frame(
            path,
            f"SELECT account_id, territory_id, {CAUSE_CODE_SQL}, "
            "coalesce(source, '') FROM account_assignment WHERE model_id = ? "
            "ORDER BY model_id, account_id, territory_id",
            (model_id,),
            {"a": pl.String, "t": pl.String, "r": pl.Int64, "s": pl.String},
        )
        if frame is not None:
            return CurrentRows(
                frame["a"].to_arrow().cast(pa.string()),
                frame["t"].to_arrow().cast(pa.string()),
                frame["r"].to_numpy().astype(np.int8),
                frame["s"].to_arrow().cast(pa.string()),
            )
    return read_current_rows(conn, model_id, account_ids)


def plan_changes(
    evaluation: Evaluation,
    excluded: npt.NDArray[np.bool_],
    stored: StoredPairs,
    rule_driven: Sequence[bool] | npt.NDArray[np.bool_] | None = None,
) -> Changes:
    """Compare the rules' result with the stored assignments of the same accounts.

    ``excluded`` (shape ``(n_accounts,)``) flags accounts excluded from
    realignment: the rules' pairs for them are dropped and their stored
    rows kept. ``rule_driven`` (shape ``(n_territories,)``,
    :attr:`territory.rules.RuleEngine.rule_driven`) flags the territories the
    rules decide, whose design pairs the run replaces; ``None``: none.
    """
    n_t = len(evaluation.territory_ids)
    sources = tuple(s if s is not None else "catch-all" for s in evaluation.sources)
    keep = ~excluded[evaluation.account_rows]
    new = Pairs(evaluation.account_rows[keep], evaluation.territory_index[keep])
    new_keys = new.keys(n_t)  # sorted: the evaluation is sorted by row, territory
    if len(stored.pairs) == 0:  # first run: everything is new
        return Changes(
            evaluation.territory_ids, sources, new, _empty(), _empty(), _empty(), new
        )
    old_keys = stored.pairs.keys(n_t)  # sorted too (see stored_pairs)
    have = _member(new_keys, old_keys)
    made = _member(old_keys, new_keys)
    replaceable = stored.is_rule
    if rule_driven is not None and stored.is_design.any():
        decided = np.asarray(rule_driven, dtype=np.bool_)[stored.pairs.territory]
        replaceable = replaceable | (stored.is_design & decided)
    movable = replaceable & ~excluded[stored.pairs.rows]
    inserts = new_keys[~have]
    deletes = old_keys[movable & ~made]
    adopt = movable & made & stored.is_design
    updates = old_keys[movable & made & (~stored.same_source | stored.is_design)]
    kept = old_keys[~(movable & ~made)]
    after = np.sort(np.concatenate((kept, inserts)))  # disjoint: no pair twice
    return Changes(
        evaluation.territory_ids,
        sources,
        Pairs.of_keys(inserts, n_t),
        Pairs.of_keys(deletes, n_t),
        Pairs.of_keys(updates, n_t),
        stored.pairs,
        Pairs.of_keys(after, n_t),
        int(adopt.sum()),
    )


def _revenue(table: AccountTable) -> npt.NDArray[np.float64]:
    col = table.columns.get("annual_revenue")
    if isinstance(col, NumberColumn):
        return np.nan_to_num(col.values, nan=0.0)
    return np.zeros(table.n_accounts, dtype=np.float64)


def _combine(
    keys: Sequence[str],
    labels: Mapping[str, str],
    gained: Pairs,
    lost: Pairs,
    revenue: npt.NDArray[np.float64],
) -> tuple[TerritoryChange, ...]:
    """Count pairs and sum revenue per group (the pairs' ``territory`` index)."""
    n = len(keys)
    out: list[TerritoryChange] = []
    gn = np.bincount(gained.territory, minlength=n) if len(gained) else np.zeros(n)
    ln = np.bincount(lost.territory, minlength=n) if len(lost) else np.zeros(n)
    gr = (
        np.bincount(gained.territory, weights=revenue[gained.rows], minlength=n)
        if len(gained)
        else np.zeros(n)
    )
    lr = (
        np.bincount(lost.territory, weights=revenue[lost.rows], minlength=n)
        if len(lost)
        else np.zeros(n)
    )
    for i in np.flatnonzero((gn > 0) | (ln > 0)).tolist():
        k = keys[i]
        out.append(
            TerritoryChange(
                k, labels.get(k, k), int(gn[i]), int(ln[i]), float(gr[i]), float(lr[i])
            )
        )
    return tuple(sorted(out, key=lambda c: c.key))


def territory_changes(
    changes: Changes, table: AccountTable, names: Mapping[str, str]
) -> tuple[TerritoryChange, ...]:
    """Accounts and revenue each territory gains and loses, sorted by id."""
    revenue = _revenue(table)
    return _combine(
        changes.territory_ids,
        names,
        changes.inserts,
        changes.deletes,
        revenue,
    )


def rep_changes(
    changes: Changes,
    table: AccountTable,
    memberships: Sequence[tuple[str, str]],
    rep_names: Mapping[str, str],
) -> tuple[TerritoryChange, ...]:
    """Accounts and revenue each rep gains and loses through their territories.

    ``memberships`` lists ``(territory_id, rep_id)``; an account moving
    between two territories of the same rep is no change for that rep.
    """
    pos = {tid: i for i, tid in enumerate(changes.territory_ids)}
    links = sorted({(pos[tk], r) for tk, r in memberships if tk in pos})
    if not links:
        return ()
    reps = sorted({r for _, r in links})
    rep_pos = {r: i for i, r in enumerate(reps)}
    link_t = np.array([tk for tk, _ in links], dtype=np.intp)
    link_r = np.array([rep_pos[r] for _, r in links], dtype=np.intp)
    starts = np.searchsorted(link_t, np.arange(len(changes.territory_ids) + 1))
    degree = np.diff(starts)

    def by_rep(p: Pairs) -> npt.NDArray[np.int64]:
        if not len(p):
            return np.empty(0, dtype=np.int64)
        count = degree[p.territory]
        rows = np.repeat(p.rows, count)
        first = np.repeat(starts[p.territory], count)
        offset = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
        rep = link_r[first + offset]
        return np.unique(rows.astype(np.int64) * len(reps) + rep)

    before, after = by_rep(changes.before), by_rep(changes.after)
    gained = Pairs.of_keys(np.setdiff1d(after, before, assume_unique=True), len(reps))
    lost = Pairs.of_keys(np.setdiff1d(before, after, assume_unique=True), len(reps))
    return _combine(reps, rep_names, gained, lost, _revenue(table))
