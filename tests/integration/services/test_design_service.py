"""`design_territories` on real counties of CT, RI and MA, on both stores.

The counties come from :mod:`design_fixtures` (loaded once per session). Two
accounts sit in every county. 2019 populations used below (from the shipped
data): Massachusetts 6,892,503 over 14 counties, Middlesex (25017) the
largest at 1,611,699.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from design_fixtures import seed_store
from territory.errors import Conflict, InfeasibleError
from territory.services.design import DesignRequest, design_territories
from territory.services.design_output import write_design_files
from territory.storage.tables import (
    account,
    account_assignment,
    audit_log,
    design_run,
    geo_unit,
    territory,
    territory_model,
    unit_assignment,
)

pytestmark = pytest.mark.integration

NE = ("CT", "MA", "RI")
MA_POPULATION = 6_892_503
MIDDLESEX = 1_611_699


def _request(model: str = "plan", **kw: object) -> DesignRequest:
    base: dict[str, object] = {
        "model": model,
        "balance": (("population", 0.10),),
        "n_territories": 4,
        "states": NE,
        "time_limit_s": 30.0,
        "max_iterations": 3000,
        "seed": 7,
    }
    base.update(kw)
    return DesignRequest(**base)  # type: ignore[arg-type]


def _units(engine: Engine, model_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(unit_assignment.c.unit_id, unit_assignment.c.territory_id).where(
                    unit_assignment.c.model_id == model_id
                )
            ).all()
        )


def _accounts(engine: Engine, model_id: str) -> dict[str, tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                account_assignment.c.account_id,
                account_assignment.c.territory_id,
                account_assignment.c.cause,
                account_assignment.c.source,
            ).where(account_assignment.c.model_id == model_id)
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.fixture
def store(engine: Engine) -> Engine:
    seed_store(engine)
    return engine


def test_design_saves_every_unit_once_contiguous_and_balanced(store: Engine) -> None:
    report = design_territories(store, _request(), actor="tester")

    assert report.status == "feasible"
    assert report.contiguous
    assert report.max_abs_deviation["population"] <= 0.10 + 1e-9
    units = _units(store, report.model_id)
    assert len(units) == 27  # 8 + 14 + 5 counties, each once
    assert units == report.assignment
    assert set(units.values()) == {"T01", "T02", "T03", "T04"}
    # the islands Dukes and Nantucket are bridged, and reported
    bridged = {u for a, b, _ in report.bridges for u in (a, b)}
    assert {"25007", "25019"} <= bridged
    with store.connect() as conn:
        causes = set(
            conn.execute(
                select(unit_assignment.c.cause, unit_assignment.c.source).where(
                    unit_assignment.c.model_id == report.model_id
                )
            ).all()
        )
        run = conn.execute(
            select(design_run).where(design_run.c.id == report.run_id)
        ).one()
        state = conn.execute(
            select(territory_model.c.state).where(
                territory_model.c.id == report.model_id
            )
        ).scalar_one()
        n_audit = conn.execute(
            select(func.count()).where(
                audit_log.c.model_id == report.model_id,
                audit_log.c.entity == "unit_assignment",
                audit_log.c.source == report.run_id,
            )
        ).scalar_one()
    assert causes == {("design", report.run_id)}
    assert (run.status, run.parameters["balance"]) == ("feasible", {"population": 0.1})
    assert run.result["contiguous"] is True
    assert state == "planning"
    assert n_audit == 27
    # accounts follow their county; Delaware's and the one without county do not
    accounts = _accounts(store, report.model_id)
    assert len(accounts) == 54
    for acc_id, (terr, cause, source) in accounts.items():
        assert terr == units[acc_id.split("-")[1]]
        assert (cause, source) == ("design", report.run_id)
    assert report.n_accounts_designed == 54
    assert report.n_accounts_outside == 7  # 3 Delaware counties x 2, A-NOWHERE


@pytest.mark.slow
def test_design_leaves_manual_and_excluded_accounts_alone(store: Engine) -> None:
    base = design_territories(store, _request("base"), actor="tester")
    moved_to = "T02" if base.assignment["09001"] != "T02" else "T03"
    with store.begin() as conn:
        conn.execute(
            update(account_assignment)
            .where(
                account_assignment.c.model_id == base.model_id,
                account_assignment.c.account_id == "A-09001-1",
            )
            .values(territory_id=moved_to, cause="manual", source=None)
        )
        conn.execute(
            update(account)
            .where(account.c.id == "A-09003-1")
            .values(excluded_from_realign=True)
        )
    again = design_territories(
        store, _request("next", from_model="base", seed=3), actor="tester"
    )
    accounts = _accounts(store, again.model_id)
    assert accounts["A-09001-1"] == (moved_to, "manual", None)
    old = _accounts(store, base.model_id)["A-09003-1"]
    assert accounts["A-09003-1"] == old  # kept exactly as in the base model
    assert accounts["A-09001-2"] == (again.assignment["09001"], "design", again.run_id)
    assert again.n_accounts_kept == 2


def test_design_honours_locked_units_and_centres(store: Engine, tmp_path: Path) -> None:
    locks = tmp_path / "lock.csv"
    locks.write_text("unit_id,territory\n25025,East\n09001,West\n")
    centres = tmp_path / "centres.csv"
    centres.write_text("territory,lat,lon\nIsland,41.82,-71.42\n")  # Providence
    report = design_territories(
        store, _request(lock_file=locks, centers_file=centres), actor="tester"
    )
    assert report.assignment["25025"] == "East"
    assert report.assignment["09001"] == "West"
    assert report.assignment["44007"] == "Island"
    assert {t.id for t in report.territories} == {"East", "West", "Island", "T01"}
    assert report.contiguous


def test_design_warns_about_a_centre_far_from_every_unit(
    store: Engine, tmp_path: Path
) -> None:
    centres = tmp_path / "centres.csv"
    # Providence lies in Providence county; Dallas is ~2,300 km from CT
    centres.write_text("territory,lat,lon\nIsland,41.82,-71.42\nDallas,32.78,-96.80\n")
    told: list[str] = []
    report = design_territories(
        store, _request(centers_file=centres), actor="tester", notify=told.append
    )
    warned = [m for m in told if m.startswith("Warning:")]
    assert len(warned) == 1
    assert "Dallas (row 3, 32.78, -96.8) is 2," in warned[0]
    assert "Island" not in warned[0]
    (note, count), *_ = (
        (k, v) for k, v in report.notes.items() if k.startswith("centres far")
    )
    assert count == 1 and "Dallas" in note and "Fairfield" in note
    with store.connect() as conn:
        run = conn.execute(
            select(design_run.c.result).where(design_run.c.id == report.run_id)
        ).scalar_one()
    assert note in run["notes"]


@pytest.mark.slow
def test_design_limits_disruption_against_the_current_plan(store: Engine) -> None:
    base = design_territories(store, _request("base", seed=1), actor="tester")
    again = design_territories(
        store,
        _request(
            "next",
            from_model="base",
            seed=99,
            balance=(("population", 0.10),),
            max_disruption=0.10,
        ),
        actor="tester",
    )
    pop = {t.id: t.values["population"] for t in base.territories}
    total = sum(pop.values())
    moved = [u for u, t in again.assignment.items() if base.assignment[u] != t]
    from design_fixtures import county_rows

    rows = county_rows()["geo_unit_metric"]
    value = {
        u: v
        for u, m, v in zip(rows["unit_id"], rows["metric"], rows["value"], strict=True)
        if m == "population"
    }
    assert sum(value[u] for u in moved) <= 0.10 * total + 1e-6
    assert sum(len(v) for v in again.moved_units.values()) == len(moved)


def test_design_explains_an_infeasible_tolerance(store: Engine) -> None:
    with pytest.raises(InfeasibleError, match="Middlesex") as err:
        design_territories(
            store,
            _request(
                states=("MA",),
                n_territories=8,
                time_limit_s=1.0,
                balance=(("population", 0.20),),
            ),
            actor="tester",
        )
    exc = err.value
    assert exc.code == "infeasible_balance"
    assert exc.details["oversize_units"]["population"] == ["25017"]
    bound = MIDDLESEX / (MA_POPULATION / 8) - 1
    assert exc.details["lower_bounds"]["population"] == pytest.approx(bound)
    assert exc.details["reached"]["population"] >= bound - 1e-9
    assert "lower bound" in exc.message
    assert "--oversize own-territory" in exc.message
    with store.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(territory_model)).scalar()
            == 0
        )


@pytest.mark.slow
def test_design_gives_an_oversize_unit_its_own_multi_rep_territory(
    store: Engine,
) -> None:
    # 9 reps over CT, RI and MA: Middlesex (1,611,699) is 1.26 times the mean
    # per rep, beyond ±20 %, so it anchors a territory worth 2 reps.
    report = design_territories(
        store,
        _request(
            n_territories=9,
            oversize="own-territory",
            balance=(("population", 0.20),),
        ),
        actor="tester",
    )
    assert report.oversize == (("25017", 2),)
    assert len(report.territories) == 8
    total = sum(t.values["population"] for t in report.territories)
    middlesex = next(
        t for t in report.territories if report.assignment["25017"] == t.id
    )
    assert middlesex.reps == 2
    assert middlesex.targets["population"] == pytest.approx(2 * total / 9)
    assert report.max_abs_deviation["population"] <= 0.20 + 1e-9
    assert report.contiguous
    assert "Middlesex" in (report.diagnosis or "")


def test_design_is_deterministic_for_a_seed(store: Engine) -> None:
    one = design_territories(
        store, _request("one", max_iterations=3000, time_limit_s=30), actor="t"
    )
    two = design_territories(
        store, _request("two", max_iterations=3000, time_limit_s=30), actor="t"
    )
    assert one.assignment == two.assignment


@pytest.mark.slow
def test_design_refuses_an_existing_model_unless_replace(store: Engine) -> None:
    design_territories(store, _request(), actor="tester")
    with pytest.raises(Conflict, match="already exists") as err:
        design_territories(store, _request(), actor="tester")
    assert err.value.code == "model_exists"
    again = design_territories(store, _request(replace=True, seed=2), actor="tester")
    with store.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(territory_model)).scalar()
            == 1
        )
        n = conn.execute(
            select(func.count()).where(unit_assignment.c.model_id == again.model_id)
        ).scalar()
    assert n == 27


@pytest.mark.slow
def test_design_levels_save_regions_as_parents(store: Engine) -> None:
    report = design_territories(
        store,
        _request(n_territories=None, levels=(2, 4), balance=(("population", 0.20),)),
        actor="tester",
    )
    assert [r.id for r in report.regions] == ["R01", "R02"]
    with store.connect() as conn:
        rows = conn.execute(
            select(territory.c.id, territory.c.parent_id).where(
                territory.c.model_id == report.model_id
            )
        ).all()
    parents = dict(rows)
    assert parents["R01"] is None and parents["R02"] is None
    assert sorted(parents[t.id] for t in report.territories) == [
        "R01",
        "R01",
        "R02",
        "R02",
    ]
    assert report.contiguous
    assert report.max_abs_deviation["population"] <= 0.20 + 1e-9


def test_design_accounts_as_units_merges_shared_locations(store: Engine) -> None:
    report = design_territories(
        store,
        _request(level="account", states=("CT",), balance=(("accounts", 0.0),)),
        actor="tester",
    )
    assert len(report.assignment) == 16
    assert all(t.values["accounts"] == 4 for t in report.territories)
    assert len(report.merged_locations) == 8  # two accounts per county centroid
    assert report.contiguous


def test_design_accounts_as_units_places_accounts_by_zip_and_county(
    store: Engine, tmp_path: Path
) -> None:
    """Accounts without coordinates stand at their ZIP's, else county's centroid.

    CT has 8 counties with 2 accounts at each centroid (16). Added: A-ZIP
    (placed by ZIP 06103, a stored ZIP unit in Hartford), A-CTY (county
    09009 only) and A-LOST (ZIP 06999 and county 09999, neither stored,
    billing state CT): 18 units, and A-LOST is named, not dropped.
    """
    from datetime import UTC, datetime

    from territory.storage.bulk import insert_columns

    now = datetime(2026, 1, 1, tzinfo=UTC)
    with store.begin() as conn:
        insert_columns(
            conn,
            geo_unit,
            {
                "kind": "zip",
                "id": ["06103"],
                "name": ["Hartford"],
                "state": ["CT"],
                "parent_id": ["09003"],
                "centroid_lat": [41.767],
                "centroid_lon": [-72.676],
            },
        )
        insert_columns(
            conn,
            account,
            {
                "id": ["A-ZIP", "A-CTY", "A-LOST"],
                "name": ["By ZIP", "By county", "Nowhere in CT"],
                "latitude": [None, None, None],
                "longitude": [None, None, None],
                "zip_id": ["06103", None, "06999"],
                "county_id": [None, "09009", "09999"],
                "billing_state": ["CT", "CT", "CT"],
                "placed_by": ["zip", "county", "zip"],
                "created_at": now,
                "updated_at": now,
            },
        )
    report = design_territories(
        store,
        _request(
            level="account",
            states=("CT",),
            balance=(("accounts", 0.5),),
            n_territories=3,
        ),
        actor="tester",
    )
    assert len(report.assignment) == 18
    assert {"A-ZIP", "A-CTY"} <= set(report.assignment)
    assert "A-LOST" not in report.assignment
    (lost, n_lost), *_ = (
        (k, v) for k, v in report.notes.items() if k.startswith("accounts without a")
    )
    assert n_lost == 1 and "A-LOST" in lost
    placed = "accounts without coordinates placed at their {}'s centroid"
    assert report.notes[placed.format("ZIP")] == 1
    assert report.notes[placed.format("county")] == 1
    assigned = _accounts(store, report.model_id)
    assert {"A-ZIP", "A-CTY"} <= set(assigned) and "A-LOST" not in assigned
    # the map places them too
    files = write_design_files(store, report, tmp_path / "out")
    assert files.map.stat().st_size > 10_000


@pytest.mark.slow
def test_design_files_are_written(store: Engine, tmp_path: Path) -> None:
    report = design_territories(store, _request(), actor="tester")
    files = write_design_files(store, report, tmp_path / "out")
    import shapely

    doc = json.loads(files.geojson.read_text())
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == ["T01", "T02", "T03", "T04"]
    for f in doc["features"]:
        geom = shapely.from_geojson(json.dumps(f["geometry"]))
        assert geom.is_valid and not geom.is_empty
        assert f["properties"]["population"] > 0
    assert files.map.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files.map.stat().st_size > 10_000
    lines = files.assignments.read_text().splitlines()
    assert lines[0] == "unit_id,territory" and len(lines) == 28
    assert len(files.summary.read_text().splitlines()) == 5


def test_redesign_from_a_model_keeps_its_hierarchy_and_memberships(
    store: Engine,
) -> None:
    """--from keeps regions as parents and the reps of every kept territory."""
    from datetime import date

    from sqlalchemy import insert

    from territory.storage.tables import audit_log, rep, territory_membership

    base = design_territories(
        store,
        _request(
            "base", n_territories=None, levels=(2, 4), balance=(("population", 0.20),)
        ),
        actor="tester",
    )
    parents = {t.id: t.parent_id for t in base.territories}
    with store.begin() as conn:
        conn.execute(
            insert(rep),
            [
                {"id": "R-ANN", "name": "Ann", "capacity": 1600.0, "active": True},
                {"id": "R-BOB", "name": "Bob", "capacity": 1600.0, "active": True},
            ],
        )
        conn.execute(
            insert(territory_membership),
            [
                {"model_id": base.model_id, "territory_id": "T01", "rep_id": "R-ANN",
                 "role": "owner", "start_date": date(2027, 1, 1), "end_date": None},
                {"model_id": base.model_id, "territory_id": "R01", "rep_id": "R-BOB",
                 "role": "manager", "start_date": date(2027, 1, 1), "end_date": None},
            ],
        )  # fmt: skip
    again = design_territories(
        store,
        _request("next", from_model="base", balance=(("population", 0.20),)),
        actor="tester",
    )
    assert {t.id: t.parent_id for t in again.territories} == parents
    assert again.notes["memberships carried over from the base model"] == 2
    with store.connect() as conn:
        rows = conn.execute(
            select(territory.c.id, territory.c.parent_id, territory.c.name).where(
                territory.c.model_id == again.model_id
            )
        ).all()
        members = conn.execute(
            select(
                territory_membership.c.territory_id,
                territory_membership.c.rep_id,
                territory_membership.c.role,
                territory_membership.c.start_date,
            )
            .where(territory_membership.c.model_id == again.model_id)
            .order_by(territory_membership.c.rep_id)
        ).all()
        audit = conn.execute(
            select(audit_log.c.entity_id, audit_log.c.old_value, audit_log.c.cause)
            .where(
                audit_log.c.model_id == again.model_id,
                audit_log.c.entity == "membership",
            )
            .order_by(audit_log.c.entity_id)
        ).all()
    by_id = {r[0]: (r[1], r[2]) for r in rows}
    assert by_id["R01"] == (None, "Region 1") and by_id["R02"] == (None, "Region 2")
    assert len(by_id) == 6
    assert [tuple(m) for m in members] == [
        ("T01", "R-ANN", "owner", date(2027, 1, 1)),
        ("R01", "R-BOB", "manager", date(2027, 1, 1)),
    ]
    # one audit row per carried membership, naming the base
    assert [tuple(r) for r in audit] == [
        ("R01/R-BOB/manager", {"model_id": base.model_id}, "design"),
        ("T01/R-ANN/owner", {"model_id": base.model_id}, "design"),
    ]


OVERLAY_YAML = """\
territory_types:
- {id: named-accounts, name: Named accounts, priority: 30}
territories:
- {id: OVERLAY-BIG, name: Big accounts, type: named-accounts}
rules:
- id: overlay-big
  name: Named big accounts
  items:
  - {field: Account.Id, operator: inTable, value: big-accounts}
  territories:
  - {territory: OVERLAY-BIG}
value_sets:
  big-accounts: [A-25017-1, A-25025-1]
"""


def test_redesign_from_a_model_carries_its_overlays(
    store: Engine, tmp_path: Path
) -> None:
    """Overlay territories, their rules, accounts and people come along whole."""
    from datetime import date

    from sqlalchemy import insert

    from territory.services.rules import import_rules
    from territory.storage.tables import (
        assignment_rule,
        rep,
        rule_item,
        rule_territory,
        territory_membership,
        value_set,
    )

    base = design_territories(
        store, _request("base", balance=(("population", 0.20),)), actor="tester"
    )
    path = tmp_path / "overlay.yaml"
    path.write_text(OVERLAY_YAML, encoding="utf-8")
    import_rules(store, path, "base", actor="tester", create_model=True)
    with store.begin() as conn:
        # the two named accounts, as a rule run stores them
        conn.execute(
            insert(account_assignment),
            [
                {"model_id": base.model_id, "account_id": a,
                 "territory_id": "OVERLAY-BIG", "cause": "rule",
                 "source": "overlay-big"}
                for a in ("A-25017-1", "A-25025-1")
            ],
        )  # fmt: skip
        conn.execute(insert(rep), [{"id": "R-OV", "name": "Ova", "capacity": 1600.0}])
        conn.execute(
            insert(territory_membership),
            [{"model_id": base.model_id, "territory_id": "OVERLAY-BIG",
              "rep_id": "R-OV", "role": "overlay",
              "start_date": date(2027, 1, 1), "end_date": None}],
        )  # fmt: skip
    again = design_territories(
        store,
        _request("next", from_model="base", balance=(("population", 0.20),)),
        actor="tester",
    )
    mid = again.model_id
    with store.connect() as conn:
        terr = conn.execute(
            select(territory.c.id, territory.c.type_id).where(
                territory.c.model_id == mid, territory.c.type_id.is_not(None)
            )
        ).all()
        rules = (
            conn.execute(
                select(assignment_rule.c.id).where(assignment_rule.c.model_id == mid)
            )
            .scalars()
            .all()
        )
        items = conn.execute(
            select(rule_item.c.field, rule_item.c.operation, rule_item.c.value).where(
                rule_item.c.model_id == mid
            )
        ).all()
        links = conn.execute(
            select(rule_territory.c.rule_id, rule_territory.c.territory_id).where(
                rule_territory.c.model_id == mid
            )
        ).all()
        values = conn.execute(
            select(value_set.c.name, value_set.c.value)
            .where(value_set.c.model_id == mid)
            .order_by(value_set.c.value)
        ).all()
        rows = conn.execute(
            select(
                account_assignment.c.account_id,
                account_assignment.c.territory_id,
                account_assignment.c.cause,
                account_assignment.c.source,
            )
            .where(account_assignment.c.model_id == mid)
            .where(account_assignment.c.account_id.in_(["A-25017-1", "A-25025-1"]))
            .order_by(
                account_assignment.c.account_id, account_assignment.c.territory_id
            )
        ).all()
        members = conn.execute(
            select(
                territory_membership.c.territory_id, territory_membership.c.role
            ).where(territory_membership.c.model_id == mid)
        ).all()
        audit = conn.execute(
            select(audit_log.c.entity_id, audit_log.c.old_value, audit_log.c.cause)
            .where(
                audit_log.c.model_id == mid,
                audit_log.c.entity == "account_assignment",
                audit_log.c.source == again.run_id,
                audit_log.c.entity_id.in_(["A-25017-1", "A-25025-1"]),
            )
            .order_by(audit_log.c.id)
        ).all()
    assert [tuple(r) for r in terr] == [("OVERLAY-BIG", "named-accounts")]
    assert list(rules) == ["overlay-big"]
    assert [tuple(i) for i in items] == [("Account.Id", "inTable", "big-accounts")]
    assert [tuple(r) for r in links] == [("overlay-big", "OVERLAY-BIG")]
    assert [tuple(v) for v in values] == [
        ("big-accounts", "A-25017-1"),
        ("big-accounts", "A-25025-1"),
    ]
    # each named account keeps its overlay row and also follows its county
    designed = _units(store, mid)
    assert [tuple(r) for r in rows] == sorted(
        [
            ("A-25017-1", "OVERLAY-BIG", "rule", "overlay-big"),
            ("A-25017-1", designed["25017"], "design", again.run_id),
            ("A-25025-1", "OVERLAY-BIG", "rule", "overlay-big"),
            ("A-25025-1", designed["25025"], "design", again.run_id),
        ]
    )
    assert ("OVERLAY-BIG", "overlay") in [tuple(m) for m in members]
    carried = [a for a in audit if a[1] is not None]
    assert [(a[0], a[1], a[2]) for a in carried] == [
        ("A-25017-1", {"model_id": base.model_id, "cause": "rule"}, "design"),
        ("A-25025-1", {"model_id": base.model_id, "cause": "rule"}, "design"),
    ]
    (note,) = [k for k in again.notes if k.startswith("overlay territories")]
    assert "OVERLAY-BIG" in note and "1 rule and 2 account assignments" in note
    assert again.notes[note] == 1


def test_summary_csv_keeps_full_precision_and_rolls_accounts_up_to_regions(
    store: Engine, tmp_path: Path
) -> None:
    import csv

    report = design_territories(
        store,
        _request(
            n_territories=None,
            levels=(2, 4),
            balance=(("population", 0.20),),
            max_iterations=500,
        ),
        actor="tester",
    )
    files = write_design_files(store, report, tmp_path / "out")
    with files.summary.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    regions = [r for r in rows if r["level"] == "region"]
    terrs = [r for r in rows if r["level"] == "territory"]
    # every account of the 27 counties (2 each) is in a region, none lost
    assert sum(int(r["accounts"]) for r in regions) == 54
    for r in regions:
        own = [t for t in terrs if t["parent"] == r["territory"]]
        assert int(r["accounts"]) == sum(int(t["accounts"]) for t in own) > 0
        # populations are whole people, written as integers and adding up
        assert int(r["population"]) == sum(int(t["population"]) for t in own)
    # CT + RI + MA 2019 population, split over 4 territories: 15,018,171 / 4
    total = sum(int(t["population"]) for t in terrs)
    assert total == 3_565_287 + 1_059_361 + MA_POPULATION
    assert float(terrs[0]["population_target"]) == total / 4
    # deviations to full precision, not 6 digits
    t0 = terrs[0]
    assert float(t0["population_deviation"]) == pytest.approx(
        int(t0["population"]) / (total / 4) - 1, abs=1e-15
    )


@pytest.mark.slow
def test_oversize_own_territory_on_georgia_alabama_florida(tmp_path: Path) -> None:
    """GA, AL and FL (293 counties) for 20 reps at ±5 % population.

    36,998,345 people / 20 = 1,849,917 per rep: Miami-Dade (2,716,940) and
    Broward (1,952,778) are 1.47 and 1.06 reps, so both are too big for a
    one-rep territory at ±5 % (+46.9 % and +5.6 % alone). Each anchors a
    two-rep territory: 18 territories for 20 reps, all within ±5 % per rep.
    """
    from territory.services.geodata import load_us
    from territory.storage.engine import make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'gaf.db'}")
    migrate(eng)
    load_us(eng, states="GA,AL,FL")
    report = design_territories(
        eng,
        DesignRequest(
            model="gaf",
            balance=(("population", 0.05),),
            n_territories=20,
            states=("GA", "AL", "FL"),
            oversize="own-territory",
            time_limit_s=30.0,
        ),
        actor="tester",
    )
    assert report.status == "feasible" and report.contiguous
    assert len(report.assignment) == 293
    assert dict(report.oversize) == {"12086": 2, "12011": 2}
    assert sum(t.reps for t in report.territories) == 20
    assert len(report.territories) == 18
    total = sum(t.values["population"] for t in report.territories)
    assert total == 36_998_345
    for t in report.territories:
        assert t.targets["population"] == pytest.approx(total / 20 * t.reps)
        assert abs(t.deviations["population"]) <= 0.05 + 1e-9
    eng.dispose()


@pytest.mark.slow
def test_zip_design_map_is_clipped_to_the_state_without_stored_counties(
    tmp_path: Path,
) -> None:
    """Only RI's ZIP units are stored: the cells are clipped to Rhode Island.

    The clip comes from the county map that ships with the product, so the
    territories cover the state's land exactly (up to the drawing's 0.003°
    simplification) instead of a hull of the ZIP centroids widened by 0.2°.
    """
    import shapely

    from territory.io.usdata import read_counties
    from territory.services.geodata import load_us
    from territory.storage.engine import make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'zip.db'}")
    migrate(eng)
    load_us(eng, states="RI", level="zip")
    with eng.connect() as conn:
        kinds = set(conn.execute(select(geo_unit.c.kind).distinct()).scalars())
    assert kinds == {"zip"}
    report = design_territories(
        eng,
        DesignRequest(
            model="ri-zip",
            level="zip",
            balance=(("population", 0.25),),
            n_territories=2,
            states=("RI",),
            time_limit_s=20.0,
        ),
        actor="tester",
    )
    files = write_design_files(eng, report, tmp_path / "out")
    doc = json.loads(files.geojson.read_text())
    drawn = shapely.union_all(
        [shapely.from_geojson(json.dumps(f["geometry"])) for f in doc["features"]]
    )
    ri = read_counties().select_states(["RI"])
    land = shapely.union_all([shapely.make_valid(g) for g in ri.geometries])
    assert drawn.area == pytest.approx(land.area, rel=0.02)
    assert shapely.difference(drawn, land.buffer(0.01)).area < 1e-6
    eng.dispose()


def test_design_refuses_locks_over_a_territory_bound_before_searching(
    store: Engine, tmp_path: Path
) -> None:
    """Middlesex, Worcester and Essex locked together overfill one territory.

    New England holds 11,517,151 people, so each of 4 territories has a
    target of 2,879,287.75 and at most 3,167,216.5 at ±10 %. The three locked
    counties hold 1,611,699 + 830,622 + 789,034 = 3,231,355, which is
    12.2 % over: no plan can meet the tolerance, and the design says so at
    once (no search, no model) instead of running out of time.
    """
    locks = tmp_path / "lock.csv"
    locks.write_text("unit_id,territory\n25017,T01\n25027,T01\n25009,T01\n")
    with store.connect() as conn:
        models_before = conn.execute(select(territory_model)).all()
    with pytest.raises(InfeasibleError) as caught:
        design_territories(
            store, _request(lock_file=locks, time_limit_s=20.0), actor="tester"
        )
    err = caught.value
    assert err.code == "infeasible_lock"
    msg = str(err)
    assert f"The units locked to T01 in {locks} already hold 3,231,355 population" in (
        msg
    )
    assert "12.2% over its target of 2,879,288" in msg
    assert "--balance population=0.1 allows (at most 3,167,217)" in msg
    assert "Middlesex, MA (25017: 1,611,699); Worcester, MA (25027: 830,622)" in msg
    assert "Unlock some of these units, or widen the tolerance to at least " in msg
    assert msg.endswith("--balance population=0.13.")
    (over,) = err.details["overflows"]
    assert over["territory"] == "T01" and over["activity"] == "population"
    assert over["units"] == ["25017", "25027", "25009"]
    assert over["locked"] == pytest.approx(3_231_355)
    assert over["target"] == pytest.approx(11_517_151 / 4)
    assert over["over"] == pytest.approx(3_231_355 / (11_517_151 / 4) - 1)
    with store.connect() as conn:
        assert conn.execute(select(territory_model)).all() == models_before
        assert conn.execute(select(func.count()).select_from(design_run)).scalar() == 0
