"""Importing and exporting entity files against both stores.

The ZIP directory is a three-row stand-in for the packaged one, and the
county map two unit squares side by side::

    lat 1 +---------+---------+
          |  01001  |  01003  |
    lat 0 +---------+---------+
        lon 0     lon 1     lon 2

ZIP 02134 has a centroid in 01001's square and county 01001; ZIP 02135 has no
centroid but county 01003; ZIP 02136 has a centroid (1.5, 0.5) but no county.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import shapely
from sqlalchemy import Engine, delete, func, inspect, select

from territory.errors import NotFound, ValidationFailed
from territory.services.exporting import export_file, export_frame
from territory.services.importing import import_file
from territory.services.models import activate_model, create_model
from territory.storage.audit import read_audit
from territory.storage.bulk import insert_columns
from territory.storage.tables import (
    account,
    account_assignment,
    audit_log,
    geo_unit,
    geo_unit_metric,
    opportunity,
    opportunity_split,
    quota,
    rep,
    sales_history,
    territory,
    territory_membership,
    territory_type,
)

pytestmark = pytest.mark.integration

ZIPS = pl.DataFrame(
    {
        "zip": ["02134", "02135", "02136"],
        "lat": [0.5, None, 0.5],
        "lon": [0.5, None, 1.5],
        "county_fips": ["01001", "01003", None],
    }
)


def _zips() -> pl.DataFrame:
    return ZIPS


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _importer(engine: Engine) -> Callable[..., object]:
    def run(entity: str, path: Path, **kw: object):  # type: ignore[no-untyped-def]
        return import_file(
            engine, entity, path, actor="tester", read_zip_directory=_zips, **kw
        )

    return run


def _counties(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_columns(
            conn,
            geo_unit,
            {
                "kind": "county",
                "id": ["01001", "01003"],
                "name": ["West", "East"],
                "state": "AL",
                "centroid_lat": [0.5, 0.5],
                "centroid_lon": [0.5, 1.5],
                "geometry": [
                    shapely.to_wkb(shapely.box(0, 0, 1, 1)),
                    shapely.to_wkb(shapely.box(1, 0, 2, 1)),
                ],
            },
        )


def _model(engine: Engine, name: str = "FY27", active: bool = True) -> None:
    create_model(engine, name, actor="tester")
    if active:
        activate_model(engine, name, actor="tester")


def _rows(engine: Engine, table) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return sorted((tuple(r) for r in conn.execute(select(table)).all()), key=repr)


ACCOUNTS = (
    "id,name,billing_postal_code,latitude,longitude,annual_revenue,tier\n"
    "A1,Coords West,02136,0.25,0.5,100.5,gold\n"
    "A2,Coords East,,0.5,1.75,,\n"
    "A3,Zip centroid,02134,,,,silver\n"
    "A4,Zip county only,02135-0001,,,,\n"
    "A5,Unknown zip,99999,,,,\n"
    "A6,No postal code,,,,,\n"
    "A7,Zip without county,02136,,,,\n"
)


def test_import_accounts_places_every_account(engine: Engine, tmp_path: Path) -> None:
    _counties(engine)
    report = _importer(engine)("accounts", _csv(tmp_path, "accounts.csv", ACCOUNTS))
    assert report.rows_read == 7 and report.rows_inserted == 7
    assert dict(report.placement) == {
        "coordinates": 2,
        "zip": 2,
        "county": 1,
        "unplaced": 2,
    }
    assert report.unplaced == ("A5", "A6")
    with engine.connect() as conn:
        got = {
            r.id: (r.county_id, r.zip_id, r.placed_by, r.latitude, r.custom_fields)
            for r in conn.execute(select(account))
        }
    assert got == {
        # A1's ZIP lies in 01003's square's neighbour, but its point decides.
        "A1": ("01001", "02136", "coordinates", 0.25, {"tier": "gold"}),
        "A2": ("01003", None, "coordinates", 0.5, {"tier": None}),
        "A3": ("01001", "02134", "zip", None, {"tier": "silver"}),
        "A4": ("01003", "02135", "county", None, {"tier": None}),
        "A5": (None, None, "unplaced", None, {"tier": None}),
        "A6": (None, None, "unplaced", None, {"tier": None}),
        # No county in the directory: the centroid's polygon gives it.
        "A7": ("01003", "02136", "zip", None, {"tier": None}),
    }


def test_border_and_offshore_points_are_placed_by_rule(
    engine: Engine, tmp_path: Path
) -> None:
    _counties(engine)
    text = (
        "id,name,billing_postal_code,latitude,longitude\n"
        "B1,On the shared border,,0.5,1.0\n"  # touches 01001 and 01003
        "B2,Corner of both,,1.0,1.0\n"
        "B3,Offshore with a ZIP,02135,5.0,5.0\n"  # no polygon: the ZIP's county
        "B4,Offshore alone,,5.0,5.0\n"
    )
    report = _importer(engine)("accounts", _csv(tmp_path, "edge.csv", text))
    with engine.connect() as conn:
        got = {
            r.id: (r.county_id, r.placed_by)
            for r in conn.execute(
                select(account.c.id, account.c.county_id, account.c.placed_by)
            )
        }
    assert got == {
        "B1": ("01001", "coordinates"),
        "B2": ("01001", "coordinates"),
        "B3": ("01003", "coordinates"),
        "B4": (None, "coordinates"),
    }
    assert report.unplaced == ()


def _mixed_accounts(n: int) -> str:
    """Return ``n`` accounts of every placement kind, in descending id order.

    Row ``i`` (id ``L{i:03d}``) cycles through: coordinates in 01001's square,
    ZIP centroid 02134, ZIP+4 of county-only 02135, centroid without county
    02136, unknown ZIP 99999, nothing; names carry quotes, commas and accents.
    """
    kinds = [
        ("", "0.25", "0.5"),
        ("02134", "", ""),
        ("02135-0001", "", ""),
        ("02136", "", ""),
        ("99999", "", ""),
        ("", "", ""),
    ]
    lines = ["id,name,billing_postal_code,latitude,longitude,employees,tier"]
    for i in reversed(range(n)):
        postal, lat, lon = kinds[i % len(kinds)]
        name = f'"Acme {i}, ""Doña"" Ltd"' if i % 4 == 0 else f"Beta {i}"
        tier = ("gold", "", "silver")[i % 3]
        lines.append(f"L{i:03d},{name},{postal},{lat},{lon},{i * 7 % 50},{tier}")
    return "\n".join(lines) + "\n"


def _stored_accounts(engine: Engine) -> list[tuple[object, ...]]:
    """Return every account column but the timestamps, ordered by id."""
    cols = [c for c in account.c if c.name not in ("created_at", "updated_at")]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(account.c.id))]


@pytest.mark.parametrize("stored_first", [0, 17])
def test_large_import_path_stores_the_same_rows_as_the_small_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored_first: int
) -> None:
    """Index rebuild and many-row statements write exactly what row-by-row does.

    The store may already hold ``stored_first`` of the accounts (an upsert).
    """
    from territory.storage import bulk

    _counties(engine)
    run = _importer(engine)
    path = _csv(tmp_path, "accounts.csv", _mixed_accounts(41))
    first = _csv(tmp_path, "first.csv", _mixed_accounts(stored_first))
    results = []
    for large in (False, True):
        with engine.begin() as conn:
            conn.execute(delete(account))
        if stored_first:
            run("accounts", first)
        if large:
            # As a million-row import would: drop and rebuild the plain
            # indexes, three rows per statement on SQLite (13 statements and
            # one row), repeated values as temporary defaults on PostgreSQL.
            monkeypatch.setattr(bulk, "REBUILD_INDEXES_FROM_ROWS", 1)
            monkeypatch.setattr(bulk, "_SQLITE_ROWS_PER_STATEMENT", 3)
            monkeypatch.setattr(bulk, "_PG_DEFAULTS_FROM_ROWS", 1)
        report = run("accounts", path)
        results.append((report, _stored_accounts(engine)))
    (small, small_rows), (large, large_rows) = results
    assert large_rows == small_rows
    assert len(small_rows) == 41
    assert (large.rows_inserted, large.rows_updated) == (
        41 - stored_first,
        stored_first,
    )
    assert large.placement == small.placement
    assert dict(small.placement) == {
        "coordinates": 7,
        "zip": 14,
        "county": 7,
        "unplaced": 13,
    }
    assert large.unplaced == small.unplaced
    by_id = {r[0]: r for r in small_rows}
    # L000: quoted name with a comma and an accent; custom field kept.
    assert by_id["L000"][1] == 'Acme 0, "Doña" Ltd'
    assert by_id["L000"][-2:] == (False, {"tier": "gold"})  # is_sample, custom
    with engine.connect() as conn:
        names = {ix["name"] for ix in inspect(conn).get_indexes("account")}
    assert {"ix_account_county", "ix_account_zip"} <= names


def test_failed_import_leaves_the_store_unchanged(
    engine: Engine, tmp_path: Path
) -> None:
    run = _importer(engine)
    run("accounts", _csv(tmp_path, "first.csv", "id,name\nA1,Acme\nA2,Beta\n"))
    before = _rows(engine, account)
    bad = _csv(
        tmp_path,
        "accounts.csv",
        "id,name,billing_postal_code\nA1,Renamed,02134\nA3,New,2134\nA3,Again,\n",
    )
    with pytest.raises(
        ValidationFailed,
        match=r"accounts\.csv: 3 problem\(s\) in 2 of 3 rows; nothing was imported",
    ) as exc:
        run("accounts", bad)
    assert [(i.file, i.row, i.field) for i in exc.value.issues] == [
        ("accounts.csv", 3, "billing_postal_code"),
        ("accounts.csv", 3, "id"),
        ("accounts.csv", 4, "id"),
    ]
    assert exc.value.code == "import_invalid"
    assert _rows(engine, account) == before


def test_skip_invalid_imports_good_rows_and_reports_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path, "reps.csv", "id,name,capacity\nR1,Ann,10\nR2,,5\nR3,Cy,lots\nR4,Di,\n"
    )
    report = _importer(engine)("reps", path, skip_invalid=True)
    assert (report.rows_read, report.rows_imported, report.rows_skipped) == (4, 2, 2)
    assert [(i.row, i.field) for i in report.skipped] == [(3, "name"), (4, "capacity")]
    assert [r[0] for r in _rows(engine, rep)] == ["R1", "R4"]
    assert any("skipped rows (2)" in line for line in report.summary_lines())


def test_missing_column_is_refused_even_with_skip_invalid(
    engine: Engine, tmp_path: Path
) -> None:
    path = _csv(tmp_path, "reps.csv", "id\nR1\n")
    with pytest.raises(ValidationFailed, match="problem\\(s\\) with its columns"):
        _importer(engine)("reps", path, skip_invalid=True)


def test_reimport_updates_given_columns_and_keeps_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    run = _importer(engine)
    run(
        "accounts",
        _csv(
            tmp_path,
            "a.csv",
            "id,name,industry,latitude,longitude\nA1,Acme,Tech,0.5,0.5\n",
        ),
    )
    with engine.connect() as conn:
        created = conn.execute(select(account.c.created_at)).scalar_one()
    report = run(
        "accounts", _csv(tmp_path, "b.csv", "id,name\nA1,Acme Corp\nA2,Beta\n")
    )
    assert (report.rows_inserted, report.rows_updated) == (1, 1)
    with engine.connect() as conn:
        row = conn.execute(select(account).where(account.c.id == "A1")).one()
    assert (row.name, row.industry, row.latitude, row.placed_by) == (
        "Acme Corp",
        "Tech",
        0.5,
        "coordinates",
    )
    assert row.created_at == created


def test_model_is_required_when_none_is_active(engine: Engine, tmp_path: Path) -> None:
    _model(engine, active=False)
    path = _csv(tmp_path, "t.csv", "id,name\nT1,East\n")
    with pytest.raises(
        NotFound, match="No territory model is active; name one with --model"
    ):
        _importer(engine)("territories", path)
    report = _importer(engine)("territories", path, model="FY27")
    assert report.model == "FY27" and report.rows_inserted == 1


def test_unknown_references_are_reported(engine: Engine, tmp_path: Path) -> None:
    _model(engine)
    run = _importer(engine)
    run("accounts", _csv(tmp_path, "a.csv", "id,name\nA1,Acme\n"))
    run("reps", _csv(tmp_path, "r.csv", "id,name\nR1,Ann\n"))
    run("territories", _csv(tmp_path, "t.csv", "id,name,parent\nT1,East,\n"))
    cases = [
        (
            "assignments",
            "account_id,territory_id\nA1,T9\nA9,T1\n",
            [
                (2, "territory_id", "unknown territory 'T9' in model 'FY27'"),
                (3, "account_id", "unknown account 'A9'"),
            ],
        ),
        (
            "memberships",
            "territory_id,rep_id,role\nT1,R9,owner\n",
            [(2, "rep_id", "unknown rep 'R9'")],
        ),
        (
            "territories",
            "id,name,parent\nT2,West,T8\n",
            [(2, "parent", "unknown parent territory 'T8'")],
        ),
        (
            "opportunities",
            "id,account_id,amount,stage,splits\nO1,A1,5,new,R1:50;R7:50\n",
            [(2, "splits", "splits name unknown rep(s) R7")],
        ),
        (
            "quotas",
            "rep_id,period,amount\nR5,2027,100\n",
            [(2, "rep_id", "unknown rep 'R5'")],
        ),
        (
            "sales",
            "account_id,period,amount\nA2,2027-Q1,10\n",
            [(2, "account_id", "unknown account 'A2'")],
        ),
    ]
    for entity, text, expected in cases:
        with pytest.raises(ValidationFailed) as exc:
            run(entity, _csv(tmp_path, f"{entity}.csv", text))
        assert [(i.row, i.field, i.problem) for i in exc.value.issues] == expected
        assert all(i.file == f"{entity}.csv" for i in exc.value.issues)


def test_assignment_import_writes_audit_rows(engine: Engine, tmp_path: Path) -> None:
    _model(engine)
    run = _importer(engine)
    run("accounts", _csv(tmp_path, "a.csv", "id,name\nA1,Acme\nA2,Beta\n"))
    run("territories", _csv(tmp_path, "t.csv", "id,name\nT1,East\nT2,West\n"))
    report = run(
        "assignments",
        _csv(tmp_path, "links.csv", "account_id,territory_id\nA1,T1\nA2,T1\n"),
    )
    assert report.rows_inserted == 2
    run(
        "assignments",
        _csv(
            tmp_path,
            "links2.csv",
            "account_id,territory_id,end_date\nA1,T1,2027-12-31\nA2,T1,\n",
        ),
    )
    with engine.connect() as conn:
        audit = read_audit(conn, entity="account_assignment")
        links = conn.execute(select(account_assignment)).all()
    assert [(a["entity_id"], a["action"], a["cause"], a["actor"]) for a in audit] == [
        ("A1->T1", "insert", "manual", "tester"),
        ("A2->T1", "insert", "manual", "tester"),
        ("A1->T1", "update", "manual", "tester"),
    ]
    assert audit[2]["old_value"]["end_date"] is None
    assert audit[2]["new_value"]["end_date"] == "2027-12-31"
    assert audit[0]["source"] == "import:links.csv"
    assert {(r.account_id, r.cause) for r in links} == {
        ("A1", "manual"),
        ("A2", "manual"),
    }


def test_territory_cycle_is_refused(engine: Engine, tmp_path: Path) -> None:
    _model(engine)
    path = _csv(tmp_path, "t.csv", "id,name,parent\nT1,a,T2\nT2,b,T1\n")
    with pytest.raises(ValidationFailed, match="2 problem\\(s\\) in 2 of 2 rows"):
        _importer(engine)("territories", path)
    assert _rows(engine, territory) == []


def test_territory_cycle_is_reported_with_the_other_row_issues(
    engine: Engine, tmp_path: Path
) -> None:
    _model(engine)
    path = _csv(
        tmp_path,
        "t.csv",
        "id,name,parent\nTX1,Texas,NOPE\nTX2,T2,TX3\nTX3,T3,TX2\nTX4,T4,\n",
    )
    with pytest.raises(ValidationFailed) as exc:
        _importer(engine)("territories", path)
    cycle = "territory parents form a cycle: TX2 -> TX3 -> TX2 (rows 3 and 4)"
    assert [(i.file, i.row, i.field, i.problem) for i in exc.value.issues] == [
        ("t.csv", 2, "parent", "unknown parent territory 'NOPE'"),
        ("t.csv", 3, "parent", cycle),
        ("t.csv", 4, "parent", cycle),
    ]
    assert "give one of its territories another parent" in exc.value.issues[1].hint
    report = _importer(engine)("territories", path, skip_invalid=True)
    assert (report.rows_imported, report.rows_skipped) == (1, 3)
    with engine.connect() as conn:
        stored = conn.execute(select(territory.c.id, territory.c.parent_id)).all()
    assert [tuple(r) for r in stored] == [("TX4", None)]


def test_territory_cycle_through_stored_territories_names_the_file_row(
    engine: Engine, tmp_path: Path
) -> None:
    _model(engine)
    run = _importer(engine)
    run("territories", _csv(tmp_path, "a.csv", "id,name,parent\nR1,r,\nT1,a,R1\n"))
    run("territories", _csv(tmp_path, "b.csv", "id,name,parent\nT2,b,T1\n"))
    before = _rows(engine, territory)
    with pytest.raises(ValidationFailed) as exc:
        run("territories", _csv(tmp_path, "c.csv", "id,name,parent\nR1,r,T2\n"))
    (issue,) = exc.value.issues
    assert (issue.file, issue.row, issue.field) == ("c.csv", 2, "parent")
    assert issue.problem == (
        "territory parents form a cycle: R1 -> T2 -> T1 -> R1 (row 2)"
    )
    assert _rows(engine, territory) == before


# ---------------------------------------------------------------- round trip

FILES = {
    "reps": "id,name,email,home_lat,home_lon,capacity,active\n"
    "R1,Ann Lee,ann@example.com,42.1,-71.2,1600,true\nR2,Bo,,,,,false\n",
    "accounts": ACCOUNTS,
    "units": None,  # written below from a frame (geometry)
    "territories": "id,name,parent,type,description\nR,Region,,region,Top\n"
    "T1,East,R,,\nT2,West,R,region,\n",
    "assignments": "account_id,territory_id,start_date,end_date\nA1,T1,2027-01-01,\n"
    "A1,T2,,2027-06-30\nA3,T2,,\n",
    "memberships": "territory_id,rep_id,role,start_date,end_date\n"
    "T1,R1,owner,2027-01-01,2027-12-31\nT1,R2,overlay,,\n",
    "opportunities": "id,account_id,name,amount,stage,close_date,is_closed,is_won,"
    "territory_id,excluded_from_territory_assignment,splits\n"
    "O1,A1,Big deal,125000.5,negotiation,2027-03-31,false,false,T1,false,"
    "R1:60;R2:40\n"
    "O2,A3,,99.99,closed won,,true,true,,true,\n",
    "sales": "account_id,period,amount\n"
    "A1,2027,1000.25\nA1,2027-Q1,250\nA3,2027-03,0.1\n",
    "quotas": "territory_id,rep_id,period,amount\nT1,,2027,500000\n,R1,2027-Q1,1.5e5\n",
}

ORDER = (
    "reps",
    "units",
    "accounts",
    "territories",
    "assignments",
    "memberships",
    "opportunities",
    "sales",
    "quotas",
)

TABLES = (
    audit_log,
    quota,
    sales_history,
    opportunity_split,
    opportunity,
    territory_membership,
    account_assignment,
    territory,
    account,
    rep,
    geo_unit_metric,
    geo_unit,
)


def _units_file(path: Path) -> Path:
    from territory.io.tabular import write_table

    write_table(
        pl.DataFrame(
            {
                "id": ["01001", "01003", "02134"],
                "kind": ["county", "county", "zip"],
                "name": ["Doña Ana", "East", "Boston"],
                "state": ["NM", "AL", "MA"],
                "population": [55869.0, None, 1.5],
                "labor_force": [23288.0, 100.0, None],
                "centroid_lat": [None, 0.5, 0.5],
                "centroid_lon": [None, 1.5, 0.5],
                "parent_id": [None, None, "01001"],
                "geometry": [
                    shapely.to_wkb(shapely.box(0, 0, 1, 1)),
                    shapely.to_wkb(
                        shapely.Polygon([(1, 0), (2, 0), (2, 1), (1.1, 0.9), (1, 0)])
                    ),
                    None,
                ],
            }
        ),
        path,
    )
    return path


def _load_everything(engine: Engine, tmp_path: Path) -> None:
    _model(engine)
    with engine.begin() as conn:
        conn.execute(
            territory_type.insert(), [{"id": "region", "name": "Region", "priority": 1}]
        )
    run = _importer(engine)
    for entity in ORDER:
        text = FILES[entity]
        path = (
            _units_file(tmp_path / "units_in.parquet")
            if text is None
            else _csv(tmp_path, f"{entity}_in.csv", text)
        )
        run(entity, path)
    # Accounts placed at their ZIP centroid with its coordinates filled in, as
    # `territory data sample-accounts` stores them: they must come back placed
    # by their ZIP, not by "their" coordinates.
    with engine.begin() as conn:
        insert_columns(
            conn,
            account,
            {
                "id": ["Z1", "Z2"],
                "name": ["At the centroid", "Beside it"],
                "billing_postal_code": ["02134", "02134"],
                "latitude": [0.5, 0.5],
                "longitude": [0.5, 0.75],
                "zip_id": ["02134", "02134"],
                "county_id": ["01001", "01001"],
                "placed_by": ["zip", "coordinates"],
                "custom_fields": [{"tier": "bronze"}, {"tier": None}],
                "created_at": datetime(2027, 1, 1, tzinfo=UTC),
                "updated_at": datetime(2027, 1, 1, tzinfo=UTC),
            },
        )


@pytest.mark.parametrize("ext", ["csv", "parquet", "geojson"])
def test_export_then_import_gives_identical_data(
    engine: Engine, tmp_path: Path, ext: str
) -> None:
    _load_everything(engine, tmp_path)
    snapshot = {t.name: _rows(engine, t) for t in TABLES if t is not audit_log}
    exported = {e: export_frame(engine, e) for e in ORDER}
    for entity in ORDER:
        export_file(engine, entity, tmp_path / f"{entity}.{ext}")
    with engine.begin() as conn:
        for t in TABLES:
            conn.execute(delete(t))
    run = _importer(engine)
    for entity in ORDER:
        run(entity, tmp_path / f"{entity}.{ext}")
    for entity in ORDER:
        assert export_frame(engine, entity).equals(exported[entity]), entity
    for t in TABLES:
        if t in (audit_log, account):
            continue
        rows = _rows(engine, t)
        if t is territory_membership or t is quota:
            rows = [r[1:] for r in rows]  # generated ids differ
            snap = [r[1:] for r in snapshot[t.name]]
        else:
            snap = snapshot[t.name]
        assert rows == snap, t.name
    # Accounts: identical except their timestamps.
    ts = {"created_at", "updated_at"}
    cols = [c for c in account.c if c.name not in ts]
    with engine.connect() as conn:
        now_rows = sorted(conn.execute(select(*cols)).all())
    assert now_rows == sorted(tuple(r[: len(cols)]) for r in snapshot["account"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(account)).scalar() == 9
        placed = dict(
            conn.execute(
                select(account.c.id, account.c.placed_by).where(
                    account.c.id.in_(["Z1", "Z2"])
                )
            ).all()
        )
    assert placed == {"Z1": "zip", "Z2": "coordinates"}


def test_units_export_columns_and_zip_leading_zeros(
    engine: Engine, tmp_path: Path
) -> None:
    _importer(engine)("units", _units_file(tmp_path / "u.parquet"))
    out = tmp_path / "units.csv"
    report = export_file(engine, "units", out)
    assert report.columns[:6] == (
        "id",
        "kind",
        "name",
        "state",
        "labor_force",
        "population",
    )
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith("01001,county,Doña Ana,NM,")
    assert "\n02134,zip,Boston,MA," in text
    with engine.connect() as conn:
        cent = conn.execute(
            select(geo_unit.c.centroid_lat, geo_unit.c.centroid_lon).where(
                geo_unit.c.id == "01001"
            )
        ).one()
    assert tuple(cent) == (0.5, 0.5)  # from the geometry


def test_units_with_out_of_range_geometry_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    from territory.io.tabular import write_table

    path = tmp_path / "u.geojson"
    write_table(
        pl.DataFrame(
            {
                "id": ["X"],
                "kind": ["custom"],
                "name": ["Mercator"],
                "state": ["AL"],
                "geometry": [shapely.to_wkb(shapely.box(-9e6, 3.8e6, -8.9e6, 3.9e6))],
            }
        ),
        path,
    )
    with pytest.raises(ValidationFailed) as exc:
        _importer(engine)("units", path)
    (issue,) = exc.value.issues
    assert (issue.row, issue.field) == (2, "geometry")
    assert "outside the longitude/latitude range" in issue.problem
    assert _rows(engine, geo_unit) == []
