"""Loading the shipped US geography and sample accounts into both stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, insert, select

from territory.errors import Conflict, InputError
from territory.services import geodata
from territory.services.geodata import (
    generate_sample_accounts,
    load_us,
    read_adjacency,
)
from territory.storage.tables import (
    account,
    account_assignment,
    geo_unit,
    geo_unit_metric,
    metric_source,
    opportunity,
    sales_history,
    territory,
    territory_model,
)

pytestmark = pytest.mark.integration

# Rhode Island: 5 counties, 2019 population 1,059,361; Connecticut: 8 counties.
RI_POPULATION = 1_059_361


def _count(engine: Engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(table).where(*where)).scalar()
        )


def _metric_total(engine: Engine, kind: str, metric: str) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                select(func.sum(geo_unit_metric.c.value)).where(
                    geo_unit_metric.c.kind == kind, geo_unit_metric.c.metric == metric
                )
            ).scalar()
            or 0.0
        )


@pytest.mark.slow
def test_load_counties_writes_units_metrics_sources_and_adjacency(
    engine: Engine,
) -> None:
    steps: list[str] = []
    report = load_us(
        engine, states="RI,CT", progress=lambda k, n, text: steps.append(text)
    )
    assert len(steps) == 6
    assert report.n_units == 13
    assert [s.state for s in report.by_state] == ["CT", "RI"]
    ri = report.by_state[1]
    assert (ri.n_units, ri.population) == (5, RI_POPULATION)
    # Newport County touches Massachusetts but no other Rhode Island county.
    assert (ri.n_components, ri.islands) == (2, ("44005",))
    assert _count(engine, geo_unit, geo_unit.c.kind == "county") == 13
    assert report.n_metric_rows == 26
    assert _metric_total(engine, "county", "population") == report.population_total
    with engine.connect() as conn:
        row = conn.execute(
            select(geo_unit).where(geo_unit.c.id == "44009")  # Washington, RI
        ).one()
        sources = dict(
            conn.execute(select(metric_source.c.metric, metric_source.c.vintage)).all()
        )
        pairs = read_adjacency(conn, "county", "queen")
    assert row.name == "Washington"
    assert row.state == "RI"
    assert row.geometry[:1] in (b"\x00", b"\x01")  # WKB
    assert sources == {"population": "2019", "labor_force": "2009"}
    assert len(pairs) == report.n_pairs
    assert all(a < b for a, b, _ in pairs)
    ri_ct = {(a, b) for a, b, _ in pairs if a[:2] != b[:2]}
    assert ("09011", "44009") in ri_ct  # New London (CT) - Washington (RI)


@pytest.mark.slow
def test_reload_replaces_the_same_states_only(engine: Engine) -> None:
    load_us(engine, states="RI")
    load_us(engine, states="CT")
    with engine.connect() as conn:
        pairs = {(a, b) for a, b, _ in read_adjacency(conn)}
    # Loading CT after RI links the counties along their border.
    assert ("09011", "44009") in pairs
    again = load_us(engine, states="RI")
    assert again.n_replaced == 5
    assert _count(engine, geo_unit) == 13
    assert _count(engine, geo_unit_metric) == 26


@pytest.mark.slow
def test_failed_load_leaves_the_store_unchanged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_us(engine, states="RI")
    before = _count(engine, geo_adjacency_table()), _count(engine, geo_unit)
    real = geodata.insert_columns
    calls = {"n": 0}

    def failing(conn, table, columns, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(conn, table, columns, **kw)

    monkeypatch.setattr(geodata, "insert_columns", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        load_us(engine, states="RI,CT")
    assert (_count(engine, geo_adjacency_table()), _count(engine, geo_unit)) == before
    assert _count(engine, geo_unit) == 5


def geo_adjacency_table():  # type: ignore[no-untyped-def]
    from territory.storage.tables import geo_adjacency

    return geo_adjacency


@pytest.mark.slow
def test_load_zip_units_apportions_county_population(engine: Engine) -> None:
    report = load_us(engine, states="RI", level="zip")
    assert report.level == "zip"
    assert report.n_units == 72
    assert report.zips is not None
    assert report.zips.n_units == 29_672
    assert _count(engine, geo_unit, geo_unit.c.kind == "zip") == 72
    assert _metric_total(engine, "zip", "population") == pytest.approx(RI_POPULATION)
    with engine.connect() as conn:
        parents = set(
            conn.execute(
                select(geo_unit.c.parent_id).where(geo_unit.c.kind == "zip")
            ).scalars()
        )
    assert parents == {"44001", "44003", "44005", "44007", "44009"}
    assert report.n_pairs > 72
    assert (
        "44005" in report.counties_without_zip or len(report.counties_without_zip) == 29
    )


def test_load_rejects_unknown_level_contiguity_and_state(engine: Engine) -> None:
    with pytest.raises(InputError, match="Level") as info:
        load_us(engine, level="tract")
    assert info.value.code == "bad_level"
    with pytest.raises(InputError, match="queen") as info:
        load_us(engine, contiguity="hex")
    assert info.value.code == "bad_contiguity"
    with pytest.raises(InputError, match="Unknown state") as info:
        load_us(engine, states="GA,ZZ")
    assert info.value.code == "unknown_state"


def _sample_rows(engine: Engine) -> tuple[list[tuple], list[tuple], list[tuple]]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        accounts = [
            tuple(r) for r in conn.execute(select(account).order_by(account.c.id))
        ]
        sales = [
            tuple(r)
            for r in conn.execute(
                select(sales_history).order_by(
                    sales_history.c.account_id, sales_history.c.period
                )
            )
        ]
        opps = [
            tuple(r)
            for r in conn.execute(select(opportunity).order_by(opportunity.c.id))
        ]
    return accounts, sales, opps


@pytest.mark.slow
def test_sample_accounts_are_deterministic_for_a_seed(engine: Engine) -> None:
    first = generate_sample_accounts(engine, 500, seed=11, states="RI,CT")
    rows1 = _sample_rows(engine)
    second = generate_sample_accounts(engine, 500, seed=11, states="RI,CT")
    rows2 = _sample_rows(engine)
    assert rows1 == rows2
    assert second.n_replaced == 500
    assert first.n_accounts == 500
    assert first.n_sales_rows == len(rows1[1])
    assert first.n_opportunities == len(rows1[2])
    assert sum(first.by_state.values()) == 500
    assert set(first.by_state) == {"CT", "RI"}
    # CT has about 3.4 times RI's population.
    assert 2.5 < first.by_state["CT"] / first.by_state["RI"] < 4.5
    other = generate_sample_accounts(engine, 500, seed=12, states="RI,CT")
    assert _sample_rows(engine) != rows2
    assert other.n_replaced == 500


@pytest.mark.slow
def test_sample_accounts_are_labelled_sample_everywhere(engine: Engine) -> None:
    generate_sample_accounts(engine, 200, seed=3, states="RI")
    with engine.connect() as conn:
        accs = conn.execute(select(account)).all()
        opps = conn.execute(select(opportunity)).all()
        sales = conn.execute(select(sales_history)).all()
    assert len(accs) == 200
    assert all(a.is_sample and a.name.startswith("Sample Account ") for a in accs)
    assert all(a.id.startswith("SAMPLE-") for a in accs)
    assert all(a.billing_state == "RI" and a.county_id[:2] == "44" for a in accs)
    assert all(len(a.billing_postal_code) == 5 for a in accs)
    assert all(a.billing_postal_code.startswith("02") for a in accs)
    assert all(a.zip_id == a.billing_postal_code for a in accs)
    assert all(a.placed_by == "zip" and a.latitude is not None for a in accs)
    assert all(o.is_sample and o.name.startswith("Sample Opportunity ") for o in opps)
    assert all(not o.is_closed for o in opps)
    assert all(s.is_sample for s in sales)
    assert {s.period[:4] for s in sales} == {"2025", "2026"}


@pytest.mark.slow
def test_sample_accounts_refuse_to_drop_assigned_samples(engine: Engine) -> None:
    generate_sample_accounts(engine, 10, seed=1, states="RI")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(territory_model).values(
                id="m1", name="Plan", state="planning", description="", created_at=now
            )
        )
        conn.execute(
            insert(territory).values(
                model_id="m1", id="t1", name="East", description="", attributes={}
            )
        )
        conn.execute(
            insert(account_assignment).values(
                model_id="m1",
                account_id="SAMPLE-000001",
                territory_id="t1",
                cause="manual",
            )  # fmt: skip
        )
    with pytest.raises(Conflict, match="assignment") as info:
        generate_sample_accounts(engine, 10, seed=2, states="RI")
    assert info.value.code == "sample_accounts_assigned"
    assert _count(engine, account) == 10


def test_sample_accounts_reject_a_negative_count(engine: Engine) -> None:
    with pytest.raises(InputError, match="--n") as info:
        generate_sample_accounts(engine, -1)
    assert info.value.code == "bad_sample_count"


def test_load_refuses_when_another_load_changed_the_store(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = iter([set(), {"GA"}])  # before the computation, then at write time
    monkeypatch.setattr(geodata, "_stored_states", lambda conn, kind: next(seen))
    with pytest.raises(Conflict, match="run the command again") as info:
        load_us(engine, states="RI")
    assert info.value.code == "concurrent_load"
    assert _count(engine, geo_unit) == 0


@pytest.mark.slow
def test_sample_accounts_use_po_box_zips_where_a_county_has_no_zip_unit(
    engine: Engine,
) -> None:
    report = generate_sample_accounts(engine, 2_000, seed=5, states="AK")
    assert "02016" in report.counties_at_other_zips  # Aleutians West
    assert report.counties_without_zip == {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(account.c.county_id, account.c.zip_id, account.c.billing_postal_code)
        ).all()
    at_other = [r for r in rows if r.county_id in report.counties_at_other_zips]
    assert at_other
    assert all(r.zip_id is None and r.billing_postal_code for r in at_other)
    assert all(r.zip_id == r.billing_postal_code for r in rows if r not in at_other)
