"""Run a model's assignment rules: diff, write, explain, and opportunity territories.

``assign_accounts`` loads the model's rule set and the accounts in scope,
evaluates the rules (``territory.rules``), and compares the result with the
stored assignments:

* only rule-made assignments (cause ``rule``) are ever removed or changed;
  manual, design and imported assignments survive every run untouched, and
  a rule match on a pair that already exists keeps the existing row;
* accounts flagged ``excluded_from_realign`` are left exactly as they are;
* a dry run returns the diff and writes nothing; a real run writes every
  change in one transaction with one ``audit_log`` row per changed
  association.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from territory.errors import InputError
from territory.rules import (
    AccountExplanation,
    AccountTable,
    FieldKind,
    RuleEngine,
    choose_opportunity_territory,
    explain,
)
from territory.services.models import resolve_model
from territory.services.plan import fetch_columns
from territory.storage import tables as t
from territory.storage.bulk import insert_columns
from territory.storage.repositories.rules import RuleRepository

__all__ = [
    "AssignmentDiff",
    "Changes",
    "OpportunityResult",
    "TerritoryChange",
    "assign_accounts",
    "assign_opportunities",
    "explain_account",
    "load_account_table",
    "plan_changes",
    "read_account_ids",
    "reassign_account",
    "write_changes",
]

_log = logging.getLogger(__name__)
_STANDARD = (
    "id",
    "name",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_postal_code",
    "billing_country",
    "industry",
    "annual_revenue",
    "employees",
    "latitude",
    "longitude",
    "county_id",
    "zip_id",
)
_NUMBERS = {"annual_revenue", "employees", "latitude", "longitude"}
#: Below this many rows, writes use plain statements (no bulk staging).
_SMALL = 2_000
ProgressCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class TerritoryChange:
    """Accounts gained and lost by one territory or rep, with revenue (USD)."""

    key: str
    name: str
    gained: int
    lost: int
    revenue_gained_usd: float
    revenue_lost_usd: float


@dataclass(frozen=True, slots=True)
class Changes:
    """What a rule run changes, as columns.

    ``inserts`` and ``deletes`` hold ``account_id, territory_id, source``;
    ``updates`` hold ``account_id, territory_id, old_source, source`` (a rule
    pair now made by another rule). ``after`` is every assignment of the
    accounts in scope once the changes are applied.
    """

    inserts: pl.DataFrame
    deletes: pl.DataFrame
    updates: pl.DataFrame
    before: pl.DataFrame
    after: pl.DataFrame

    @property
    def n_changes(self) -> int:
        """Number of changed associations (one audit row each)."""
        return self.inserts.height + self.deletes.height + self.updates.height


@dataclass(frozen=True, slots=True)
class AssignmentDiff:
    """The outcome of ``assign_accounts``: counts, per-territory and per-rep changes."""

    model_id: str
    dry_run: bool
    n_accounts: int
    n_excluded: int
    inserted: int
    deleted: int
    updated: int
    territories: tuple[TerritoryChange, ...]
    reps: tuple[TerritoryChange, ...]
    timings_s: dict[str, float]


def read_account_ids(path: str | Path) -> list[str]:
    """Read account ids: one per line, or a CSV with an ``id`` or ``account_id`` column.

    Raises
    ------
    InputError
        When the file is missing or holds no id.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"Account list {p} does not exist; give a file with one account id per "
            "line or a CSV with an id column.",
            code="account_list_missing",
        )
    lines = [ln.strip() for ln in p.read_text(encoding="utf-8-sig").splitlines()]
    lines = [ln for ln in lines if ln]
    if lines and "," in lines[0]:
        header = [h.strip().lower() for h in lines[0].split(",")]
        col = next((i for i, h in enumerate(header) if h in ("id", "account_id")), None)
        if col is None:
            raise InputError(
                f"{p.name} has no id or account_id column; name the column of "
                "account ids 'id'.",
                code="account_list_column",
            )
        ids = [ln.split(",")[col].strip() for ln in lines[1:]]
    elif lines and lines[0].lower() in ("id", "account_id"):
        ids = lines[1:]
    else:
        ids = lines
    ids = sorted({i for i in ids if i})
    if not ids:
        raise InputError(f"{p.name} lists no account id.", code="account_list_empty")
    return ids


def load_account_table(
    conn: Connection,
    *,
    account_ids: Sequence[str] | None = None,
    changed_since: datetime | None = None,
) -> tuple[AccountTable, npt.NDArray[np.bool_]]:
    """Read accounts into an :class:`AccountTable`, with their exclusion flags.

    Custom fields become columns (numbers when every value is a number).
    Without filters every account is read.
    """
    a = t.account
    stmt = select(
        *[a.c[c] for c in _STANDARD], a.c.excluded_from_realign, a.c.custom_fields
    ).order_by(a.c.id)
    if account_ids is not None:
        stmt = stmt.where(a.c.id.in_(list(account_ids)))
    if changed_since is not None:
        stmt = stmt.where(a.c.updated_at >= changed_since)
    cols = fetch_columns(conn, stmt)
    n_std = len(_STANDARD)
    data: dict[str, Any] = {}
    for name, values in zip(_STANDARD, cols[:n_std], strict=True):
        if name == "id":
            continue
        if name in _NUMBERS:
            data[name] = np.array(
                [np.nan if v is None else float(v) for v in values], dtype=np.float64
            )
        else:
            data[name] = np.array(values, dtype=object)
    excluded = np.array([bool(v) for v in cols[n_std]], dtype=np.bool_)
    customs: list[dict[str, Any]] = []
    for raw in cols[n_std + 1]:
        if raw is None:
            customs.append({})
        elif isinstance(raw, str):
            customs.append(json.loads(raw) or {})
        else:
            customs.append(dict(raw))
    kinds: dict[str, FieldKind] = {}
    for key in sorted({k for c in customs for k in c}):  # custom fields
        custom: list[Any] = [c.get(key) for c in customs]
        present = [v for v in custom if v is not None and v != ""]
        numeric = bool(present) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in present
        )
        kinds[key] = FieldKind.NUMBER if numeric else FieldKind.TEXT
        data[key] = custom
    table = AccountTable.from_columns(list(cols[0]), data, kinds)
    return table, excluded


def _current(
    conn: Connection, model_id: str, ids: Sequence[str] | None
) -> pl.DataFrame:
    aa = t.account_assignment
    stmt = select(aa.c.account_id, aa.c.territory_id, aa.c.cause, aa.c.source).where(
        aa.c.model_id == model_id
    )
    if ids is not None:
        stmt = stmt.where(aa.c.account_id.in_(list(ids)))
    cols = fetch_columns(conn, stmt)
    return pl.DataFrame(
        {
            "account_id": pl.Series(cols[0], dtype=pl.String),
            "territory_id": pl.Series(cols[1], dtype=pl.String),
            "cause": pl.Series(cols[2], dtype=pl.String),
            "source": pl.Series(cols[3], dtype=pl.String),
        }
    )


def plan_changes(
    engine: RuleEngine,
    table: AccountTable,
    excluded: npt.NDArray[np.bool_],
    current: pl.DataFrame,
) -> Changes:
    """Compare the rules' result on ``table`` with ``current`` assignments.

    ``current`` holds ``account_id, territory_id, cause, source`` rows; rows
    of accounts outside ``table`` are ignored.
    """
    ev = engine.evaluate(table)
    keep = ~excluded[ev.account_rows]
    rows = ev.account_rows[keep]
    terr = ev.territory_index[keep]
    sources = [s if s is not None else "catch-all" for s in ev.sources]
    ids = pl.Series("account_id", table.ids, dtype=pl.String)
    new = pl.DataFrame(
        {
            "account_id": ids.gather(rows),
            "territory_id": pl.Series(ev.territory_ids, dtype=pl.String).gather(terr),
            "source": pl.Series(sources, dtype=pl.String).gather(terr),
        }
    )
    key = ["account_id", "territory_id"]
    if current.height == 0:  # first run: everything is new
        nothing = new.clear()
        return Changes(
            new,
            nothing,
            nothing.with_columns(pl.col("source").alias("old_source")).select(
                *key, "old_source", "source"
            ),
            new.select(*key).clear(),
            new.select(*key),
        )
    in_scope = ids.filter(pl.Series(~excluded))
    before = current.filter(pl.col("account_id").is_in(ids.implode()))
    movable = before.filter(
        (pl.col("cause") == "rule") & pl.col("account_id").is_in(in_scope.implode())
    )
    inserts = new.join(before, on=key, how="anti")
    deletes = movable.join(new, on=key, how="anti").select(*key, "source")
    updates = (
        movable.join(new, on=key, how="inner", suffix="_new")
        .filter(pl.col("source").ne_missing(pl.col("source_new")))
        .select(
            *key,
            pl.col("source").alias("old_source"),
            pl.col("source_new").alias("source"),
        )
    )
    after = pl.concat(
        [
            before.join(deletes, on=key, how="anti").select(*key),
            inserts.select(*key),
        ]
    )
    return Changes(
        inserts, deletes.sort(key), updates.sort(key), before.select(*key), after
    )


def _json_of(col: pl.Series) -> pl.Series:
    """Encode each value as JSON text (``json.dumps`` once per distinct value)."""
    uniq = col.unique()
    lut = pl.DataFrame(
        {"k": uniq, "j": [json.dumps(x) for x in uniq.to_list()]},
        schema={"k": pl.String, "j": pl.String},
    )
    frame = pl.DataFrame({"k": col}, schema={"k": pl.String})
    return frame.join(lut, on="k", how="left", nulls_equal=True, maintain_order="left")[
        "j"
    ]


def _values(tids: pl.Series, sources: pl.Series) -> pl.Series:
    return (
        pl.DataFrame({"t": _json_of(tids), "s": _json_of(sources)})
        .select(
            pl.concat_str(
                pl.lit('{"territory_id": '),
                pl.col("t"),
                pl.lit(', "cause": "rule", "source": '),
                pl.col("s"),
                pl.lit("}"),
            )
        )
        .to_series()
    )


def _audit_columns(
    frame: pl.DataFrame, action: str, model_id: str, actor: str, at: datetime
) -> dict[str, Any]:
    """Audit columns for ``frame`` (account, territory, source, maybe old_source)."""
    tids, src = frame["territory_id"], frame["source"]
    old: pl.Series | None = None
    new: pl.Series | None = None
    if action == "insert":
        new = _values(tids, src)
    elif action == "delete":
        old = _values(tids, src)
    else:
        old, new = _values(tids, frame["old_source"]), _values(tids, src)
    return {
        "at": at,
        "actor": actor,
        "entity": "account_assignment",
        "entity_id": frame.select(
            pl.format("{}|{}", "account_id", "territory_id")
        ).to_series(),
        "model_id": model_id,
        "action": action,
        "old_value": old,
        "new_value": new,
        "cause": "rule",
        "source": src,
    }


def write_changes(
    conn: Connection, model_id: str, changes: Changes, *, actor: str
) -> dict[str, float]:
    """Apply ``changes`` on ``conn`` (the caller's transaction); return write timings.

    One ``audit_log`` row per inserted, deleted or re-sourced association.
    """
    import time

    aa = t.account_assignment
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ins, dels, ups = changes.inserts, changes.deletes, changes.updates
    if conn.dialect.name == "sqlite" and changes.n_changes >= _SMALL:
        # A large page cache keeps the primary-key B-trees in memory during a
        # big realignment (256 MB at most; SQLite's default is 2 MB).
        conn.exec_driver_sql("PRAGMA cache_size = -262144")
    if dels.height:
        conn.execute(
            delete(aa).where(
                (aa.c.model_id == model_id)
                & (aa.c.account_id == bindparam("a"))
                & (aa.c.territory_id == bindparam("t"))
            ),
            [
                {"a": a, "t": tt}
                for a, tt in dels.select("account_id", "territory_id").iter_rows()
            ],
        )
    if ups.height:
        conn.execute(
            update(aa)
            .where(
                (aa.c.model_id == model_id)
                & (aa.c.account_id == bindparam("a"))
                & (aa.c.territory_id == bindparam("t"))
            )
            .values(source=bindparam("s")),
            [
                {"a": a, "t": tt, "s": s}
                for a, tt, s in ups.select(
                    "account_id", "territory_id", "source"
                ).iter_rows()
            ],
        )
    if ins.height >= _SMALL:
        insert_columns(
            conn,
            aa,
            {
                "model_id": model_id,
                "account_id": ins["account_id"],
                "territory_id": ins["territory_id"],
                "cause": "rule",
                "source": ins["source"],
            },
        )
    elif ins.height:
        conn.execute(
            insert(aa),
            [
                {
                    "model_id": model_id,
                    "account_id": a,
                    "territory_id": tt,
                    "cause": "rule",
                    "source": s,
                }
                for a, tt, s in ins.iter_rows()
            ],
        )
    timings["write_assignments_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    at = datetime.now(UTC)
    for frame, action in ((ins, "insert"), (dels, "delete"), (ups, "update")):
        if not frame.height:
            continue
        cols = _audit_columns(frame, action, model_id, actor, at)
        if frame.height >= _SMALL:
            insert_columns(conn, t.audit_log, cols)
        else:
            rows = []
            for i in range(frame.height):
                row: dict[str, Any] = {}
                for k, v in cols.items():
                    if isinstance(v, pl.Series):
                        item = v[i]
                        is_json = k in ("old_value", "new_value")
                        row[k] = json.loads(item) if is_json else item
                    else:
                        row[k] = v
                rows.append(row)
            conn.execute(insert(t.audit_log), rows)
    timings["write_audit_s"] = time.perf_counter() - t0
    return timings


def reassign_account(
    conn: Connection,
    rule_engine: RuleEngine,
    model_id: str,
    record: Mapping[str, Any],
    *,
    actor: str,
    excluded: bool = False,
) -> int:
    """Re-evaluate one changed account and write its changes; return how many.

    The incremental path for a single account (an edit in a CRM, a webhook):
    ``rule_engine`` is compiled once and reused, ``record`` maps field names
    to the account's values (``id`` included). The same rules as a full run
    apply: only rule-made rows change, an excluded account is left alone, and
    each changed association gets one audit row, on ``conn``'s transaction.
    """
    if excluded:
        return 0
    account_id = str(record["id"])
    tids = rule_engine.territory_ids
    wanted = {
        tids[i]: (rule_engine.sources[i] or "catch-all")
        for i in rule_engine.evaluate_record(record)
    }
    aa = t.account_assignment
    current = conn.execute(
        select(aa.c.territory_id, aa.c.cause, aa.c.source).where(
            (aa.c.model_id == model_id) & (aa.c.account_id == account_id)
        )
    ).all()
    have = {tid for tid, _, _ in current}
    inserts = [(tid, src) for tid, src in sorted(wanted.items()) if tid not in have]
    deletes = [
        (tid, src)
        for tid, cause, src in current
        if cause == "rule" and tid not in wanted
    ]
    updates = [
        (tid, src, wanted[tid])
        for tid, cause, src in current
        if cause == "rule" and tid in wanted and wanted[tid] != src
    ]
    if not (inserts or deletes or updates):
        return 0
    key = (aa.c.model_id == model_id) & (aa.c.account_id == account_id)
    for tid, _src in deletes:
        conn.execute(delete(aa).where(key & (aa.c.territory_id == tid)))
    for tid, _old, new in updates:
        conn.execute(
            update(aa).where(key & (aa.c.territory_id == tid)).values(source=new)
        )
    if inserts:
        conn.execute(
            insert(aa),
            [
                {
                    "model_id": model_id,
                    "account_id": account_id,
                    "territory_id": tid,
                    "cause": "rule",
                    "source": src,
                }
                for tid, src in inserts
            ],
        )
    at = datetime.now(UTC)

    def audit(
        tid: str, action: str, old: str | None, new: str | None
    ) -> dict[str, Any]:
        def val(src: str | None) -> dict[str, Any] | None:
            if src is None:
                return None
            return {"territory_id": tid, "cause": "rule", "source": src}

        return {
            "at": at,
            "actor": actor,
            "entity": "account_assignment",
            "entity_id": f"{account_id}|{tid}",
            "model_id": model_id,
            "action": action,
            "old_value": val(old),
            "new_value": val(new),
            "cause": "rule",
            "source": new or old,
        }

    conn.execute(
        insert(t.audit_log),
        [audit(tid, "insert", None, src) for tid, src in inserts]
        + [audit(tid, "delete", src, None) for tid, src in deletes]
        + [audit(tid, "update", old, new) for tid, old, new in updates],
    )
    return len(inserts) + len(deletes) + len(updates)


def _summaries(
    conn: Connection, model_id: str, changes: Changes, table: AccountTable
) -> tuple[tuple[TerritoryChange, ...], tuple[TerritoryChange, ...]]:
    rev_col = table.columns.get("annual_revenue")
    revenue = pl.DataFrame(
        {
            "account_id": pl.Series(table.ids, dtype=pl.String),
            "revenue": rev_col.values
            if rev_col is not None and hasattr(rev_col, "values")
            else np.zeros(table.n_accounts),
        }
    ).with_columns(pl.col("revenue").fill_nan(0.0))
    tt = t.territory
    names = dict(
        conn.execute(select(tt.c.id, tt.c.name).where(tt.c.model_id == model_id)).all()
    )
    key = ["account_id", "territory_id"]
    gained = changes.after.join(changes.before, on=key, how="anti")
    lost = changes.before.join(changes.after, on=key, how="anti")

    def per(frame: pl.DataFrame, by: str) -> dict[str, tuple[int, float]]:
        if not frame.height:
            return {}
        agg = (
            frame.join(revenue, on="account_id", how="left")
            .group_by(by)
            .agg(pl.len().alias("n"), pl.col("revenue").fill_null(0.0).sum().alias("r"))
        )
        return {k: (int(n), float(r)) for k, n, r in agg.iter_rows()}

    def combine(
        g: dict[str, tuple[int, float]],
        lo: dict[str, tuple[int, float]],
        label: dict[str, str],
    ) -> tuple[TerritoryChange, ...]:
        out = []
        for k in sorted(set(g) | set(lo)):
            gn, gr = g.get(k, (0, 0.0))
            ln, lr = lo.get(k, (0, 0.0))
            out.append(TerritoryChange(k, label.get(k, k), gn, ln, gr, lr))
        return tuple(out)

    terr = combine(per(gained, "territory_id"), per(lost, "territory_id"), names)
    m = t.territory_membership
    mem = pl.DataFrame(
        list(
            conn.execute(
                select(m.c.territory_id, m.c.rep_id).where(m.c.model_id == model_id)
            ).all()
        ),
        schema={"territory_id": pl.String, "rep_id": pl.String},
        orient="row",
    ).unique()
    if not mem.height:
        return terr, ()
    rep_names = dict(conn.execute(select(t.rep.c.id, t.rep.c.name)).all())

    def by_rep(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.join(mem, on="territory_id", how="inner")
            .select("account_id", "rep_id")
            .unique()
        )

    rb, ra = by_rep(changes.before), by_rep(changes.after)
    reps = combine(
        per(ra.join(rb, on=["account_id", "rep_id"], how="anti"), "rep_id"),
        per(rb.join(ra, on=["account_id", "rep_id"], how="anti"), "rep_id"),
        rep_names,
    )
    return terr, reps


def assign_accounts(
    engine: Engine,
    model: str | None,
    *,
    actor: str,
    dry_run: bool = False,
    changed_since: datetime | None = None,
    account_ids: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
) -> AssignmentDiff:
    """Run the model's rules on the accounts in scope; write changes unless ``dry_run``.

    Raises
    ------
    NotFound
        When the model does not exist.
    ValidationFailed
        When the model's rules cannot be evaluated.
    """
    import time

    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    with engine.begin() as conn:
        m = resolve_model(conn, model)
        t0 = time.perf_counter()
        say("loading rules and accounts")
        rule_set = RuleRepository(conn).load(m.id)
        table, excluded = load_account_table(
            conn, account_ids=account_ids, changed_since=changed_since
        )
        scoped = (
            None
            if account_ids is None and changed_since is None
            else table.ids.tolist()
        )
        current = _current(conn, m.id, scoped)
        timings["load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say(f"evaluating {len(rule_set.rules)} rules on {table.n_accounts} accounts")
        rule_engine = RuleEngine(rule_set, table.kinds())
        changes = plan_changes(rule_engine, table, excluded, current)
        timings["evaluate_s"] = time.perf_counter() - t0
        terr, reps = _summaries(conn, m.id, changes, table)
        if not dry_run and changes.n_changes:
            say(f"writing {changes.n_changes} changes")
            timings.update(write_changes(conn, m.id, changes, actor=actor))
    return AssignmentDiff(
        m.id,
        dry_run,
        table.n_accounts,
        int(excluded.sum()),
        changes.inserts.height,
        changes.deletes.height,
        changes.updates.height,
        terr,
        reps,
        timings,
    )


def explain_account(
    engine: Engine, model: str | None, account_id: str
) -> AccountExplanation:
    """Explain where the model's rules put one account, and why.

    Raises
    ------
    NotFound
        When the model or the account does not exist.
    """
    with engine.connect() as conn:
        m = resolve_model(conn, model)
        rule_set = RuleRepository(conn).load(m.id)
        table, _ = load_account_table(conn, account_ids=[account_id])
    from territory.errors import NotFound

    if table.n_accounts == 0:
        raise NotFound(
            f"Account '{account_id}' does not exist; check the id (ids are case "
            "sensitive) or import the account.",
            code="account_not_found",
            details={"account_id": account_id},
        )
    return explain(RuleEngine(rule_set, table.kinds()), table, account_id)


@dataclass(frozen=True, slots=True)
class OpportunityResult:
    """How many opportunities changed territory, and how many were left alone."""

    model_id: str
    changed: int
    unchanged: int
    excluded: int
    ties: int


def assign_opportunities(
    engine: Engine, model: str | None, *, actor: str
) -> OpportunityResult:
    """Give each opportunity one territory of its account, by territory type priority.

    The territory whose type has the largest priority wins; a tie at the top,
    or an account without territories, gives none. Opportunities flagged
    excluded are left alone; a second run with no data change changes nothing.

    Raises
    ------
    NotFound
        When the model does not exist.
    """
    from territory.storage.audit import AuditEntry, record_many

    with engine.begin() as conn:
        m = resolve_model(conn, model)
        tt = t.territory
        type_of = dict(
            conn.execute(
                select(tt.c.id, tt.c.type_id).where(tt.c.model_id == m.id)
            ).all()
        )
        priority_of = dict(
            conn.execute(
                select(t.territory_type.c.id, t.territory_type.c.priority)
            ).all()
        )
        aa = t.account_assignment
        by_account: dict[str, list[str]] = {}
        for a, tid in conn.execute(
            select(aa.c.account_id, aa.c.territory_id).where(aa.c.model_id == m.id)
        ).all():
            by_account.setdefault(a, []).append(tid)
        o = t.opportunity
        rows = conn.execute(
            select(
                o.c.id,
                o.c.account_id,
                o.c.territory_id,
                o.c.territory_model_id,
                o.c.excluded_from_territory_assignment,
            ).order_by(o.c.id)
        ).all()
        changed, unchanged, excluded, ties = [], 0, 0, 0
        for oid, acc, cur_t, cur_m, is_excluded in rows:
            if is_excluded:
                excluded += 1
                continue
            choice = choose_opportunity_territory(
                by_account.get(acc, []), type_of, priority_of
            )
            if choice.territory_id is None and "tie" in choice.reason:
                ties += 1
            same_model = cur_m == m.id or (cur_m is None and cur_t is None)
            if choice.territory_id == cur_t and same_model:
                unchanged += 1
                continue
            changed.append((oid, cur_t, choice.territory_id, choice.reason))
        if changed:
            conn.execute(
                update(o)
                .where(o.c.id == bindparam("oid"))
                .values(territory_id=bindparam("tid"), territory_model_id=m.id),
                [{"oid": oid, "tid": new} for oid, _old, new, _why in changed],
            )
            record_many(
                conn,
                (
                    AuditEntry(
                        entity="opportunity",
                        entity_id=oid,
                        action="update",
                        cause="rule",
                        model_id=m.id,
                        old_value={"territory_id": old},
                        new_value={"territory_id": new, "reason": why},
                        source="territory-type-priority",
                    )
                    for oid, old, new, why in changed
                ),
                actor=actor,
            )
    return OpportunityResult(m.id, len(changed), unchanged, excluded, ties)
