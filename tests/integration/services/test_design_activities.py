"""Balance activities ``potential`` and ``workload`` on a hand-made store.

Three Georgia counties, four ZIPs and five accounts, on both stores::

    county  population  labor_force  p = lf/pop  market index (weight 1/2)
    13001   1000        600          3/5         1/2 + 1/2 × (3/5)/(1/2) = 11/10
    13003   1000        400          2/5         1/2 + 1/2 × (2/5)/(1/2) =  9/10
    13005   1000        500          1/2         1               (no accounts)
                                     p̄ = 1500/3000 = 1/2

    account county zip    revenue  employees industry    potential (USD)     segment
    A1      13001  30001  2e8      1000      Technology  3/2 × 550 000 × 11/10  key
    A2      13001  30002  2e7      —         Retail      9/10 × 40 000 × 11/10  mid
    A3      13003  30003  —        —         —           1 × 10 000 × 9/10      small
    A4      13003  30003  5e6      10        —           123 456 (imported)     small
    A5      —      —      —        20        —           1 × 3 000 × 1          small

with ``base = 0.002 × revenue + 150 × employees`` (10 000 when both are
missing). Call hours by the default segments: key 24 × 90/60 = 36, mid
12 × 60/60 = 12, small 4 × 45/60 = 3. ZIP 30004 (in 13005) has no accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, insert

from territory.errors import InputError
from territory.services.design import DesignRequest, design_territories
from territory.services.design_inputs import read_activities, read_units
from territory.services.plan import load_plan
from territory.services.workload import (
    WorkloadConfig,
    account_measures,
    load_workload_config,
)
from territory.storage.tables import account, geo_unit, geo_unit_metric

pytestmark = pytest.mark.integration

POTENTIAL = {
    "A1": 3 / 2 * 550_000 * 11 / 10,
    "A2": 9 / 10 * 40_000 * 11 / 10,
    "A3": 10_000 * 9 / 10,
    "A4": 123_456.0,
    "A5": 3_000.0,
}
CALL_HOURS = {"A1": 36.0, "A2": 12.0, "A3": 3.0, "A4": 3.0, "A5": 3.0}
COUNTY_OF = {"A1": "13001", "A2": "13001", "A3": "13003", "A4": "13003"}
ZIP_OF = {"A1": "30001", "A2": "30002", "A3": "30003", "A4": "30003"}


def _seed(engine: Engine) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    counties = [("13001", 33.0, -84.0), ("13003", 33.0, -83.5), ("13005", 33.5, -84)]
    zips = [
        ("30001", "13001", 33.0, -84.05),
        ("30002", "13001", 33.0, -83.95),
        ("30003", "13003", 33.0, -83.5),
        ("30004", "13005", 33.5, -84.0),
    ]
    metrics = {"13001": (1000, 600), "13003": (1000, 400), "13005": (1000, 500)}
    accounts = [
        ("A1", 2e8, 1000, "Technology", None),
        ("A2", 2e7, None, "Retail", None),
        ("A3", None, None, None, None),
        ("A4", 5e6, 10, None, {"potential": "123456"}),
        ("A5", None, 20, None, None),
    ]
    loc = {z: (la, lo) for z, _, la, lo in zips}
    with engine.begin() as conn:
        conn.execute(
            insert(geo_unit),
            [
                {
                    "kind": "county",
                    "id": c,
                    "name": f"County {c}",
                    "state": "GA",
                    "centroid_lat": la,
                    "centroid_lon": lo,
                }
                for c, la, lo in counties
            ]
            + [
                {
                    "kind": "zip",
                    "id": z,
                    "name": z,
                    "state": "GA",
                    "parent_id": c,
                    "centroid_lat": la,
                    "centroid_lon": lo,
                }
                for z, c, la, lo in zips
            ],
        )
        conn.execute(
            insert(geo_unit_metric),
            [
                {"kind": "county", "unit_id": c, "metric": m, "value": float(v)}
                for c, (pop, lf) in metrics.items()
                for m, v in (("population", pop), ("labor_force", lf))
            ],
        )
        conn.execute(
            insert(account),
            [
                {
                    "id": aid,
                    "name": f"Account {aid}",
                    "annual_revenue": rev,
                    "employees": emp,
                    "industry": ind,
                    "custom_fields": custom,
                    "county_id": COUNTY_OF.get(aid),
                    "zip_id": ZIP_OF.get(aid),
                    "latitude": loc.get(ZIP_OF.get(aid, ""), (34.0, -84.2))[0],
                    "longitude": loc.get(ZIP_OF.get(aid, ""), (34.0, -84.2))[1],
                    "billing_state": "GA",
                    "placed_by": "county",
                    "created_at": now,
                    "updated_at": now,
                }
                for aid, rev, emp, ind, custom in accounts
            ],
        )


@pytest.fixture
def store(engine: Engine) -> Engine:
    _seed(engine)
    return engine


def _activities(
    engine: Engine, level: str, config: WorkloadConfig | None = None
) -> dict[str, tuple[float, float]]:
    with engine.connect() as conn:
        units = read_units(conn, level, None)
        values, notes = read_activities(conn, units, ("potential", "workload"), config)
    assert notes == {}
    return {
        u: (float(p), float(w)) for u, (p, w) in zip(units.ids, values, strict=True)
    }


def _flat(values: dict[str, tuple[float, float]]) -> dict[tuple[str, str], float]:
    # pytest.approx compares flat mappings only
    return {
        (u, name): v
        for u, pair in values.items()
        for name, v in zip(("potential", "workload"), pair, strict=True)
    }


def _sums(of: dict[str, str], units: list[str]) -> dict[str, tuple[float, float]]:
    return {
        u: (
            sum(POTENTIAL[a] for a, v in of.items() if v == u),
            sum(CALL_HOURS[a] for a, v in of.items() if v == u),
        )
        for u in units
    }


def test_potential_and_workload_per_account_match_the_formula(store: Engine) -> None:
    got = _activities(store, "account")
    expected = {a: (POTENTIAL[a], CALL_HOURS[a]) for a in POTENTIAL}
    assert _flat(got) == pytest.approx(_flat(expected))


def test_potential_and_workload_per_county_sum_their_accounts(store: Engine) -> None:
    got = _activities(store, "county")
    expected = _sums(COUNTY_OF, ["13001", "13003", "13005"])
    assert expected["13001"] == pytest.approx((947_100.0, 48.0))
    assert expected["13005"] == (0, 0)  # no accounts: 0, still a unit
    assert _flat(got) == pytest.approx(_flat(expected))


def test_potential_and_workload_per_zip_sum_their_accounts(store: Engine) -> None:
    got = _activities(store, "zip")
    expected = _sums(ZIP_OF, ["30001", "30002", "30003", "30004"])
    assert _flat(got) == pytest.approx(_flat(expected))
    assert got["30003"] == pytest.approx((132_456.0, 6.0))


def test_workload_file_changes_segments_and_potential(
    store: Engine, tmp_path: Path
) -> None:
    f = tmp_path / "w.yaml"
    f.write_text(
        "segments:\n  - {name: all, calls_per_year: 10, minutes_per_call: 60}\n"
        "potential: {field: none_here, industry_factors: {}}\n",
        encoding="utf-8",
    )
    got = _activities(store, "county", load_workload_config(f))
    # factor 1 everywhere and no imported value: A4 = (10 000 + 1 500) × 9/10
    expected = {
        "13001": (550_000 * 11 / 10 + 40_000 * 11 / 10, 20.0),
        "13003": (10_000 * 9 / 10 + 11_500 * 9 / 10, 20.0),
        "13005": (0.0, 0.0),
    }
    assert _flat(got) == pytest.approx(_flat(expected))


def test_unit_metric_at_account_level_names_the_account_activities(
    store: Engine,
) -> None:
    with store.connect() as conn:
        units = read_units(conn, "account", None)
        with pytest.raises(InputError, match="potential or workload") as exc:
            read_activities(conn, units, ("population",))
        with pytest.raises(InputError, match="potential, workload") as unknown:
            read_activities(conn, units, ("calls",))
    assert exc.value.code == "bad_activity"
    assert unknown.value.code == "bad_activity"


def test_design_balances_workload_as_the_plan_measures_it(store: Engine) -> None:
    report = design_territories(
        store,
        DesignRequest(
            model="by-workload",
            balance=(("workload", 1.0), ("potential", 1.0)),
            n_territories=2,
            contiguity="none",
            seed=3,
            max_iterations=200,
            time_limit_s=10.0,
        ),
        actor="tester",
    )
    assert len(report.assignment) == 3  # 13005 (no accounts) is assigned too
    totals = sum(t.values["workload"] for t in report.territories)
    assert totals == pytest.approx(54.0)  # 36 + 12 + 3 + 3; A5 has no county
    # the saved plan, measured as size/quota/metrics measure it, agrees
    with store.connect() as conn:
        plan = load_plan(conn, "by-workload")
        acc = account_measures(conn, plan, WorkloadConfig())
    names = plan.territories["territory_id"].to_list()
    t_idx = acc["t_idx"].to_numpy()
    n = len(names)
    calls = np.bincount(t_idx, weights=acc["call_hours"].to_numpy(), minlength=n)
    pot = np.bincount(t_idx, weights=acc["potential"].to_numpy(), minlength=n)
    for t in report.territories:
        k = names.index(t.id)
        assert t.values["workload"] == pytest.approx(calls[k])
        assert t.values["potential"] == pytest.approx(pot[k])
