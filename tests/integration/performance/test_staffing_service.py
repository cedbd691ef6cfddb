"""Staffing on the hand-drawn plan (see conftest), on both stores.

Candidates are the active reps that manage nothing: P1, P2, P3, P4 (M1
manages D1). Leaves: T1, T2, T3, T4 with centres T1 (0, 0.5), T2 (0.5, 0),
T3 (5, 5), T4 (0, 11). Owned now: P1 {A1, A2}, P2 {A3, A1}, P3 {A5, A6}.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from performance_plan import SIMPLE
from territory.errors import ValidationFailed
from territory.metrics.compactness import haversine_km
from territory.services.staffing import read_locks, staff_model
from territory.storage import tables as t
from territory.storage.audit import read_audit

HOMES = {"P1": (0.0, 0.5), "P2": (1.0, 0.0), "P3": (0.0, 11.0), "P4": (0.0, 0.0)}
CENTRES = {"T1": (0.0, 0.5), "T2": (0.5, 0.0), "T3": (5.0, 5.0), "T4": (0.0, 11.0)}
ACCOUNTS = {"T1": {"A1", "A2"}, "T2": {"A3", "A1"}, "T3": {"A4"}, "T4": {"A5", "A6"}}
OWNED = {"P1": {"A1", "A2"}, "P2": {"A3", "A1"}, "P3": {"A5", "A6"}, "P4": set()}


def _cost(rep: str, tid: str) -> float:
    d = float(haversine_km(*HOMES[rep], *CENTRES[tid]))
    return d + 1.0 * len(OWNED[rep] - ACCOUNTS[tid])


def test_staffing_finds_the_brute_force_optimum(plan_engine: Engine) -> None:
    reps, terrs = sorted(HOMES), sorted(CENTRES)
    best = min(
        itertools.permutations(reps),
        key=lambda p: sum(_cost(r, tid) for r, tid in zip(p, terrs, strict=True)),
    )
    res = staff_model(
        plan_engine, "plan", actor="t", config=SIMPLE, capacity_slack=1.0, write=False
    )
    got = dict(zip(res.owners["territory_id"], res.owners["rep_id"], strict=True))
    assert got == dict(zip(terrs, best, strict=True))
    # by hand: P4 takes T2 (56 km) and P2 T3 (711 km + 2 accounts) beats
    # P2 keeping T2 (56 km) and P4 going to T3 (786 km)
    assert got == {"T1": "P1", "T2": "P4", "T3": "P2", "T4": "P3"}
    assert res.cost == pytest.approx(sum(_cost(r, tid) for tid, r in got.items()))
    lost = dict(zip(res.owners["rep_id"], res.owners["accounts_lost"], strict=True))
    assert lost == {"P1": 0, "P4": 0, "P2": 2, "P3": 0}
    assert res.vacancies.height == 0 and res.surplus.height == 0


def test_staffing_respects_capacity_and_reports_vacancies(plan_engine: Engine) -> None:
    # T2 and T4 need 20 h; capacity 16 h + 10 % = 17.6 h: nobody may take them
    res = staff_model(plan_engine, "plan", actor="t", config=SIMPLE, write=False)
    vac = dict(zip(res.vacancies["territory_id"], res.vacancies["reason"], strict=True))
    assert sorted(vac) == ["T2", "T4"]
    assert all("capacity" in r for r in vac.values())
    got = dict(zip(res.owners["territory_id"], res.owners["rep_id"], strict=True))
    assert got == {"T1": "P1", "T3": "P2"}
    assert sorted(res.surplus["rep_id"].to_list()) == ["P3", "P4"]
    # no visits, so every rep would carry the 20 call hours; the free reps P3
    # and P4 tie at 20 / 16 and the first in rep order is named
    closest = res.vacancies.sort("territory_id").select(
        "closest_free_rep_id", "closest_free_rep_hours", "closest_free_rep_capacity"
    )
    assert closest.rows() == [("P3", 20.0, 16.0), ("P3", 20.0, 16.0)]
    assert all(
        "closest free rep P3 would carry 20 h against 16 h" in r for r in vac.values()
    )


def test_staffing_keeps_locked_pairs(plan_engine: Engine, tmp_path: Path) -> None:
    f = tmp_path / "locks.csv"
    f.write_text("rep_id,territory_id\nP2,T2\n", encoding="utf-8")
    res = staff_model(
        plan_engine,
        "plan",
        actor="t",
        config=SIMPLE,
        capacity_slack=1.0,
        locks=read_locks(f),
        write=False,
    )
    got = dict(zip(res.owners["territory_id"], res.owners["rep_id"], strict=True))
    assert got["T2"] == "P2"
    assert res.owners.filter(res.owners["territory_id"] == "T2")["locked"][0]
    f.write_text("rep_id,territory_id\nM1,T2\nP1,D1\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        staff_model(plan_engine, "plan", actor="t", locks=read_locks(f), write=False)
    assert exc.value.code == "staff_lock"
    assert {i.field for i in exc.value.issues} == {"rep_id", "territory_id"}


def test_staffing_writes_memberships_with_dates_and_audit(plan_engine: Engine) -> None:
    day = date(2027, 1, 1)
    res = staff_model(
        plan_engine, "plan", actor="t", config=SIMPLE, capacity_slack=1.0, start=day
    )
    # T1 keeps P1; T2 (P2 -> P4) and T4 stays P3; T3 gets P2
    assert res.ended == 1 and res.inserted == 2
    m = t.territory_membership
    with plan_engine.connect() as conn:
        rows = conn.execute(
            select(
                m.c.territory_id, m.c.rep_id, m.c.role, m.c.start_date, m.c.end_date
            ).order_by(m.c.territory_id, m.c.role, m.c.rep_id)
        ).all()
        audit = read_audit(conn, entity="membership")
    owners_now = {(r[0], r[1]) for r in rows if r[2] == "owner" and r[4] is None}
    assert owners_now == {("T1", "P1"), ("T2", "P4"), ("T3", "P2"), ("T4", "P3")}
    ended = [r for r in rows if r[4] is not None]
    assert [(r[0], r[1], r[4]) for r in ended] == [("T2", "P2", date(2026, 12, 31))]
    # overlay and manager rows are untouched
    assert ("T1", "P4", "overlay") in {(r[0], r[1], r[2]) for r in rows}
    assert ("D1", "M1", "manager") in {(r[0], r[1], r[2]) for r in rows}
    assert sorted(a["action"] for a in audit) == ["insert", "insert", "update"]


def test_staffing_without_reps_reports_every_territory_vacant(engine: Engine) -> None:
    from sqlalchemy import insert

    from territory.services.models import create_model

    model = create_model(engine, "empty", actor="t")
    with engine.begin() as conn:
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model.id,
                    "id": tid,
                    "name": tid,
                    "parent_id": None,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                }
                for tid in ("X1", "X2")
            ],
        )
    res = staff_model(engine, "empty", actor="t", write=False)
    assert res.owners.height == 0
    assert (
        res.vacancies["reason"].to_list() == ["no active rep can own a territory"] * 2
    )


def _add_overlay(engine: Engine) -> None:
    """Add an industry-overlay leaf OV (its own type) holding A1 and A3."""
    with engine.begin() as conn:
        mid = conn.execute(
            select(t.territory_model.c.id).where(t.territory_model.c.name == "plan")
        ).scalar_one()
        conn.execute(
            t.territory_type.insert().values(
                id="overlay", name="Industry overlay", priority=20, description=""
            )
        )
        conn.execute(
            t.territory.insert().values(
                model_id=mid,
                id="OV",
                name="Overlay",
                type_id="overlay",
                parent_id=None,
                description="",
                is_catch_all=False,
                attributes={},
            )
        )
        conn.execute(
            t.account_assignment.insert(),
            [
                {
                    "model_id": mid,
                    "account_id": a,
                    "territory_id": "OV",
                    "cause": "rule",
                }
                for a in ("A1", "A3")
            ],
        )


def test_staffing_matches_owners_to_the_main_type_only(plan_engine: Engine) -> None:
    _add_overlay(plan_engine)
    res = staff_model(
        plan_engine, "plan", actor="t", config=SIMPLE, capacity_slack=1.0, write=False
    )
    # the overlay is one leaf of its type against four untyped leaves: it is
    # left out of the matching and named, and the four leaves get the same
    # owners as without it
    assert res.not_matched == ("OV",)
    got = dict(zip(res.owners["territory_id"], res.owners["rep_id"], strict=True))
    assert got == {"T1": "P1", "T2": "P4", "T3": "P2", "T4": "P3"}
    assert res.vacancies.height == 0


def test_staffing_all_types_gives_overlays_an_owner_too(plan_engine: Engine) -> None:
    _add_overlay(plan_engine)
    res = staff_model(
        plan_engine,
        "plan",
        actor="t",
        config=SIMPLE,
        capacity_slack=1.0,
        write=False,
        all_types=True,
    )
    assert res.not_matched == ()
    # five leaves, four reps: one leaf stays vacant, and every leaf is accounted
    staffed = set(res.owners["territory_id"].to_list())
    vacant = set(res.vacancies["territory_id"].to_list())
    assert staffed | vacant == {"T1", "T2", "T3", "T4", "OV"}
    assert len(staffed) == 4 and len(vacant) == 1


def test_staffing_refuses_to_write_into_an_archived_model(plan_engine: Engine) -> None:
    from territory.errors import Conflict
    from territory.services.models import archive_model

    archive_model(plan_engine, "plan", actor="t")
    with pytest.raises(Conflict, match="archived, so it cannot take new owners") as ei:
        staff_model(plan_engine, "plan", actor="t", config=SIMPLE, capacity_slack=1.0)
    assert ei.value.code == "model_archived"
    with plan_engine.connect() as conn:
        n = len(conn.execute(select(t.territory_membership.c.id)).all())
    # a dry run still shows what staffing would do, and wrote nothing
    res = staff_model(
        plan_engine, "plan", actor="t", config=SIMPLE, capacity_slack=1.0, write=False
    )
    assert res.owners.height == 4 and res.inserted == 0
    with plan_engine.connect() as conn:
        assert len(conn.execute(select(t.territory_membership.c.id)).all()) == n
