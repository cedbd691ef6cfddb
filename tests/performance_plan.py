"""A small plan drawn by hand, stored on both stores.

Model ``plan`` (three levels)::

    R1 ── D1 ── T1   A1, A2          owner P1, overlay P4
       │     └─ T2   A3, A1          owner P2
       │  (D1 manager M1)
       └─ D2 ── T3   A4              no owner (vacant)
    R2 ── T4         A5, A6          owner P3

A1 sits in T1 *and* T2, so parents must count it once. Every account has an
imported ``potential`` so the formula does not matter here:

=======  ==========  =========  ================  ===========
account  revenue     potential  location (lat,lon)  sales 2027
=======  ==========  =========  ================  ===========
A1       2 000 000   1 000      (0, 0)             100 + 50
A2         500 000     500      (0, 1)             0
A3       3 000 000   2 000      (1, 0)             200 (yearly row)
A4         100 000     100      (5, 5)             30
A5      10 000 000   3 000      (0, 10)            70
A6      10 000 000     400      (0, 12)            0
=======  ==========  =========  ================  ===========

Sales outside 2027: A1 999 in 2026, A5 5 in 2028-01. Quota rows for 2027:
T1 300, T2 0, T3 30, T4 100. Open opportunities: O1 on A1 1 000 split P1 60 %
/ P2 40 %; O2 on A5 500 without split; O3 on A4 200 naming territory T1; O4
on A3 is closed and won. Counties C1–C4 form a chain C1–C2–C3–C4 with C1, C3
in T1, C2 in T2 and C4 in T4.

The workload settings used with it (:data:`SIMPLE`) have two segments and no
visits: revenue ≥ 1 000 000 → 10 calls × 60 min = 10 h; otherwise 2 × 30 min
= 1 h.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, insert

from territory.metrics.load import Segment, SegmentRule, WorkloadModel
from territory.services.models import create_model
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

ACCOUNTS = [
    ("A1", 2e6, 1000.0, 0.0, 0.0),
    ("A2", 5e5, 500.0, 0.0, 1.0),
    ("A3", 3e6, 2000.0, 1.0, 0.0),
    ("A4", 1e5, 100.0, 5.0, 5.0),
    ("A5", 1e7, 3000.0, 0.0, 10.0),
    ("A6", 1e7, 400.0, 0.0, 12.0),
]
TERRITORIES = [
    ("R1", None),
    ("R2", None),
    ("D1", "R1"),
    ("D2", "R1"),
    ("T1", "D1"),
    ("T2", "D1"),
    ("T3", "D2"),
    ("T4", "R2"),
]
ASSIGNMENTS = [
    ("A1", "T1"),
    ("A2", "T1"),
    ("A3", "T2"),
    ("A1", "T2"),
    ("A4", "T3"),
    ("A5", "T4"),
    ("A6", "T4"),
]
REPS = [
    # id, home lat, home lon, capacity
    ("P1", 0.0, 0.5, None),
    ("P2", 1.0, 0.0, None),
    ("P3", 0.0, 11.0, None),
    ("P4", 0.0, 0.0, None),
    ("M1", 0.5, 0.5, None),
]
MEMBERSHIPS = [
    ("T1", "P1", "owner"),
    ("T1", "P4", "overlay"),
    ("T2", "P2", "owner"),
    ("T4", "P3", "owner"),
    ("D1", "M1", "manager"),
]


def build_plan(engine: Engine, name: str = "plan") -> str:
    """Store the plan drawn in the module docstring; return the model id."""
    model = create_model(engine, name, actor="test")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                {
                    "id": aid,
                    "name": aid,
                    "annual_revenue": rev,
                    "latitude": lat,
                    "longitude": lon,
                    "custom_fields": {"potential": pot},
                    "created_at": now,
                    "updated_at": now,
                }
                for aid, rev, pot, lat, lon in ACCOUNTS
            ],
        )
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model.id,
                    "id": tid,
                    "name": f"Territory {tid}",
                    "parent_id": parent,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                }
                for tid, parent in TERRITORIES
            ],
        )
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": model.id,
                    "account_id": aid,
                    "territory_id": tid,
                    "cause": "manual",
                }
                for aid, tid in ASSIGNMENTS
            ],
        )
        conn.execute(
            insert(t.rep),
            [
                {
                    "id": rid,
                    "name": f"Rep {rid}",
                    "home_lat": lat,
                    "home_lon": lon,
                    "capacity": cap,
                    "active": True,
                }
                for rid, lat, lon, cap in REPS
            ],
        )
        conn.execute(
            insert(t.territory_membership),
            [
                {
                    "model_id": model.id,
                    "territory_id": tid,
                    "rep_id": rid,
                    "role": role,
                    "start_date": date(2020, 1, 1),
                }
                for tid, rid, role in MEMBERSHIPS
            ],
        )
        conn.execute(
            insert(t.sales_history),
            [
                {"account_id": aid, "period": p, "amount": amt}
                for aid, p, amt in [
                    ("A1", "2027-01", 100.0),
                    ("A1", "2027-Q2", 50.0),
                    ("A1", "2026", 999.0),
                    ("A3", "2027", 200.0),
                    ("A4", "2027-07", 30.0),
                    ("A5", "2027-03", 70.0),
                    ("A5", "2028-01", 5.0),
                ]
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
                for tid, a in [("T1", 300.0), ("T2", 0.0), ("T3", 30.0), ("T4", 100.0)]
            ],
        )
        # executemany takes its columns from the first row: give every row all.
        conn.execute(
            insert(t.opportunity),
            [
                {
                    "id": oid,
                    "account_id": aid,
                    "amount": amount,
                    "stage": stage,
                    "is_closed": closed,
                    "is_won": closed,
                }
                for oid, aid, amount, stage, closed in [
                    ("O1", "A1", 1000.0, "Proposal", False),
                    ("O2", "A5", 500.0, "Qualify", False),
                    ("O3", "A4", 200.0, "Qualify", False),
                    ("O4", "A3", 900.0, "Closed Won", True),
                ]
            ],
        )
        # O3 is routed to T1 in this model (its territory per model)
        conn.execute(
            insert(t.opportunity_territory).values(
                model_id=model.id, opportunity_id="O3", territory_id="T1"
            )
        )
        conn.execute(
            insert(t.opportunity_split),
            [
                {"opportunity_id": "O1", "rep_id": "P1", "percent": 60.0},
                {"opportunity_id": "O1", "rep_id": "P2", "percent": 40.0},
            ],
        )
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": model.id,
                    "unit_kind": "county",
                    "unit_id": uid,
                    "territory_id": tid,
                    "cause": "design",
                }
                for uid, tid in [("C1", "T1"), ("C2", "T2"), ("C3", "T1"), ("C4", "T4")]
            ],
        )
        conn.execute(
            insert(t.geo_adjacency),
            [
                {"kind": "county", "contiguity": "queen", "a": a, "b": b}
                for a, b in [("C1", "C2"), ("C2", "C3"), ("C3", "C4")]
            ],
        )
    return model.id


def add_overlay(
    engine: Engine, accounts: tuple[str, ...] = ("A1", "A3", "A5"), name: str = "plan"
) -> None:
    """Add the top-level overlay OVL (its own type ``ovl``) over ``accounts``.

    With :data:`SIMPLE` the default three are big accounts: 10 h each.
    """
    from sqlalchemy import select

    with engine.begin() as conn:
        model_id = conn.execute(
            select(t.territory_model.c.id).where(t.territory_model.c.name == name)
        ).scalar_one()
        conn.execute(
            insert(t.territory_type),
            [{"id": "ovl", "name": "Overlay", "priority": 50, "description": ""}],
        )
        conn.execute(
            insert(t.territory),
            [{"model_id": model_id, "id": "OVL", "name": "Overlay", "type_id": "ovl",
              "parent_id": None, "description": "", "is_catch_all": False,
              "attributes": {}}],
        )  # fmt: skip
        conn.execute(
            insert(t.account_assignment),
            [
                {"model_id": model_id, "account_id": a, "territory_id": "OVL",
                 "cause": "manual", "source": None}
                for a in accounts
            ],
        )  # fmt: skip
