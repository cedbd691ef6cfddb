"""A tiny plan and a scenario in which exactly two units move.

Four counties in a row, each a 1° square (lon 0–4, lat 0–1)::

    model "plan":      | U1  U2 | U3  U4 |      T1 owner P1, T2 owner P2
                         T1  T1   T2  T2
    model "scenario":  | U1  U3'| U2' U4 |      U2 → T2, U3 → T1
                         T1  T2   T1  T2

(the scenario is a clone of the plan with U2 and U3 swapped). Accounts,
one row each, potential imported, sales in 2027, workload from
:data:`SIMPLE` (revenue ≥ 1 000 000 → 10 h, else 1 h; no travel):

=======  ====  ==========  =========  =====  ========
account  unit  revenue     potential  sales  workload
=======  ====  ==========  =========  =====  ========
A1       U1     2 000 000      100     10     10 h
A2       U2       500 000      200     20      1 h
A3       U3     3 000 000      300     30     10 h
A4       U4       100 000      400     40      1 h
A5       U4    10 000 000      500      0     10 h
=======  ====  ==========  =========  =====  ========

Totals: 5 accounts, potential 1 500, sales 100, workload 32 h. Moving U2
and U3 moves A2 (T1 → T2, P1 → P2) and A3 (T2 → T1, P2 → P1).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import shapely
from sqlalchemy import Engine, insert, update

from territory.metrics.load import Segment, SegmentRule, WorkloadModel
from territory.services.models import clone_model, create_model
from territory.services.workload import WorkloadConfig
from territory.storage import tables as t

SIMPLE = WorkloadConfig(
    workload=WorkloadModel(
        segments=(
            Segment("big", 10, 60, 0.0, SegmentRule(min_revenue=1e6)),
            Segment("small", 2, 30, 0.0),
        ),
        capacity_hours=16.0,
    )
)

UNITS = ["U1", "U2", "U3", "U4"]
ACCOUNTS = [
    # id, unit, revenue, potential, sales 2027
    ("A1", "U1", 2e6, 100.0, 10.0),
    ("A2", "U2", 5e5, 200.0, 20.0),
    ("A3", "U3", 3e6, 300.0, 30.0),
    ("A4", "U4", 1e5, 400.0, 40.0),
    ("A5", "U4", 1e7, 500.0, 0.0),
]
PLAN_TERRITORY = {"U1": "T1", "U2": "T1", "U3": "T2", "U4": "T2"}
SCENARIO_MOVES = {"U2": "T2", "U3": "T1"}


def build_scenario(engine: Engine) -> None:
    """Store the model ``plan`` and its clone ``scenario`` drawn above."""
    model = create_model(engine, "plan", actor="test")
    now = datetime.now(UTC)
    col = {u: k for k, u in enumerate(UNITS)}
    with engine.begin() as conn:
        conn.execute(
            insert(t.geo_unit),
            [
                {
                    "kind": "county",
                    "id": u,
                    "name": f"County {u}",
                    "state": "XX",
                    "centroid_lat": 0.5,
                    "centroid_lon": k + 0.5,
                    "geometry": shapely.to_wkb(shapely.box(k, 0.0, k + 1.0, 1.0)),
                }
                for u, k in col.items()
            ],
        )
        conn.execute(
            insert(t.geo_adjacency),
            [
                {"kind": "county", "contiguity": "queen", "a": a, "b": b}
                for x, y in zip(UNITS, UNITS[1:], strict=False)
                for a, b in ((x, y), (y, x))
            ],
        )
        conn.execute(
            insert(t.geo_unit_metric),
            [
                {"kind": "county", "unit_id": u, "metric": "population", "value": v}
                for u, v in zip(UNITS, [1000.0, 2000.0, 3000.0, 4000.0], strict=True)
            ],
        )
        conn.execute(
            insert(t.account),
            [
                {
                    "id": aid,
                    "name": f"Account {aid}",
                    "annual_revenue": rev,
                    "latitude": 0.5,
                    "longitude": col[unit] + 0.25 + 0.1 * k,
                    "county_id": unit,
                    "custom_fields": {"potential": pot},
                    "created_at": now,
                    "updated_at": now,
                }
                for k, (aid, unit, rev, pot, _s) in enumerate(ACCOUNTS)
            ],
        )
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model.id,
                    "id": tid,
                    "name": f"Territory {tid}",
                    "parent_id": None,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                }
                for tid in ("T1", "T2")
            ],
        )
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": model.id,
                    "unit_kind": "county",
                    "unit_id": u,
                    "territory_id": tid,
                    "cause": "design",
                }
                for u, tid in PLAN_TERRITORY.items()
            ],
        )
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": model.id,
                    "account_id": aid,
                    "territory_id": PLAN_TERRITORY[unit],
                    "cause": "design",
                }
                for aid, unit, _r, _p, _s in ACCOUNTS
            ],
        )
        conn.execute(
            insert(t.rep),
            [
                {"id": "P1", "name": "Pat One", "home_lat": 0.5, "home_lon": 1.0},
                {"id": "P2", "name": "Sam Two", "home_lat": 0.5, "home_lon": 3.0},
            ],
        )
        conn.execute(
            insert(t.territory_membership),
            [
                {
                    "model_id": model.id,
                    "territory_id": tid,
                    "rep_id": rid,
                    "role": "owner",
                    "start_date": date(2020, 1, 1),
                }
                for tid, rid in (("T1", "P1"), ("T2", "P2"))
            ],
        )
        conn.execute(
            insert(t.sales_history),
            [
                {"account_id": aid, "period": "2027", "amount": s}
                for aid, _u, _r, _p, s in ACCOUNTS
                if s
            ],
        )
        conn.execute(
            insert(t.quota),
            [
                {
                    "model_id": model.id,
                    "territory_id": tid,
                    "period": "2027",
                    "amount": a,
                }
                for tid, a in (("T1", 40.0), ("T2", 60.0))
            ],
        )
    scenario = clone_model(engine, "plan", "scenario", actor="test").model
    with engine.begin() as conn:
        for unit, tid in SCENARIO_MOVES.items():
            conn.execute(
                update(t.unit_assignment)
                .where(t.unit_assignment.c.model_id == scenario.id)
                .where(t.unit_assignment.c.unit_id == unit)
                .values(territory_id=tid, cause="manual")
            )
            for aid, u, _r, _p, _s in ACCOUNTS:
                if u == unit:
                    conn.execute(
                        update(t.account_assignment)
                        .where(t.account_assignment.c.model_id == scenario.id)
                        .where(t.account_assignment.c.account_id == aid)
                        .values(territory_id=tid, cause="manual")
                    )
