"""Run a model's assignment rules: diff, write, explain, and opportunity territories.

``assign_accounts`` is the whole rule run behind ``territory assign``, in one
transaction: load the model's rule set, read the accounts in scope (only
the fields the rules name, see :mod:`territory.services.account_columns`),
compile and evaluate the rules (``territory.rules``), read the stored
assignments, diff (:mod:`territory.services.assignment_diff`) and write
(:mod:`territory.storage.rule_run`):

* the rules decide every territory whose rule set is non-empty (and the
  catch-all): there a run replaces the design and earlier rule-made
  assignments with what the rules give (a design row the rules make again
  becomes rule-made). Territories with an empty rule set keep their design
  rows; manual and imported assignments survive every run untouched, and a
  rule match on such a pair keeps the existing row;
* accounts flagged ``excluded_from_realign`` are left exactly as they are;
* a dry run returns the diff and writes nothing; a real run writes every
  change in one transaction, audited as one ``rule_run`` row in
  ``audit_log`` and one ``assignment_change`` row per changed association.

Each phase is timed (``AssignmentDiff.timings_s``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from territory.errors import InputError, NotFound
from territory.rules import (
    AccountExplanation,
    AccountTable,
    RuleEngine,
    StoredAssociation,
    choose_opportunity_territory,
    explain,
)
from territory.services.account_columns import read_accounts, rule_fields
from territory.services.assignment_diff import (
    Changes,
    StoredPairs,
    TerritoryChange,
    plan_changes,
    read_current,
    rep_changes,
    stored_pairs,
    territory_changes,
)
from territory.services.models import resolve_model, resolve_writable_model
from territory.storage import tables as t
from territory.storage.audit import record_rule_run
from territory.storage.repositories.rules import RuleRepository
from territory.storage.rule_run import RuleRunStore, StagedChanges, foreign_keys_off

__all__ = [
    "AssignmentDiff",
    "Changes",
    "OpportunityResult",
    "TerritoryChange",
    "assign_accounts",
    "assign_opportunities",
    "explain_account",
    "load_account_table",
    "read_account_ids",
    "reassign_account",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
ProgressCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class AssignmentDiff:
    """The outcome of ``assign_accounts``: counts, per-territory and per-rep changes.

    ``timings_s`` holds each phase's wall time in seconds, ``cpu_s`` the
    process CPU time it used: ``load_rules``, ``read_accounts``,
    ``compile``, ``evaluate``, ``read_assignments``, ``diff``,
    ``summaries`` and, for a real run with changes, ``stage``,
    ``write_audit``, ``write_assignments`` and ``commit``. The stored
    assignments are read while the rules are evaluated, so those two phases
    overlap (their CPU times are per thread). ``run_id`` is the run's
    ``audit_log`` id (``None`` when nothing was written). ``adopted`` counts
    the updates that turned a design assignment into a rule-made one.
    """

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
    cpu_s: dict[str, float] = field(default_factory=dict)
    run_id: int | None = None
    adopted: int = 0


class _Clock:
    """Wall and CPU time of consecutive phases."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._w, self._c = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        w, c = time.perf_counter(), time.process_time()
        self.record(name, w - self._w, c - self._c)
        self._w, self._c = w, c

    def record(self, name: str, wall: float, cpu: float) -> None:
        self.wall[name] = self.wall.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu

    def restart(self) -> None:
        self._w, self._c = time.perf_counter(), time.process_time()


def _timed(fn: Callable[[], _T]) -> tuple[_T, float, float]:
    """Run ``fn``; return its result, wall time and this thread's CPU time."""
    w, c = time.perf_counter(), time.thread_time()
    out = fn()
    return out, time.perf_counter() - w, time.thread_time() - c


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
    """Read accounts with every field into an :class:`AccountTable`, with exclusions.

    Custom fields become columns (numbers when every value is a number).
    Without filters every account is read.
    """
    stored = read_accounts(conn, account_ids=account_ids, changed_since=changed_since)
    return stored.table, stored.excluded


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
    apply: only rule-made rows, and design rows of the territories the rules
    decide, change; an excluded account is left alone; the changes are
    audited as a run of one account, on ``conn``'s transaction.

    Raises
    ------
    Conflict
        When the model is archived (``model_archived``).
    """
    if excluded:
        return 0
    resolve_writable_model(conn, model_id, action="run the rules")
    account_id = str(record["id"])
    tids = rule_engine.territory_ids
    wanted = {
        tids[i]: (rule_engine.sources[i] or "catch-all")
        for i in rule_engine.evaluate_record(record)
    }
    decided = {tid for tid, d in zip(tids, rule_engine.rule_driven, strict=True) if d}
    aa = t.account_assignment
    current = conn.execute(
        select(aa.c.territory_id, aa.c.cause, aa.c.source).where(
            (aa.c.model_id == model_id) & (aa.c.account_id == account_id)
        )
    ).all()
    movable = [
        (tid, cause, src)
        for tid, cause, src in current
        if cause == "rule" or (cause == "design" and tid in decided)
    ]
    have = {tid for tid, _, _ in current}
    inserts = [(tid, src) for tid, src in sorted(wanted.items()) if tid not in have]
    deletes = sorted(
        (tid, src, cause) for tid, cause, src in movable if tid not in wanted
    )
    updates = sorted(
        (tid, src, wanted[tid], cause)
        for tid, cause, src in movable
        if tid in wanted and (wanted[tid] != src or cause != "rule")
    )
    if not (inserts or deletes or updates):
        return 0
    key = (aa.c.model_id == model_id) & (aa.c.account_id == account_id)
    for tid, _src, _cause in deletes:
        conn.execute(delete(aa).where(key & (aa.c.territory_id == tid)))
    for tid, _old, new, _cause in updates:
        conn.execute(
            update(aa)
            .where(key & (aa.c.territory_id == tid))
            .values(cause="rule", source=new)
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
    run_id = record_rule_run(
        conn,
        model_id,
        _summary(1, len(inserts), len(deletes), len(updates)),
        actor=actor,
        at=datetime.now(UTC),
    )
    conn.execute(
        insert(t.assignment_change),
        [
            {
                "run_id": run_id,
                "account_id": account_id,
                "territory_id": tid,
                "action": action,
                "old_source": old,
                "new_source": new,
                "old_cause": cause,
            }
            for tid, action, old, new, cause in sorted(
                [(tid, "insert", None, src, None) for tid, src in inserts]
                + [(tid, "delete", src, None, c) for tid, src, c in deletes]
                + [(tid, "update", old, new, c) for tid, old, new, c in updates]
            )
        ],
    )
    return len(inserts) + len(deletes) + len(updates)


def _summary(
    n_accounts: int, inserted: int, deleted: int, updated: int
) -> dict[str, int]:
    return {
        "accounts": n_accounts,
        "inserted": inserted,
        "deleted": deleted,
        "updated": updated,
    }


def _summaries(
    conn: Connection, model_id: str, changes: Changes, table: AccountTable
) -> tuple[tuple[TerritoryChange, ...], tuple[TerritoryChange, ...]]:
    tt = t.territory
    names = dict(
        conn.execute(select(tt.c.id, tt.c.name).where(tt.c.model_id == model_id)).all()
    )
    terr = territory_changes(changes, table, names)
    m = t.territory_membership
    links = [
        (str(a), str(b))
        for a, b in conn.execute(
            select(m.c.territory_id, m.c.rep_id).where(m.c.model_id == model_id)
        ).all()
    ]
    if not links or not (len(changes.inserts) or len(changes.deletes)):
        return terr, ()
    rep_names = dict(conn.execute(select(t.rep.c.id, t.rep.c.name)).all())
    return terr, rep_changes(changes, table, links, rep_names)


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
    Conflict
        When a real run names an archived model (``model_archived``); a
        dry run works on archives.
    ValidationFailed
        When the model's rules cannot be evaluated.
    """
    say = progress or (lambda _msg: None)
    with engine.connect() as conn, foreign_keys_off(conn):
        trans = conn.begin()
        m = (
            resolve_model(conn, model)
            if dry_run
            else resolve_writable_model(conn, model, action="run the rules")
        )
        clock = _Clock()
        say("loading rules")
        rule_set = RuleRepository(conn).load(m.id)
        clock.lap("load_rules")
        say("reading accounts")
        fields = rule_fields(rule_set) | {"annual_revenue"}
        stored = read_accounts(
            conn, fields=fields, account_ids=account_ids, changed_since=changed_since
        )
        table, excluded = stored.table, stored.excluded
        clock.lap("read_accounts")
        rule_engine = RuleEngine(rule_set, table.kinds())
        clock.lap("compile")
        say(f"evaluating {len(rule_set.rules)} rules on {table.n_accounts} accounts")
        sources = [s if s is not None else "catch-all" for s in rule_engine.sources]
        in_scope = account_ids is not None or changed_since is not None
        scoped = table.ids.tolist() if in_scope else None

        def stored_now() -> StoredPairs:
            current = read_current(conn, m.id, scoped)
            return stored_pairs(
                current, stored.id_array, rule_engine.territory_ids, sources
            )

        # The stored assignments are read beside the evaluation, which does
        # not touch the connection: the read runs in native code (SQLite,
        # Arrow) and leaves the interpreter to the evaluation.
        with ThreadPoolExecutor(max_workers=1) as pool:
            reading = pool.submit(_timed, stored_now)
            evaluation, wall, cpu = _timed(lambda: rule_engine.evaluate(table))
            existing, r_wall, r_cpu = reading.result()
        clock.record("evaluate", wall, cpu)
        clock.record("read_assignments", r_wall, r_cpu)
        clock.restart()
        changes = plan_changes(evaluation, excluded, existing, rule_engine.rule_driven)
        clock.lap("diff")
        terr, reps = _summaries(conn, m.id, changes, table)
        clock.lap("summaries")
        run_id = None
        if not dry_run and changes.n_changes:
            say(f"writing {changes.n_changes} changes")
            run = RuleRunStore(conn, m.id, evaluation.territory_ids, sources)
            try:
                run_id = run.write(
                    StagedChanges(
                        table.ids,
                        stored.store_rows,
                        (changes.inserts.rows, changes.inserts.territory),
                        (changes.deletes.rows, changes.deletes.territory),
                        (changes.updates.rows, changes.updates.territory),
                    ),
                    actor=actor,
                    at=datetime.now(UTC),
                    summary=_summary(
                        table.n_accounts,
                        len(changes.inserts),
                        len(changes.deletes),
                        len(changes.updates),
                    ),
                    lap=clock.lap,
                )
                run.drop()
            finally:
                run.restore()  # on failure the rollback drops the staging tables
            clock.lap("write_assignments")
        trans.commit()
        if run_id is not None:
            clock.lap("commit")
    return AssignmentDiff(
        m.id,
        dry_run,
        table.n_accounts,
        int(excluded.sum()),
        len(changes.inserts),
        len(changes.deletes),
        len(changes.updates),
        terr,
        reps,
        {f"{k}_s": v for k, v in clock.wall.items()},
        {f"{k}_s": v for k, v in clock.cpu.items()},
        run_id,
        changes.adopted,
    )


def explain_account(
    engine: Engine, model: str | None, account_id: str
) -> AccountExplanation:
    """Explain where one account sits in the model, where the rules put it, and why.

    Starts from the account's stored associations (each with its cause) and
    its exclusion from realignment, then the rules' verdict on every
    territory and what the next rule run would do. Works on archives.

    Raises
    ------
    NotFound
        When the model or the account does not exist.
    """
    aa = t.account_assignment
    with engine.connect() as conn:
        m = resolve_model(conn, model)
        rule_set = RuleRepository(conn).load(m.id)
        table, excluded = load_account_table(conn, account_ids=[account_id])
        stored = [
            StoredAssociation(tid, cause, src)
            for tid, cause, src in conn.execute(
                select(aa.c.territory_id, aa.c.cause, aa.c.source)
                .where((aa.c.model_id == m.id) & (aa.c.account_id == account_id))
                .order_by(aa.c.territory_id)
            ).all()
        ]
    if table.n_accounts == 0:
        raise NotFound(
            f"Account '{account_id}' does not exist; check the id (ids are case "
            "sensitive) or import the account.",
            code="account_not_found",
            details={"account_id": account_id},
        )
    return explain(
        RuleEngine(rule_set, table.kinds()),
        table,
        account_id,
        stored=stored,
        excluded=bool(excluded[0]),
    )


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
    The territory is the opportunity's in this model only
    (``opportunity_territory``): other models keep their own.

    Raises
    ------
    NotFound
        When the model does not exist.
    Conflict
        When the model is archived (``model_archived``).
    """
    from territory.storage.audit import AuditEntry, record_many

    with engine.begin() as conn:
        m = resolve_writable_model(conn, model, action="route opportunities")
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
        ot = t.opportunity_territory
        current: dict[str, str] = dict(
            conn.execute(
                select(ot.c.opportunity_id, ot.c.territory_id).where(
                    ot.c.model_id == m.id
                )
            ).all()
        )
        o = t.opportunity
        rows = conn.execute(
            select(
                o.c.id, o.c.account_id, o.c.excluded_from_territory_assignment
            ).order_by(o.c.id)
        ).all()
        changed: list[tuple[str, str | None, str | None, str]] = []
        unchanged, excluded, ties = 0, 0, 0
        for oid, acc, is_excluded in rows:
            if is_excluded:
                excluded += 1
                continue
            choice = choose_opportunity_territory(
                by_account.get(acc, []), type_of, priority_of
            )
            if choice.territory_id is None and "tie" in choice.reason:
                ties += 1
            cur_t = current.get(oid)
            if choice.territory_id == cur_t:
                unchanged += 1
                continue
            changed.append((oid, cur_t, choice.territory_id, choice.reason))
        if changed:
            key = (ot.c.model_id == m.id) & (ot.c.opportunity_id == bindparam("oid"))
            gone = [{"oid": oid} for oid, old, _new, _why in changed if old is not None]
            if gone:
                conn.execute(delete(ot).where(key), gone)
            made = [
                {"model_id": m.id, "opportunity_id": oid, "territory_id": new}
                for oid, _old, new, _why in changed
                if new is not None
            ]
            if made:
                conn.execute(insert(ot), made)
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
