"""Accounts placed by ZIP or county are measured at their unit's centroid.

Store (both back ends)::

    county C1 centroid (0, 0)     county C2 centroid (0, 1)
    ZIP Z1 centroid (1, 0), in C1

    account  coordinates  zip  county   effective location
    B1       (0, 2)       —    C2       (0, 2)  coordinates
    B2       —            Z1   C1       (1, 0)  zip
    B3       —            Z9   C2       (0, 1)  county (Z9 is not a stored unit)
    B4       —            —    —        none

Model ``zips``: TA {B2}, TB {B1, B3}, TC {B4}, all children of R. Reps
(home): RA (2, 0), RB (0, 3), RC (5, 5). Distances along a meridian or the
equator are exact multiples of 111.19508 km per degree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import Engine, insert

from performance_plan import SIMPLE
from territory.services.location import with_effective_location
from territory.services.models import create_model
from territory.services.performance import compute_metrics
from territory.services.plan import load_plan, read_accounts
from territory.services.sizing import size_model
from territory.services.staffing import staff_model
from territory.storage import tables as t

KM_PER_DEGREE = 111.19508


def _store(engine: Engine) -> None:
    model = create_model(engine, "zips", actor="test")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(t.geo_unit),
            [
                {"kind": kind, "id": uid, "name": uid, "state": "XX",
                 "parent_id": parent, "centroid_lat": lat, "centroid_lon": lon}
                for kind, uid, parent, lat, lon in [
                    ("county", "C1", None, 0.0, 0.0),
                    ("county", "C2", None, 0.0, 1.0),
                    ("zip", "Z1", "C1", 1.0, 0.0),
                ]
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.account),
            [
                {"id": aid, "name": aid, "latitude": lat, "longitude": lon,
                 "zip_id": zid, "county_id": cid, "placed_by": by,
                 "created_at": now, "updated_at": now}
                for aid, lat, lon, zid, cid, by in [
                    ("B1", 0.0, 2.0, None, "C2", "coordinates"),
                    ("B2", None, None, "Z1", "C1", "zip"),
                    ("B3", None, None, "Z9", "C2", "county"),
                    ("B4", None, None, None, None, "unplaced"),
                ]
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.territory),
            [
                {"model_id": model.id, "id": tid, "name": tid, "parent_id": parent,
                 "description": "", "is_catch_all": False, "attributes": {}}
                for tid, parent in [
                    ("R", None), ("TA", "R"), ("TB", "R"), ("TC", "R"),
                ]
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.account_assignment),
            [
                {"model_id": model.id, "account_id": aid, "territory_id": tid,
                 "cause": "manual"}
                for aid, tid in [("B1", "TB"), ("B2", "TA"), ("B3", "TB"),
                                 ("B4", "TC")]
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.rep),
            [
                {"id": rid, "name": rid, "home_lat": lat, "home_lon": lon,
                 "capacity": None, "active": True}
                for rid, lat, lon in [
                    ("RA", 2.0, 0.0), ("RB", 0.0, 3.0), ("RC", 5.0, 5.0),
                ]
            ],
        )  # fmt: skip


@pytest.fixture
def zips(engine: Engine) -> Engine:
    _store(engine)
    return engine


def test_effective_location_prefers_coordinates_then_zip_then_county(
    zips: Engine,
) -> None:
    with zips.connect() as conn:
        stored = read_accounts(conn)
        located = with_effective_location(conn, stored)
        plan = load_plan(conn, "zips")
    # read_accounts keeps the stored coordinates: B2 and B3 have none
    assert stored["latitude"].null_count() == 3
    for frame in (located, plan.assignments):
        got = {
            r["account_id"]: (r["latitude"], r["longitude"], r["located_by"])
            for r in frame.to_dicts()
        }
        assert got == {
            "B1": (0.0, 2.0, "coordinates"),
            "B2": (1.0, 0.0, "zip"),
            "B3": (0.0, 1.0, "county"),
            "B4": (None, None, None),
        }
    # the frame's order is kept
    assert located["account_id"].to_list() == ["B1", "B2", "B3", "B4"]


def test_staffing_measures_distances_from_unit_centroids(zips: Engine) -> None:
    res = staff_model(zips, "zips", actor="test", config=SIMPLE, write=False)
    got = {
        r["territory_id"]: (r["rep_id"], r["distance_km"])
        for r in res.owners.to_dicts()
    }
    # TA's centre is Z1 (1, 0): RA at (2, 0) is 1 degree north of it
    assert got["TA"][0] == "RA"
    assert got["TA"][1] == pytest.approx(KM_PER_DEGREE, rel=1e-6)
    # TB's centre is the mean of B1 (0, 2) and C2 (0, 1): RB at (0, 3) is 1.5°
    assert got["TB"][0] == "RB"
    assert got["TB"][1] == pytest.approx(1.5 * KM_PER_DEGREE, rel=1e-6)
    # TC has no located account: its distance is unknown, never 0 km
    assert got["TC"] == ("RC", None)
    assert any(
        "1 territories have no located account" in n and "TC" in n for n in res.notes
    )
    assert any("1 accounts have no location" in n and "B4" in n for n in res.notes)


def test_metrics_compactness_and_sizing_use_effective_locations(zips: Engine) -> None:
    res = compute_metrics(zips, "zips", config=SIMPLE)
    tb = res.table.filter(pl.col("territory_id") == "TB").to_dicts()[0]
    # B1 (0, 2) and B3 at C2's centroid (0, 1): one degree apart
    assert tb["account_diameter_km"] == pytest.approx(KM_PER_DEGREE, rel=1e-6)
    tc = res.table.filter(pl.col("territory_id") == "TC").to_dicts()[0]
    assert tc["account_diameter_km"] is None  # B4 has no location at all
    assert any("1 accounts have no location" in n for n in res.notes)
    sizing = size_model(zips, "zips", config=SIMPLE)
    assert any("1 accounts have no location" in n for n in sizing.notes)
