"""Typing and checking entity files: every issue names file, row and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from territory.errors import Issue
from territory.io.schema import ENTITIES, schema_of
from territory.io.tabular import read_table
from territory.io.validation import Validated, validate


def _validate(tmp_path: Path, entity: str, text: str) -> Validated:
    path = tmp_path / f"{entity}.csv"
    path.write_text(text, encoding="utf-8")
    return validate(read_table(path), schema_of(entity))


def _where(issues: list[Issue]) -> list[tuple[str | None, int | None, str | None]]:
    return [(i.file, i.row, i.field) for i in issues]


def test_valid_accounts_are_typed(tmp_path: Path) -> None:
    v = _validate(
        tmp_path,
        "accounts",
        "id,name,billing_postal_code,annual_revenue,employees,latitude,longitude,"
        "excluded_from_realign,tier\n"
        "A1,Acme,02134-1234,1500.5,12,42.35,-71.06,yes,gold\n"
        "A2,Beta,01001,,,,,,\n",
    )
    assert v.issues == [] and v.fatal == []
    good = v.good()
    assert good.get_column("billing_postal_code").to_list() == ["02134-1234", "01001"]
    assert good.get_column("annual_revenue").to_list() == [1500.5, None]
    assert good.get_column("employees").to_list() == [12, None]
    assert good.get_column("excluded_from_realign").to_list() == [True, None]
    assert v.extras == ("tier",)


def test_missing_required_column_is_fatal(tmp_path: Path) -> None:
    v = _validate(tmp_path, "accounts", "id,billing_city\nA1,Boston\n")
    assert _where(v.fatal) == [("accounts.csv", 1, "name")]
    assert "required column 'name' is missing" in v.fatal[0].problem


def test_unknown_column_is_fatal_where_extras_are_refused(tmp_path: Path) -> None:
    v = _validate(tmp_path, "reps", "id,name,team\nR1,Ann,East\n")
    assert _where(v.fatal) == [("reps.csv", 1, "team")]
    assert "unknown column 'team'" in v.fatal[0].problem


@pytest.mark.parametrize(
    ("entity", "header", "row", "field", "problem"),
    [
        ("accounts", "id,name", "A1,", "name", "name is blank"),
        (
            "accounts",
            "id,name,annual_revenue",
            'A1,x,"1,200"',
            "annual_revenue",
            "'1,200' is not a number",
        ),
        (
            "accounts",
            "id,name,annual_revenue",
            "A1,x,$5",
            "annual_revenue",
            "'$5' is not a number",
        ),
        (
            "accounts",
            "id,name,employees",
            "A1,x,12.5",
            "employees",
            "'12.5' is not a whole number",
        ),
        (
            "accounts",
            "id,name,excluded_from_realign",
            "A1,x,maybe",
            "excluded_from_realign",
            "'maybe' is not true or false",
        ),
        (
            "accounts",
            "id,name,latitude,longitude",
            "A1,x,91,10",
            "latitude",
            "latitude 91 is outside -90..90",
        ),
        (
            "accounts",
            "id,name,latitude,longitude",
            "A1,x,10,-181",
            "longitude",
            "longitude -181 is outside -180..180",
        ),
        (
            "accounts",
            "id,name,latitude,longitude",
            "A1,x,10,",
            "longitude",
            "latitude is given but longitude is blank",
        ),
        (
            "memberships",
            "territory_id,rep_id,role",
            "T1,R1,boss",
            "role",
            "'boss' is not a role",
        ),
        (
            "memberships",
            "territory_id,rep_id,start_date,end_date",
            "T1,R1,2027-05-01,2027-01-01",
            "end_date",
            "is before start_date",
        ),
        (
            "memberships",
            "territory_id,rep_id,start_date",
            "T1,R1,05/01/2027",
            "start_date",
            "'05/01/2027' is not a date",
        ),
        (
            "sales",
            "account_id,period,amount",
            "A1,2027-Q5,10",
            "period",
            "'2027-Q5' is not a period",
        ),
        (
            "sales",
            "account_id,period,amount",
            "A1,2027-13,10",
            "period",
            "'2027-13' is not a period",
        ),
        (
            "sales",
            "account_id,period,amount",
            "A1,FY27,10",
            "period",
            "'FY27' is not a period",
        ),
        (
            "quotas",
            "territory_id,rep_id,period,amount",
            "T1,R1,2027,5",
            "rep_id",
            "names both a territory and a rep",
        ),
        (
            "quotas",
            "territory_id,rep_id,period,amount",
            ",,2027,5",
            "territory_id",
            "names neither a territory nor a rep",
        ),
        ("reps", "id,name,capacity", "R1,Ann,-3", "capacity", "'-3' is negative"),
        ("quotas", "territory_id,period,amount", "T1,2028,-1", "amount", "'-1' is"),
        (
            "opportunities",
            "id,account_id,amount,stage",
            "O1,A1,-0.5,new",
            "amount",
            "'-0.5' is negative",
        ),
        (
            "accounts",
            "id,name,annual_revenue",
            "A1,x,-100",
            "annual_revenue",
            "'-100' is negative",
        ),
        ("accounts", "id,name,employees", "A1,x,-2", "employees", "'-2' is negative"),
        (
            "units",
            "id,kind,name,state",
            "01001,parish,Autauga,AL",
            "kind",
            "'parish' is not a unit kind",
        ),
        (
            "opportunities",
            "id,account_id,amount,stage,splits",
            "O1,A1,5,new,R1:60;R2:50",
            "splits",
            "splits add up to 110%",
        ),
        (
            "opportunities",
            "id,account_id,amount,stage,splits",
            "O1,A1,5,new,R1-60",
            "splits",
            "split 'R1-60' is not REP_ID:PERCENT",
        ),
        (
            "opportunities",
            "id,account_id,amount,stage,splits",
            "O1,A1,5,new,R1:160",
            "splits",
            "is not between 0 and 100",
        ),
        (
            "opportunities",
            "id,account_id,amount,stage,splits",
            "O1,A1,5,new,R1:10;R1:20",
            "splits",
            "a rep appears twice",
        ),
    ],
)
def test_bad_value_is_reported_with_row_and_field(
    tmp_path: Path, entity: str, header: str, row: str, field: str, problem: str
) -> None:
    v = _validate(tmp_path, entity, f"{header}\n{row}\n")
    assert v.fatal == []
    matching = [i for i in v.issues if problem in i.problem]
    assert len(matching) == 1, [i.render() for i in v.issues]
    issue = matching[0]
    assert (issue.file, issue.row, issue.field) == (f"{entity}.csv", 2, field)
    assert issue.hint
    assert v.n_bad == 1 and v.good().height == 0


@pytest.mark.parametrize("period", ["2027", "2027-Q1", "2027-Q4", "2027-03", "2027-12"])
def test_period_formats_are_accepted(tmp_path: Path, period: str) -> None:
    v = _validate(tmp_path, "sales", f"account_id,period,amount\nA1,{period},10\n")
    assert v.issues == []


@pytest.mark.parametrize(
    ("code", "restored"),
    [("2134", "02134"), ("501", "00501"), ("2134-1234", "02134-1234")],
)
def test_zip_that_lost_its_leading_zero_is_flagged(
    tmp_path: Path, code: str, restored: str
) -> None:
    v = _validate(tmp_path, "accounts", f"id,name,billing_postal_code\nA1,x,{code}\n")
    (issue,) = v.issues
    assert (issue.row, issue.field) == (2, "billing_postal_code")
    assert f"ZIP code '{code}' has lost its leading zero" in issue.problem
    assert f"write '{restored}'" in issue.hint


@pytest.mark.parametrize(
    ("code", "problem", "fix"),
    [
        ("30303.0", "was turned into a number by a spreadsheet", "write '30303'"),
        ("3.0303E+4", "was turned into a number by a spreadsheet", "write '30303'"),
        ("2134.0", "was turned into a number by a spreadsheet", "write '02134'"),
        ("ABCDE", "is not a US ZIP code", "ZIP+4 (30303-1234)"),
        ("303030", "is not a US ZIP code", "ZIP+4 (30303-1234)"),
        ("30303-", "is not a US ZIP code", "ZIP+4 (30303-1234)"),
        ("30303-12", "is not a US ZIP code", "ZIP+4 (30303-1234)"),
    ],
)
def test_malformed_us_zip_is_flagged(
    tmp_path: Path, code: str, problem: str, fix: str
) -> None:
    v = _validate(
        tmp_path,
        "accounts",
        f"id,name,billing_postal_code,billing_state\nA1,x,{code},GA\nA2,y,30303,GA\n",
    )
    (issue,) = v.issues
    assert (issue.file, issue.row, issue.field) == (
        "accounts.csv",
        2,
        "billing_postal_code",
    )
    assert issue.problem == f"ZIP code '{code}' {problem}"
    assert fix in issue.hint
    assert v.good().get_column("id").to_list() == ["A2"]


def test_foreign_postal_codes_are_not_zip_checked(tmp_path: Path) -> None:
    v = _validate(
        tmp_path,
        "accounts",
        "id,name,billing_postal_code,billing_country\nA1,x,1010,Austria\n"
        "A2,y,02134-1234,US\nA3,z,SW1A 1AA,United Kingdom\nA4,w,30303.0,DE\n",
    )
    assert v.issues == []


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    v = _validate(tmp_path, "accounts", "id,name\nA-17,x\nA-2,y\nA-17,z\n")
    assert _where(v.issues) == [("accounts.csv", 2, "id"), ("accounts.csv", 4, "id")]
    assert v.issues[0].problem == (
        "account 'A-17' appears 2 times in accounts.csv (rows 2 and 4)"
    )
    assert v.good().get_column("id").to_list() == ["A-2"]


def test_every_issue_of_a_row_is_reported(tmp_path: Path) -> None:
    v = _validate(
        tmp_path, "accounts", "id,name,employees,latitude,longitude\nA1,,x,100,0\n"
    )
    assert sorted(i.field or "" for i in v.issues) == ["employees", "latitude", "name"]


def test_dates_and_splits_are_typed(tmp_path: Path) -> None:
    v = _validate(
        tmp_path,
        "opportunities",
        "id,account_id,amount,stage,close_date,splits\n"
        "O1,A1,100,won,2027-03-31,R1:60; R2:40\nO2,A1,5,new,,\n",
    )
    assert v.issues == []
    good = v.good()
    assert good.get_column("close_date").to_list() == [date(2027, 3, 31), None]
    assert good.get_column("splits").to_list() == [
        [{"rep_id": "R1", "percent": 60.0}, {"rep_id": "R2", "percent": 40.0}],
        None,
    ]


def test_every_entity_has_a_schema() -> None:
    assert ENTITIES == (
        "accounts",
        "reps",
        "units",
        "territories",
        "assignments",
        "memberships",
        "opportunities",
        "sales",
        "quotas",
    )


def test_geojson_points_give_account_coordinates(tmp_path: Path) -> None:
    import json

    path = tmp_path / "accounts.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"id": "A1", "name": "Acme"},
            "geometry": {"type": "Point", "coordinates": [-71.06, 42.35]},
        },
        {
            "type": "Feature",
            "properties": {"id": "A2", "name": "Beta"},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        },
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    v = validate(read_table(path), schema_of("accounts"))
    assert v.frame.get_column("latitude").to_list()[0] == 42.35
    assert v.frame.get_column("longitude").to_list()[0] == -71.06
    assert [(i.row, i.field, i.problem) for i in v.issues] == [
        (3, "geometry", "geometry is not a Point")
    ]


def test_negative_amounts_say_what_to_write(tmp_path: Path) -> None:
    v = _validate(tmp_path, "quotas", "territory_id,period,amount\nT1,2028,-1\n")
    (issue,) = v.issues
    assert issue.render() == (
        "quotas.csv, row 2, field 'amount': '-1' is negative — a quota's amount "
        "cannot be negative; write 0 or a positive number"
    )


def test_zero_and_negative_sales_are_accepted(tmp_path: Path) -> None:
    """Credit notes and returns book negative sales in a period."""
    v = _validate(
        tmp_path, "sales", "account_id,period,amount\nA1,2027,-250.5\nA2,2027,0\n"
    )
    assert v.issues == []
    assert v.good().get_column("amount").to_list() == [-250.5, 0.0]


def test_salesforce_header_is_typed_and_issues_name_its_columns(
    tmp_path: Path,
) -> None:
    v = _validate(
        tmp_path,
        "accounts",
        "Id,Name,BillingPostalCode,AnnualRevenue,NumberOfEmployees,Tier__c\n"
        "001A,Acme,30303,1000,10,Gold\n001B,Beta,2134,lots,-1,\n",
    )
    assert v.fatal == []
    assert v.present == (
        "id",
        "name",
        "billing_postal_code",
        "annual_revenue",
        "employees",
    )
    assert v.extras == ("Tier__c",)
    assert v.frame.get_column("employees").to_list() == [10, -1]
    assert [(i.row, i.field, i.problem) for i in v.all_issues()] == [
        (3, "AnnualRevenue", "'lots' is not a number"),
        (3, "BillingPostalCode", "ZIP code '2134' has lost its leading zero(s)"),
        (3, "NumberOfEmployees", "'-1' is negative"),
    ]


def _geojson(path: Path, features: list[tuple[dict[str, object], object]]) -> Path:
    import json

    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": p, "geometry": g}
                    for p, g in features
                ],
            }
        )
    )
    return path


def _point(lon: float, lat: float) -> dict[str, object]:
    return {"type": "Point", "coordinates": [lon, lat]}


def test_geojson_point_and_agreeing_coordinates_import_once(tmp_path: Path) -> None:
    """QGIS writes the point and the latitude/longitude it came from."""
    path = _geojson(
        tmp_path / "c7.geojson",
        [
            (
                {"id": "C7", "name": "A", "latitude": 33.75, "longitude": -84.39},
                _point(-84.39, 33.75),
            ),
            # rounded to 5 decimals in the geometry: still the same place
            (
                {"id": "C8", "name": "B", "latitude": 33.749996, "longitude": -84.39},
                _point(-84.39, 33.75),
            ),
            # the point fills coordinates left blank
            (
                {"id": "C9", "name": "C", "latitude": None, "longitude": None},
                _point(-71.06, 42.35),
            ),
            # coordinates without a geometry
            ({"id": "C10", "name": "D", "latitude": 1.5, "longitude": 2.5}, None),
        ],
    )
    v = validate(read_table(path), schema_of("accounts"))
    assert v.issues == [] and v.fatal == []
    assert "geometry" not in v.frame.columns and v.extras == ()
    assert v.frame.get_column("latitude").to_list() == [33.75, 33.749996, 42.35, 1.5]
    assert v.frame.get_column("longitude").to_list() == [-84.39, -84.39, -71.06, 2.5]


def test_geojson_point_and_other_coordinates_are_refused(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "a.geojson",
        [
            (
                {"id": "G2", "name": "A", "latitude": 33.75, "longitude": -84.39},
                _point(33.75, -84.39),
            ),
        ],
    )
    v = validate(read_table(path), schema_of("accounts"))
    (issue,) = v.issues
    assert (issue.row, issue.field) == (2, "latitude")
    assert issue.problem == (
        "the Point geometry (latitude -84.39, longitude 33.75) and the columns "
        "latitude 33.75, longitude -84.39 are different places"
    )
    assert "GeoJSON points are [longitude, latitude]" in issue.hint
    assert v.good().height == 0


def test_rep_geojson_point_fills_home_coordinates(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "reps.geojson",
        [
            (
                {"id": "R1", "name": "Ann", "home_lat": 42.35, "home_lon": -71.06},
                _point(-71.06, 42.35),
            ),
            ({"id": "R2", "name": "Bo"}, _point(-84.39, 33.75)),
        ],
    )
    v = validate(read_table(path), schema_of("reps"))
    assert v.fatal == [] and v.issues == []
    assert v.frame.get_column("home_lat").to_list() == [42.35, 33.75]


def test_geometry_in_a_file_without_places_is_refused(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "territories.geojson", [({"id": "T1", "name": "E"}, _point(0, 0))]
    )
    v = validate(read_table(path), schema_of("territories"))
    assert [(i.row, i.field, i.problem) for i in v.fatal] == [
        (1, "geometry", "unknown column 'geometry'")
    ]


@pytest.mark.parametrize(
    ("kind", "unit_id", "problem", "fix"),
    [
        ("county", "1003", "county id '1003' has lost its leading zero(s)", "'01003'"),
        ("zip", "2134", "ZIP id '2134' has lost its leading zero(s)", "'02134'"),
        ("zip", "501", "ZIP id '501' has lost its leading zero(s)", "'00501'"),
        ("county", "003", "'003' is not a county id", "5-digit county FIPS"),
        ("county", "010010", "'010010' is not a county id", "5-digit county FIPS"),
        ("zip", "2134A", "'2134A' is not a ZIP id", "5-digit ZIP code"),
    ],
)
def test_unit_ids_that_lost_zeros_or_are_malformed_are_flagged(
    tmp_path: Path, kind: str, unit_id: str, problem: str, fix: str
) -> None:
    v = _validate(
        tmp_path,
        "units",
        f"id,kind,name\n{unit_id},{kind},x\n01001,county,Autauga\n"
        "02134,zip,Boston\nHQ-1,custom,Head office\n",
    )
    (issue,) = v.issues
    assert (issue.file, issue.row, issue.field) == ("units.csv", 2, "id")
    assert issue.problem == problem
    assert fix in issue.hint
    assert v.good().get_column("id").to_list() == ["01001", "02134", "HQ-1"]


@pytest.mark.parametrize(
    ("entity", "text", "field", "hint"),
    [
        (
            "accounts",
            "name\nAcme\n",
            "id",
            "add an 'id' column (Salesforce: Id); accounts files need id, name",
        ),
        (
            "accounts",
            "id,name\n,Acme\n",
            "id",
            "every account needs an id; fill it in or remove the row",
        ),
        (
            "opportunities",
            "id,account_id,amount,stage\nO1,A1,-5,new\n",
            "amount",
            "an opportunity's amount cannot be negative; write 0 or a positive number",
        ),
        (
            "reps",
            "id,name\nR1,\n",
            "name",
            "every rep needs a name; fill it in or remove the row",
        ),
    ],
)
def test_hints_put_an_before_vowel_sounds(
    tmp_path: Path, entity: str, text: str, field: str, hint: str
) -> None:
    v = _validate(tmp_path, entity, text)
    (issue,) = v.all_issues()
    assert (issue.field, issue.hint) == (field, hint)
