"""Staffing: match reps to territories, one owner each, and store the result.

The cost of rep *r* owning territory *t* is

``distance_km(r's home, t's centre) + continuity_km × accounts r would lose``

where the accounts *r* would lose are those *r* owns in the source model
(the active model, or the model itself when it is the active one) that are
not in *t*. A pair is allowed only when *r*'s workload in *t* fits *r*'s
capacity with the stated slack; workload measures travel from *r*'s home:
the call hours of *t* plus, per visit, the distance from home to the
account estimated as ``sqrt(D² + d²)`` — ``D`` home to centre, ``d`` centre
to account — the root-mean-square distance over the directions the account
may lie in (exact when the rep lives at the centre, where it equals the
sizing workload). Locked pairs are kept whatever they cost. The optimum
comes from :func:`territory.metrics.allocation.assign_owners`; territories
left without an owner are reported as vacancies and reps left without a
territory as surplus, never hidden.

Overlays and managers of the source model are carried beside the owners
(same territory ids, roles and dates); a manager on a parent covers all its
descendants. Writing ends the owner memberships that change the day before
the new ones start, inserts the new ones, and audits each row, in one
transaction.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, and_, delete, insert, select, update

from territory.errors import InputError, Issue, ValidationFailed
from territory.metrics.allocation import OwnerAssignment, assign_owners
from territory.metrics.compactness import haversine_km
from territory.services.location import describe_unlocated
from territory.services.models import resolve_model, resolve_writable_model
from territory.services.plan import Plan, balance_peers, load_plan, read_frame
from territory.services.workload import (
    WorkloadConfig,
    account_measures,
    territory_centres,
)
from territory.storage import tables as t
from territory.storage.audit import AuditEntry, record_many

__all__ = ["StaffingResult", "read_locks", "staff_model"]


@dataclass(frozen=True, slots=True)
class StaffingResult:
    """The chosen owners, vacancies, surplus reps and what was written.

    ``owners``: ``territory_id, rep_id, distance_km, accounts_lost,
    workload_hours, capacity_hours, locked, changed``. ``vacancies``:
    ``territory_id, workload_hours, reason``. ``surplus``: ``rep_id, name``.
    ``carried``: overlay and manager rows added beside the owners.
    ``not_matched``: leaf territories of other types (overlays) that the
    matching left out; their people come from overlay memberships.
    ``distance_km`` is null where it is unknown (a territory without a
    located account, a rep without a home); ``notes`` says so.
    """

    model: str
    source_model: str | None
    start_date: date
    cost: float
    owners: pl.DataFrame
    vacancies: pl.DataFrame
    surplus: pl.DataFrame
    carried: pl.DataFrame
    inserted: int
    ended: int
    not_matched: tuple[str, ...] = ()
    #: Distances that are unknown and accounts without a location, counted.
    notes: tuple[str, ...] = ()


def read_locks(path: Path) -> list[tuple[str, str]]:
    """Read ``rep_id,territory_id`` pairs from a CSV file with that header.

    Raises
    ------
    InputError
        When the file is missing or lacks the two columns.
    """
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or ())
            if not {"rep_id", "territory_id"} <= fields:
                raise InputError(
                    f"{path}: the header must name rep_id and territory_id (found "
                    f"{', '.join(sorted(fields)) or 'nothing'}).",
                    code="staff_lock",
                )
            return [
                (row["rep_id"].strip(), row["territory_id"].strip()) for row in reader
            ]
    except FileNotFoundError as exc:
        raise InputError(
            f"Lock file {path} does not exist; check the path.", code="staff_lock"
        ) from exc


def _source_owners(
    conn: Connection, plan: Plan, source: str | None
) -> tuple[str | None, pl.DataFrame, pl.DataFrame]:
    """Return the source model id, its (rep, account) owner pairs, other roles."""
    if source is None:
        active = conn.execute(
            select(t.territory_model.c.id).where(t.territory_model.c.state == "active")
        ).scalar()
        src_id = active or plan.model.id
    else:
        src_id = resolve_model(conn, source).id
    m, aa = t.territory_membership, t.account_assignment
    pairs = read_frame(
        conn,
        select(m.c.rep_id, aa.c.account_id)
        .select_from(
            m.join(
                aa,
                and_(
                    aa.c.model_id == m.c.model_id, aa.c.territory_id == m.c.territory_id
                ),
            )
        )
        .where(
            (m.c.model_id == src_id) & (m.c.role == "owner") & m.c.end_date.is_(None)
        ),
        {"rep_id": pl.String, "account_id": pl.String},
    ).unique()
    others = read_frame(
        conn,
        select(m.c.territory_id, m.c.rep_id, m.c.role, m.c.start_date, m.c.end_date)
        .where((m.c.model_id == src_id) & (m.c.role != "owner"))
        .order_by(m.c.territory_id, m.c.role, m.c.rep_id),
        {
            "territory_id": pl.String,
            "rep_id": pl.String,
            "role": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )
    return src_id, pairs, others


def staff_model(
    engine: Engine,
    model: str | None,
    *,
    actor: str,
    config: WorkloadConfig | None = None,
    continuity_km: float = 1.0,
    capacity_slack: float = 0.1,
    locks: list[tuple[str, str]] | None = None,
    source_model: str | None = None,
    start: date | None = None,
    write: bool = True,
    all_types: bool = False,
) -> StaffingResult:
    """Choose an owner for every leaf territory of ``model`` and store them.

    Owners are matched to the leaves of the plan's main territory type (see
    :func:`~territory.services.plan.balance_peers`); overlay territories of
    other types cover the same accounts a second time and are staffed by
    overlay memberships, so they are listed in ``not_matched`` instead,
    unless ``all_types`` asks for an owner on every leaf.

    Raises
    ------
    InputError
        When a weight or the slack is negative.
    ValidationFailed
        When a locked pair names an unknown rep or territory.
    NotFound
        When the model does not exist.
    Conflict
        When writing to an archived model.
    """
    if not (math.isfinite(continuity_km) and continuity_km >= 0):
        raise InputError(
            f"Continuity weight {continuity_km} must be ≥ 0 (km per account lost).",
            code="staff_weight",
        )
    if not (math.isfinite(capacity_slack) and capacity_slack >= 0):
        raise InputError(
            f"Capacity slack {capacity_slack} must be ≥ 0 (0.1 = 10 % over).",
            code="staff_slack",
        )
    cfg = config or WorkloadConfig()
    day = start or date.today()
    with engine.begin() as conn:
        if write:
            resolve_writable_model(conn, model, action="take new owners")
        plan = load_plan(conn, model, potential_field=cfg.potential_field, as_of=day)
        acc = account_measures(conn, plan, cfg, travel_from="centre")
        src_id, src_pairs, others = _source_owners(conn, plan, source_model)
        terr = plan.territories
        is_leaf = terr["is_leaf"].to_numpy().astype(bool)
        matched = is_leaf if all_types else balance_peers(terr)
        leaves = np.flatnonzero(matched)
        leaf_ids = terr["territory_id"].to_numpy()[leaves].tolist()
        not_matched = tuple(
            terr["territory_id"].to_numpy()[np.flatnonzero(is_leaf & ~matched)].tolist()
        )
        leaf_pos = {int(k): j for j, k in enumerate(leaves.tolist())}
        managers = set(
            others.filter(pl.col("role") == "manager")["rep_id"].to_list()
        ) | set(
            plan.memberships.filter(pl.col("role") == "manager")["rep_id"].to_list()
        )
        reps = plan.reps.filter(
            pl.col("active").fill_null(True) & ~pl.col("rep_id").is_in(sorted(managers))
        )
        rep_ids = reps["rep_id"].to_list()
        n_r, n_t = len(rep_ids), len(leaf_ids)
        # distances home -> centre (unknown home: the median distance)
        c_lat, c_lon = territory_centres(plan)
        c_lat, c_lon = c_lat[leaves], c_lon[leaves]
        h_lat = reps["home_lat"].to_numpy()
        h_lon = reps["home_lon"].to_numpy()
        dist = haversine_km(
            h_lat[:, None], h_lon[:, None], c_lat[None, :], c_lon[None, :]
        )
        known_dist = np.asarray(dist).reshape(n_r, n_t)
        # An unknown distance (no located account, or no home) is never 0 km:
        # the cost takes the median of the known ones and the result says so.
        known = np.isfinite(known_dist)
        fill = float(np.median(known_dist[known])) if known.any() else 0.0
        dist = np.where(known, known_dist, fill)
        notes = _distance_notes(
            leaf_ids, rep_ids, np.isfinite(c_lat) & np.isfinite(c_lon), h_lat, h_lon
        )
        unlocated = describe_unlocated(
            acc.filter(pl.col("t_idx").is_in(leaves.tolist())),
            "the territory centres and travel",
        )
        if unlocated:
            notes.append(unlocated)
        # workload of rep r in territory t, travel from r's home
        idx = acc["t_idx"].to_numpy()
        visits = _visits(acc, cfg)
        n = plan.n_territories
        call_h = np.bincount(idx, weights=acc["call_hours"].to_numpy(), minlength=n)
        travel = cfg.workload.travel
        trip = 2.0 if travel.round_trip else 1.0
        work = call_h[leaves][None, :] + trip / travel.speed_kmh * _home_travel_km(
            dist,
            idx,
            visits,
            acc["travel_km"].to_numpy(),
            leaves,
            travel.max_one_way_km,
        )
        cap = reps["capacity"].fill_null(cfg.workload.capacity_hours).to_numpy()
        allowed = work <= cap[:, None] * (1.0 + capacity_slack) + 1e-9
        # continuity: accounts each rep owns now that territory t lacks
        lost = _accounts_lost(src_pairs, acc, rep_ids, leaf_pos)
        cost = dist + continuity_km * lost
        lock_idx = _lock_indices(locks or [], rep_ids, leaf_ids)
        result = assign_owners(cost, allowed, lock_idx)
        owners, vacancies, surplus = _frames(
            result, plan, reps, leaf_ids, known_dist, lost, work, cap, allowed, lock_idx
        )
        carried = _carry(plan, others, src_id)
        inserted = ended = 0
        if write:
            inserted, ended = _write(
                conn, plan, owners, carried, day, actor, set(leaf_ids)
            )
    return StaffingResult(
        model=plan.model.name,
        source_model=src_id,
        start_date=day,
        cost=result.cost,
        owners=owners,
        vacancies=vacancies,
        surplus=surplus,
        carried=carried,
        inserted=inserted,
        ended=ended,
        not_matched=not_matched,
        notes=tuple(notes),
    )


def _distance_notes(
    leaf_ids: list[str],
    rep_ids: list[str],
    centre_known: np.ndarray,
    home_lat: np.ndarray,
    home_lon: np.ndarray,
) -> list[str]:
    """Say which distances are unknown and what the matching used instead."""
    notes: list[str] = []
    no_centre = [tid for tid, ok in zip(leaf_ids, centre_known.tolist(), strict=True)
                 if not ok]  # fmt: skip
    no_home = [
        rid
        for rid, la, lo in zip(
            rep_ids, home_lat.tolist(), home_lon.tolist(), strict=True
        )
        if not (np.isfinite(la) and np.isfinite(lo))
    ]
    if (
        rep_ids
        and leaf_ids
        and (len(no_centre) == len(leaf_ids) or len(no_home) == len(rep_ids))
    ):
        notes.append(
            "no distance is known (no territory has a located account, or no rep "
            "has a home location), so the match weighs continuity and capacity "
            "only; give accounts coordinates or load their geo units, and reps "
            "their home"
        )
        return notes
    for ids, what in (
        (no_centre, "territories have no located account (their centre is unknown)"),
        (no_home, "reps have no home location"),
    ):
        if ids:
            notes.append(
                f"{len(ids):,} {what}: their distances count as the median known "
                f"distance and show as — ({', '.join(ids[:8])}"
                + (" ..." if len(ids) > 8 else "")
                + ")"
            )
    return notes


#: Distance classes (km from the centre) that summarise a territory's
#: accounts for travel from a rep's home: log-spaced, so near and far
#: accounts are both resolved; within a class the visit-weighted mean
#: distance stands for every account.
_TRAVEL_CLASSES = 32


def _home_travel_km(
    home_to_centre: np.ndarray,
    t_idx: np.ndarray,
    visits: np.ndarray,
    centre_km: np.ndarray,
    leaves: np.ndarray,
    max_one_way_km: float,
) -> np.ndarray:
    """Return visit-km of each rep (rows) working each leaf territory (columns).

    Each visit goes one way ``min(sqrt(D² + d²), max_one_way_km)``, with ``D``
    the rep's home-to-centre distance and ``d`` the account's distance from
    the centre (clipped like the sizing travel). Accounts are grouped into
    log-spaced distance classes per territory, so the cost is reps ×
    territories × classes whatever the number of accounts; with ``D = 0`` the
    result equals the sizing travel exactly.
    """
    n_t = leaves.size
    size_t = max(int(t_idx.max(initial=-1)), int(leaves.max(initial=-1))) + 1
    pos = np.full(size_t, -1, dtype=np.int64)
    pos[leaves] = np.arange(n_t)
    col = pos[t_idx]
    keep = col >= 0
    d = np.clip(np.nan_to_num(centre_km[keep], nan=0.0), 0.0, max_one_way_km)
    v, col = visits[keep], col[keep]
    edges = np.concatenate(
        [[0.0], np.geomspace(1.0, max(max_one_way_km, 1.0), _TRAVEL_CLASSES)]
    )
    cls = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, _TRAVEL_CLASSES - 1)
    flat = col * _TRAVEL_CLASSES + cls
    size = n_t * _TRAVEL_CLASSES
    mass = (
        np.bincount(flat, weights=v, minlength=size)
        .astype(np.float64)
        .reshape(n_t, _TRAVEL_CLASSES)
    )
    moment = (
        np.bincount(flat, weights=v * d, minlength=size)
        .astype(np.float64)
        .reshape(n_t, _TRAVEL_CLASSES)
    )
    mean_d = np.divide(moment, mass, out=np.zeros_like(moment), where=mass > 0)
    out = np.empty((home_to_centre.shape[0], n_t))
    for r in range(home_to_centre.shape[0]):
        leg = np.sqrt(home_to_centre[r][:, None] ** 2 + mean_d**2)
        out[r] = (mass * np.minimum(leg, max_one_way_km)).sum(axis=1)
    return out


def _visits(acc: pl.DataFrame, cfg: WorkloadConfig) -> np.ndarray:
    table = pl.DataFrame(
        {
            "segment": [s.name for s in cfg.workload.segments],
            "_v": [s.calls_per_year * s.in_person_share for s in cfg.workload.segments],
        }
    )
    return (
        acc.select("segment")
        .join(table, on="segment", how="left", maintain_order="left")["_v"]
        .to_numpy()
    )


def _accounts_lost(
    src_pairs: pl.DataFrame,
    acc: pl.DataFrame,
    rep_ids: list[str],
    leaf_pos: dict[int, int],
) -> np.ndarray:
    n_r, n_t = len(rep_ids), len(leaf_pos)
    lost = np.zeros((n_r, n_t))
    if src_pairs.height == 0 or n_r == 0:
        return lost
    rep_pos = pl.DataFrame({"rep_id": rep_ids, "r": np.arange(n_r, dtype=np.int64)})
    leaf_map = pl.DataFrame(
        {
            "t_idx": np.array(list(leaf_pos), dtype=np.int64),
            "j": np.array(list(leaf_pos.values()), dtype=np.int64),
        }
    )
    owned = src_pairs.join(rep_pos, on="rep_id", how="inner")
    total = owned.group_by("r").len()
    kept = (
        owned.join(acc.select("account_id", "t_idx").unique(), on="account_id")
        .join(leaf_map, on="t_idx", how="inner")
        .unique(subset=["r", "account_id", "j"])
        .group_by(["r", "j"])
        .len()
    )
    lost[total["r"].to_numpy(), :] = total["len"].to_numpy()[:, None]
    lost[kept["r"].to_numpy(), kept["j"].to_numpy()] -= kept["len"].to_numpy()
    return lost


def _lock_indices(
    locks: list[tuple[str, str]], rep_ids: list[str], leaf_ids: list[str]
) -> list[tuple[int, int]]:
    rpos = {r: i for i, r in enumerate(rep_ids)}
    tpos = {tid: j for j, tid in enumerate(leaf_ids)}
    issues = []
    out = []
    for k, (rep, tid) in enumerate(locks, start=2):
        if rep not in rpos:
            issues.append(
                Issue(
                    problem=f"rep '{rep}' is not an active rep who can own a territory",
                    hint="check the id, or that the rep is active and not a manager",
                    row=k,
                    field="rep_id",
                )
            )
        if tid not in tpos:
            issues.append(
                Issue(
                    problem=f"territory '{tid}' is not a leaf territory of the model",
                    hint="lock reps to territories at the bottom of the hierarchy",
                    row=k,
                    field="territory_id",
                )
            )
        if rep in rpos and tid in tpos:
            out.append((rpos[rep], tpos[tid]))
    if issues:
        raise ValidationFailed(
            f"{len(issues)} locked pair(s) cannot be kept.", issues, code="staff_lock"
        )
    return out


def _frames(
    result: OwnerAssignment,
    plan: Plan,
    reps: pl.DataFrame,
    leaf_ids: list[str],
    dist: np.ndarray,
    lost: np.ndarray,
    work: np.ndarray,
    cap: np.ndarray,
    allowed: np.ndarray,
    lock_idx: list[tuple[int, int]],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rep_ids = reps["rep_id"].to_list()
    current = plan.owners().join(
        plan.territories.select("t_idx", "territory_id"), on="t_idx"
    )
    cur = dict(
        zip(current["territory_id"].to_list(), current["rep_id"].to_list(), strict=True)
    )
    locked = set(lock_idx)
    free = np.zeros(len(rep_ids), dtype=bool)
    free[result.surplus] = True
    rows = []
    vac = []
    for j, r in enumerate(result.owner.tolist()):
        if r < 0:
            vac.append(
                _vacancy(leaf_ids[j], work[:, j], cap, allowed[:, j], free, rep_ids)
            )
            continue
        rows.append(
            (
                leaf_ids[j],
                rep_ids[r],
                float(dist[r, j]) if np.isfinite(dist[r, j]) else None,
                int(lost[r, j]),
                float(work[r, j]),
                float(cap[r]),
                (r, j) in locked,
                cur.get(leaf_ids[j]) != rep_ids[r],
            )
        )
    owners = pl.DataFrame(
        rows,
        schema={
            "territory_id": pl.String,
            "rep_id": pl.String,
            "distance_km": pl.Float64,
            "accounts_lost": pl.Int64,
            "workload_hours": pl.Float64,
            "capacity_hours": pl.Float64,
            "locked": pl.Boolean,
            "changed": pl.Boolean,
        },
        orient="row",
    )
    vacancies = pl.DataFrame(
        vac,
        schema={
            "territory_id": pl.String,
            "workload_hours": pl.Float64,
            "reason": pl.String,
            "closest_free_rep_id": pl.String,
            "closest_free_rep_hours": pl.Float64,
            "closest_free_rep_capacity": pl.Float64,
        },
        orient="row",
    )
    surplus = reps.select("rep_id", "name")[result.surplus.tolist()]
    return owners, vacancies, surplus


def _vacancy(
    territory_id: str,
    work: np.ndarray,
    cap: np.ndarray,
    allowed: np.ndarray,
    free: np.ndarray,
    rep_ids: list[str],
) -> tuple[str, float, str, str | None, float | None, float | None]:
    """Describe one vacant territory: why, and the free rep that comes closest.

    ``work`` and ``allowed`` are the territory's column (one entry per rep);
    ``free`` marks the reps left without a territory. The closest free rep is
    the one whose workload there is smallest relative to their capacity, so a
    planner can see by how much staffing it would overload them.
    """
    if work.shape[0] == 0:
        return (
            territory_id,
            float("nan"),
            "no active rep can own a territory",
            None,
            None,
            None,
        )
    best = float(work.min())
    if allowed.any():
        reason = "every rep who could take it within capacity owns another territory"
    else:
        who = int(np.argmin(work / np.maximum(cap, 1e-9)))
        reason = (
            f"no rep can carry its workload within capacity: the least is "
            f"{work[who]:,.0f} h from the home of {rep_ids[who]} "
            f"(capacity {cap[who]:,.0f} h)"
        )
    if not free.any():
        return territory_id, best, reason, None, None, None
    ratio = np.where(free, work / np.maximum(cap, 1e-9), np.inf)
    r = int(np.argmin(ratio))
    reason += (
        f"; closest free rep {rep_ids[r]} would carry {work[r]:,.0f} h "
        f"against {cap[r]:,.0f} h"
    )
    return territory_id, best, reason, rep_ids[r], float(work[r]), float(cap[r])


def _carry(plan: Plan, others: pl.DataFrame, src_id: str | None) -> pl.DataFrame:
    """Overlay and manager rows of the source to add to the model (if missing)."""
    if src_id == plan.model.id or others.height == 0:
        return others.head(0)
    known = set(plan.territories["territory_id"].to_list())
    existing = plan.memberships.join(
        plan.territories.select("t_idx", "territory_id"), on="t_idx"
    ).select("territory_id", "rep_id", "role")
    return others.filter(
        pl.col("territory_id").is_in(sorted(known)) & pl.col("end_date").is_null()
    ).join(existing, on=["territory_id", "rep_id", "role"], how="anti")


def _write(
    conn: Connection,
    plan: Plan,
    owners: pl.DataFrame,
    carried: pl.DataFrame,
    day: date,
    actor: str,
    staffed: set[str],
) -> tuple[int, int]:
    m = t.territory_membership
    mid = plan.model.id
    current = read_frame(
        conn,
        select(m.c.id, m.c.territory_id, m.c.rep_id, m.c.start_date)
        .where((m.c.model_id == mid) & (m.c.role == "owner") & m.c.end_date.is_(None))
        .order_by(m.c.id),
        {
            "id": pl.Int64,
            "territory_id": pl.String,
            "rep_id": pl.String,
            "start_date": pl.Date,
        },
    )
    new_owner = dict(
        zip(owners["territory_id"].to_list(), owners["rep_id"].to_list(), strict=True)
    )
    audit: list[AuditEntry] = []
    ended = 0
    keep: set[tuple[str, str]] = set()
    for row in current.to_dicts():
        tid, rid = row["territory_id"], row["rep_id"]
        if tid not in staffed:
            continue
        if new_owner.get(tid) == rid:
            keep.add((tid, rid))
            continue
        key = f"{tid}/{rid}/owner"
        started = row["start_date"]
        if started is not None and started >= day:
            conn.execute(delete(m).where(m.c.id == row["id"]))
            audit.append(
                AuditEntry(
                    "membership",
                    key,
                    "delete",
                    "staffing",
                    mid,
                    old_value={"start_date": str(started)},
                )
            )
        else:
            end = day - timedelta(days=1)
            conn.execute(update(m).where(m.c.id == row["id"]).values(end_date=end))
            audit.append(
                AuditEntry(
                    "membership",
                    key,
                    "update",
                    "staffing",
                    mid,
                    old_value={"end_date": None},
                    new_value={"end_date": str(end)},
                )
            )
        ended += 1
    rows = [
        {
            "model_id": mid,
            "territory_id": tid,
            "rep_id": rid,
            "role": "owner",
            "start_date": day,
            "end_date": None,
        }
        for tid, rid in sorted(new_owner.items())
        if (tid, rid) not in keep
    ]
    rows += [
        {
            "model_id": mid,
            "territory_id": r["territory_id"],
            "rep_id": r["rep_id"],
            "role": r["role"],
            "start_date": r["start_date"] or day,
            "end_date": None,
        }
        for r in carried.to_dicts()
    ]
    if rows:
        conn.execute(insert(m), rows)
    for r in rows:
        audit.append(
            AuditEntry(
                "membership",
                f"{r['territory_id']}/{r['rep_id']}/{r['role']}",
                "insert",
                "staffing",
                mid,
                new_value={"role": r["role"], "start_date": str(r["start_date"])},
                source="territory staff",
            )
        )
    record_many(conn, audit, actor=actor)
    return len(rows), ended
