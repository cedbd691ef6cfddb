"""Store summary per state and sample reps, on a tiny hand-made geography."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select

from territory.errors import InputError
from territory.services.overview import summarise_store
from territory.services.sample_reps import generate_sample_reps
from territory.storage import tables as t

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _geo(engine: Engine) -> None:
    """Four counties: AA1-AA2 touch in state AA; BB1 is an island; BB2 alone too.

    Populations 100, 300, 50, 0; one account in AA2, one in BB1, one unplaced.
    """
    units = [
        ("AA1", "AA", 30.0, -90.0),
        ("AA2", "AA", 30.1, -90.1),
        ("BB1", "BB", 40.0, -100.0),
        ("BB2", "BB", 41.0, -101.0),
    ]
    pops = {"AA1": 100.0, "AA2": 300.0, "BB1": 50.0, "BB2": 0.0}
    with engine.begin() as conn:
        conn.execute(
            insert(t.geo_unit),
            [
                {
                    "kind": "county",
                    "id": u,
                    "name": u,
                    "state": s,
                    "centroid_lat": la,
                    "centroid_lon": lo,
                }
                for u, s, la, lo in units
            ],
        )
        conn.execute(
            insert(t.geo_unit_metric),
            [
                {"kind": "county", "unit_id": u, "metric": "population", "value": v}
                for u, v in pops.items()
            ],
        )
        conn.execute(
            insert(t.geo_adjacency),
            [{"kind": "county", "contiguity": "queen", "a": "AA1", "b": "AA2"}],
        )
        conn.execute(
            insert(t.account),
            [
                {
                    "id": "A1",
                    "name": "a",
                    "county_id": "AA2",
                    "placed_by": "zip",
                    "is_sample": True,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "id": "A2",
                    "name": "b",
                    "county_id": "BB1",
                    "placed_by": "zip",
                    "is_sample": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "id": "A3",
                    "name": "c",
                    "county_id": None,
                    "is_sample": False,
                    "placed_by": "unplaced",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ],
        )


def test_summary_counts_units_people_accounts_and_pieces(engine: Engine) -> None:
    _geo(engine)
    s = summarise_store(engine)
    by = {r.state: r for r in s.states}
    assert (
        by["AA"].units,
        by["AA"].population,
        by["AA"].accounts,
        by["AA"].sample_accounts,
        by["AA"].components,
    ) == (2, 400.0, 1, 1, 1)
    assert (
        by["BB"].units,
        by["BB"].population,
        by["BB"].accounts,
        by["BB"].components,
        by["BB"].islands,
    ) == (2, 50.0, 1, 2, ("BB1", "BB2"))
    assert s.components == 3
    assert s.islands == ("BB1", "BB2")
    assert s.unplaced_accounts == 1
    assert (s.units, s.population, s.accounts) == (4, 450.0, 2)


def test_sample_reps_are_deterministic_and_live_where_people_are(
    engine: Engine,
) -> None:
    _geo(engine)
    first = generate_sample_reps(engine, 6, seed=3)
    with engine.connect() as conn:
        a = conn.execute(select(t.rep).order_by(t.rep.c.id)).all()
    again = generate_sample_reps(engine, 6, seed=3)
    with engine.connect() as conn:
        b = conn.execute(select(t.rep).order_by(t.rep.c.id)).all()
    assert first.n_reps == 6 and again.replaced == 6
    assert [tuple(r) for r in a] == [tuple(r) for r in b]
    assert a[0].id == "SAMPLE-REP-001" and a[0].name == "Sample Rep 001"
    # BB2 has no people, so nobody lives within 0.05 degrees of it.
    assert all(abs(r.home_lat - 41.0) > 0.06 for r in a)


def test_sample_reps_need_loaded_counties(engine: Engine) -> None:
    with pytest.raises(InputError, match="run `territory data load-us` first"):
        generate_sample_reps(engine, 3)
