"""What an import checks against the store and the map, on both stores.

The ZIP directory is a stand-in on the equator, where a degree of longitude
or latitude is 2 pi R / 360 = 111.195 km (R = 6,371.0088 km)::

    ZIP 10001: centroid (lat 0, lon 3), county 01001, state GA
    ZIP 10002: centroid (lat 1, lon 4), county 01001, state GA

so state GA's extent, the box around its ZIP centroids, is lat 0..1 and
lon 3..4. The limit is 250 km from the ZIP centroid or outside that box.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select

from territory.errors import Conflict, ValidationFailed
from territory.io.report import ImportReport
from territory.services.exporting import export_file, export_frame
from territory.services.importing import import_file
from territory.services.models import activate_model, archive_model, create_model
from territory.storage.tables import (
    account,
    account_assignment,
    quota,
    territory,
    territory_membership,
)

pytestmark = pytest.mark.integration

ZIPS = pl.DataFrame(
    {
        "zip": ["10001", "10002", "30303"],
        "lat": [0.0, 1.0, 33.7525],
        "lon": [3.0, 4.0, -84.3888],
        "county_fips": ["01001", "01001", "13121"],
        "state": ["GA", "GA", None],
    }
)
KM_PER_DEGREE = 111.195


def _run(engine: Engine, entity: str, path: Path, **kw: Any) -> ImportReport:
    return import_file(
        engine, entity, path, actor="tester", read_zip_directory=lambda: ZIPS, **kw
    )


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _accounts(engine: Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as conn:
        return {
            r.id: tuple(r)[1:]
            for r in conn.execute(
                select(
                    account.c.id,
                    account.c.latitude,
                    account.c.longitude,
                    account.c.zip_id,
                    account.c.placed_by,
                    account.c.custom_fields,
                )
            )
        }


# --------------------------------------------------------- Salesforce files

SALESFORCE = (
    "Id,Name,BillingStreet,BillingCity,BillingState,BillingPostalCode,"
    "BillingCountry,Industry,AnnualRevenue,NumberOfEmployees,Tier__c\n"
    "0015g00000AbCdEAAV,Acme,1 Peachtree St,Atlanta,GA,30303,US,Technology,"
    "2500000,120,Gold\n"
    "0015g00000AbCdFAAV,Beta,,Athens,GA,99999,US,,,,\n"
)


def test_salesforce_data_loader_accounts_import_as_they_are(
    engine: Engine, tmp_path: Path
) -> None:
    report = _run(engine, "accounts", _csv(tmp_path, "Account.csv", SALESFORCE))
    assert (report.rows_inserted, report.rows_skipped) == (2, 0)
    assert "custom fields: Tier__c" in report.summary_lines()
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(account))}
    acme = rows["0015g00000AbCdEAAV"]
    assert (
        acme.name,
        acme.billing_street,
        acme.billing_city,
        acme.billing_state,
        acme.billing_postal_code,
        acme.billing_country,
        acme.industry,
        acme.annual_revenue,
        acme.employees,
        acme.custom_fields,
        acme.zip_id,
        acme.placed_by,
    ) == (
        "Acme",
        "1 Peachtree St",
        "Atlanta",
        "GA",
        "30303",
        "US",
        "Technology",
        2_500_000.0,
        120,
        {"Tier__c": "Gold"},
        "30303",
        "zip",
    )
    assert rows["0015g00000AbCdFAAV"].custom_fields == {"Tier__c": None}
    # The ids in every export are the ids that came in.
    for layout, column in (("territory", "id"), ("salesforce", "Id")):
        frame = export_frame(engine, "accounts", layout=layout)
        assert frame.get_column(column).to_list() == [
            "0015g00000AbCdEAAV",
            "0015g00000AbCdFAAV",
        ]


def test_salesforce_export_round_trips_both_ways(
    engine: Engine, tmp_path: Path
) -> None:
    """Salesforce -> territory -> Salesforce, and territory -> Salesforce -> back."""
    _run(engine, "accounts", _csv(tmp_path, "Account.csv", SALESFORCE))
    _run(
        engine,
        "accounts",
        _csv(
            tmp_path,
            "more.csv",
            "id,name,billing_postal_code,latitude,longitude,excluded_from_realign\n"
            "T1,Measured,10001,0.5,3.5,true\n",
        ),
    )
    before = export_frame(engine, "accounts")
    out = tmp_path / "Account_out.csv"
    report = export_file(engine, "accounts", out, layout="salesforce")
    assert report.columns == (
        "Id",
        "Name",
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "Industry",
        "AnnualRevenue",
        "NumberOfEmployees",
        "BillingLatitude",
        "BillingLongitude",
        "IsExcludedFromRealign",
        "Tier__c",
    )
    back = pl.read_csv(out, infer_schema=False)
    first = pl.read_csv(tmp_path / "Account.csv", infer_schema=False)
    # Every column that came from Salesforce comes back with its values.
    for column in first.columns:
        got = back.get_column(column).head(2)
        want = first.get_column(column)
        if column in ("AnnualRevenue", "NumberOfEmployees"):
            got, want = got.cast(pl.Float64), want.cast(pl.Float64)
        assert got.to_list() == want.to_list(), column
    assert back.row(2) == (
        "T1",
        "Measured",
        None,
        None,
        None,
        "10001",
        None,
        None,
        None,
        None,
        "0.5",
        "3.5",
        "true",
        None,
    )
    # ... and imports back into the same accounts.
    _run(engine, "accounts", out)
    assert export_frame(engine, "accounts").equals(before)


def test_one_field_in_both_spellings_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = _csv(tmp_path, "a.csv", "Id,id,Name\nA1,A1,Acme\n")
    with pytest.raises(ValidationFailed, match="problem\\(s\\) with its columns") as e:
        _run(engine, "accounts", path)
    (issue,) = e.value.issues
    assert issue.problem == "columns 'id' and 'Id' both hold field id"
    assert _accounts(engine) == {}


# ------------------------------------------------------------ custom fields


def test_custom_field_names_match_the_stored_ones_ignoring_case(
    engine: Engine, tmp_path: Path
) -> None:
    _run(engine, "accounts", _csv(tmp_path, "a.csv", "id,name,tier__c\nA1,x,Gold\n"))
    report = _run(
        engine,
        "accounts",
        _csv(tmp_path, "b.csv", "id,name,Tier__c\nA1,x,Silver\nA2,y,Bronze\n"),
    )
    assert (
        "column 'Tier__c' is the stored custom field 'tier__c' (custom field names "
        "ignore case; the stored spelling is kept)"
    ) in report.summary_lines()
    assert {k: v[-1] for k, v in _accounts(engine).items()} == {
        "A1": {"tier__c": "Silver"},
        "A2": {"tier__c": "Bronze"},
    }
    header = export_frame(engine, "accounts").columns
    assert [c for c in header if c.lower() == "tier__c"] == ["tier__c"]


def test_reimport_keeps_the_custom_fields_the_file_leaves_out(
    engine: Engine, tmp_path: Path
) -> None:
    first = "id,name,tier,region\nA1,x,gold,East\nA2,y,,West\n"
    _run(engine, "accounts", _csv(tmp_path, "a.csv", first))
    again = "id,name,Tier\nA1,x,silver\nA3,z,bronze\n"
    report = _run(engine, "accounts", _csv(tmp_path, "b.csv", again))
    assert (report.rows_inserted, report.rows_updated) == (1, 1)
    assert {k: v[-1] for k, v in _accounts(engine).items()} == {
        "A1": {"tier": "silver", "region": "East"},
        "A2": {"tier": None, "region": "West"},
        "A3": {"tier": "bronze"},
    }


def test_header_typo_is_refused_and_other_columns_are_named(
    engine: Engine, tmp_path: Path
) -> None:
    typo = _csv(tmp_path, "t.csv", "id,name,billing_postl_code\nT1,x,10001\n")
    with pytest.raises(ValidationFailed) as e:
        _run(engine, "accounts", typo)
    (issue,) = e.value.issues
    assert (issue.file, issue.row, issue.field) == ("t.csv", 1, "billing_postl_code")
    assert issue.hint.startswith("did you mean billing_postal_code?")
    assert e.value.code == "import_invalid"
    assert _accounts(engine) == {}
    fixed = _csv(
        tmp_path, "f.csv", "id,name,billing_postal_code,segment\nT1,x,10001,SMB\n"
    )
    report = _run(engine, "accounts", fixed)
    assert "custom fields: segment" in report.summary_lines()
    assert report.placement == {"zip": 1}


# --------------------------------------------------------------- geometry


def _geojson(tmp_path: Path, name: str, features: list[dict[str, object]]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _feature(props: dict[str, object], lon: float, lat: float) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def test_geojson_with_a_point_and_coordinates_imports(
    engine: Engine, tmp_path: Path
) -> None:
    """QGIS output: the Point and the latitude/longitude it was made from."""
    path = _geojson(
        tmp_path,
        "c7.geojson",
        [
            _feature(
                {"id": "C7", "name": "x", "latitude": 0.5, "longitude": 3.5}, 3.5, 0.5
            )
        ],
    )
    report = _run(engine, "accounts", path)
    assert report.rows_inserted == 1 and report.notes[0] != "custom fields: geometry"
    assert _accounts(engine) == {"C7": (0.5, 3.5, None, "coordinates", None)}


def test_geojson_point_elsewhere_than_its_coordinates_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    path = _geojson(
        tmp_path,
        "c8.geojson",
        [
            _feature(
                {"id": "C8", "name": "x", "latitude": 0.5, "longitude": 3.5}, 0.5, 3.5
            )
        ],
    )
    with pytest.raises(ValidationFailed) as e:
        _run(engine, "accounts", path)
    (issue,) = e.value.issues
    assert (issue.row, issue.field) == (2, "latitude")
    assert "are different places" in issue.problem
    assert _accounts(engine) == {}


# ------------------------------------------------- coordinates and postcode


def test_coordinates_near_their_zip_or_state_are_accepted(
    engine: Engine, tmp_path: Path
) -> None:
    text = (
        "id,name,billing_postal_code,billing_state,latitude,longitude\n"
        "N1,x,10001,,0,5\n"  # 2 degrees = 222 km from the centroid (0, 3)
        "N2,x,,GA,0,6\n"  # 2 degrees east of the box's edge at lon 4
        "N3,x,,ga,0.5,3.5\n"  # inside the box
        "N4,x,99999,TX,-60,100\n"  # nothing known to compare with
    )
    report = _run(engine, "accounts", _csv(tmp_path, "near.csv", text))
    assert (report.rows_inserted, report.rows_skipped) == (4, 0)
    assert report.placement == {"coordinates": 4}


def test_coordinates_far_from_their_zip_are_refused_with_both_places(
    engine: Engine, tmp_path: Path
) -> None:
    text = (
        "id,name,billing_postal_code,latitude,longitude\n"
        "F1,x,10001,0,6\n"  # 3 degrees: 333.6 km
        # swapped: (0, 3) is the centroid itself; as it is, cos c = cos^2 3 deg,
        # c = 4.2415 deg = 471.6 km
        "F2,x,10001,3,0\n"
        "F3,x,10001,0,3.01\n"  # 1.1 km: fine
    )
    with pytest.raises(ValidationFailed) as e:
        _run(engine, "accounts", _csv(tmp_path, "far.csv", text))
    f1, f2 = e.value.issues
    assert (f1.file, f1.row, f1.field) == ("far.csv", 2, "latitude")
    assert f1.problem == (
        f"latitude/longitude (0, 6) lie {3 * KM_PER_DEGREE:,.0f} km from the "
        "centroid (0, 3) of ZIP code 10001, more than the 250 km a ZIP code may "
        "be from its account"
    )
    assert f1.hint == (
        "correct the coordinates or the ZIP code, or leave latitude and longitude "
        "blank to place the account by its postal code"
    )
    assert f2.row == 3
    assert f2.problem.startswith(
        "latitude/longitude (3, 0) lie 472 km from the centroid (0, 3)"
    )
    assert f2.hint.startswith(
        "latitude and longitude look swapped: (0, 3) lies 0 km from ZIP code 10001"
    )
    assert _accounts(engine) == {}
    # --skip-invalid imports the third and names the other two.
    report = _run(engine, "accounts", tmp_path / "far.csv", skip_invalid=True)
    assert report.rows_inserted == 1 and report.rows_skipped == 2
    assert [i.row for i in report.skipped] == [2, 3]
    assert set(_accounts(engine)) == {"F3"}


def test_swapped_point_outside_its_state_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    text = (
        "id,name,billing_state,latitude,longitude\n"
        "S1,x,GA,0,7\n"  # 3 degrees east of the box: 333.6 km
        "S2,x,GA,3.5,0.5\n"  # swapped, (0.5, 3.5) is inside the box
    )
    with pytest.raises(ValidationFailed) as e:
        _run(engine, "accounts", _csv(tmp_path, "state.csv", text))
    s1, s2 = e.value.issues
    assert s1.problem == (
        f"latitude/longitude (0, 7) lie {3 * KM_PER_DEGREE:,.0f} km outside "
        "billing state GA (nearest point of the state's extent (0, 4)), more than "
        "the 250 km allowed"
    )
    assert s2.hint.startswith(
        "latitude and longitude look swapped: (0.5, 3.5) lies 0 km from state GA"
    )


def test_swapped_csv_row_and_geojson_point_near_atlanta_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    """The tester's rows: Atlanta's ZIP with its latitude and longitude swapped."""
    csv_path = _csv(
        tmp_path,
        "g2.csv",
        "id,name,billing_postal_code,latitude,longitude\nQA-G2,x,30303,-84.39,33.75\n",
    )
    geo_path = _geojson(
        tmp_path,
        "g2.geojson",
        [
            _feature(
                {"id": "QA-G2", "name": "x", "billing_postal_code": "30303"},
                33.75,
                -84.39,
            )
        ],
    )
    for path in (csv_path, geo_path):
        with pytest.raises(ValidationFailed) as e:
            _run(engine, "accounts", path)
        (issue,) = e.value.issues
        assert "of ZIP code 30303" in issue.problem
        assert issue.hint.startswith("latitude and longitude look swapped")
    assert _accounts(engine) == {}


# ------------------------------------------------------------ amounts


def test_negative_quota_is_refused(engine: Engine, tmp_path: Path) -> None:
    create_model(engine, "FY28", actor="tester")
    activate_model(engine, "FY28", actor="tester")
    _run(engine, "territories", _csv(tmp_path, "t.csv", "id,name\nT1,East\n"))
    path = _csv(
        tmp_path, "q.csv", "territory_id,period,amount\nT1,2028,-1\nT1,2029,0\n"
    )
    with pytest.raises(ValidationFailed) as e:
        _run(engine, "quotas", path)
    (issue,) = e.value.issues
    assert (issue.row, issue.field, issue.problem) == (2, "amount", "'-1' is negative")
    with engine.connect() as conn:
        assert conn.execute(select(quota)).all() == []


# ------------------------------------------------------------ archived models


def test_imports_into_an_archived_model_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    create_model(engine, "FY27", actor="tester")
    activate_model(engine, "FY27", actor="tester")
    _run(engine, "accounts", _csv(tmp_path, "a.csv", "id,name\nA1,Acme\n"))
    _run(engine, "reps", _csv(tmp_path, "r.csv", "id,name\nR1,Ann\n"))
    _run(engine, "territories", _csv(tmp_path, "t.csv", "id,name\nT1,East\n"))
    _run(
        engine,
        "assignments",
        _csv(tmp_path, "l.csv", "account_id,territory_id\nA1,T1\n"),
    )
    archive_model(engine, "FY27", actor="tester")
    files = {
        "assignments": "account_id,territory_id,end_date\nA1,T1,2027-12-31\n",
        "memberships": "territory_id,rep_id\nT1,R1\n",
        "quotas": "territory_id,period,amount\nT1,2027,100\n",
        "territories": "id,name\nT2,West\n",
    }
    with engine.connect() as conn:
        before = {
            t.name: conn.execute(select(t)).all()
            for t in (territory, account_assignment, territory_membership, quota)
        }
    for entity, text in files.items():
        path = _csv(tmp_path, f"{entity}.csv", text)
        with pytest.raises(Conflict, match="Model 'FY27' is archived") as e:
            _run(engine, entity, path, model="FY27")
        assert e.value.code == "model_archived"
    # A territories file naming the archived model in its column is refused too.
    named = _csv(tmp_path, "named.csv", "id,name,model\nT3,North,FY27\n")
    with pytest.raises(Conflict, match="cannot take territories"):
        _run(engine, "territories", named)
    with engine.connect() as conn:
        after = {
            t.name: conn.execute(select(t)).all()
            for t in (territory, account_assignment, territory_membership, quota)
        }
    assert after == before
    # Exports keep working on the archive.
    out = tmp_path / "links.csv"
    assert export_file(engine, "assignments", out, model="FY27").rows == 1
    assert export_frame(engine, "territories", model="FY27").get_column(
        "id"
    ).to_list() == ["T1"]
