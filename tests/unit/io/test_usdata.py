"""Real US data readers: the pinned figures of the shipped county, population,
labour-force and ZIP data."""

from __future__ import annotations

import doctest

import polars as pl
import pytest

from territory.errors import InputError
from territory.io import usdata
from territory.io.usdata import (
    Counties,
    MetricValues,
    county_name_key,
    parse_states,
    read_counties,
    read_labor_force,
    read_population,
    read_zip_directory,
    read_zip_units,
)

ALASKA_FILLED = ("02105", "02158", "02195", "02198", "02230", "02275")


@pytest.fixture(scope="module")
def counties() -> Counties:
    return read_counties()


@pytest.fixture(scope="module")
def population(counties: Counties) -> MetricValues:
    return read_population(counties)


@pytest.fixture(scope="module")
def labor_force(counties: Counties, population: MetricValues) -> MetricValues:
    return read_labor_force(counties, population)


@pytest.fixture(scope="module")
def zip_directory(counties: Counties) -> pl.DataFrame:
    return read_zip_directory(counties)


def test_doctests_pass() -> None:
    result = doctest.testmod(usdata)
    assert result.failed == 0


def test_counties_are_the_3142_of_the_50_states_and_dc(counties: Counties) -> None:
    frame = counties.frame
    assert frame.height == 3142
    assert len(counties.geometries) == 3142
    assert frame["state"].n_unique() == 51
    assert frame["id"].str.len_chars().unique().to_list() == [5]
    assert frame["id"].is_unique().all()
    assert frame["id"].to_list() == sorted(frame["id"].to_list())
    assert frame.filter(pl.col("id") == "01001")["name"].item() == "Autauga"


def test_counties_report_every_dropped_territory(counties: Counties) -> None:
    report = counties.report
    assert report.n_read == 3233
    assert report.n_kept == 3142
    assert len(report.dropped) == 91
    assert report.dropped_by_state_fips == {
        "60": 5, "66": 1, "69": 4, "72": 78, "78": 3
    }  # fmt: skip


def test_counties_read_utf8_names(counties: Counties) -> None:
    row = counties.frame.filter(pl.col("id") == "35013")
    assert row["name"].item() == "Doña Ana"
    assert row["full_name"].item() == "Doña Ana County"
    assert row["state"].item() == "NM"


def test_county_centroids_lie_in_their_state_box(counties: Counties) -> None:
    row = counties.frame.filter(pl.col("id") == "13121")  # Fulton, GA
    assert row["centroid_lat"].item() == pytest.approx(33.79, abs=0.1)
    assert row["centroid_lon"].item() == pytest.approx(-84.47, abs=0.1)
    # Counties whose centroid falls outside them are centred inside instead.
    assert "02016" in counties.report.representative_point  # Aleutians West


def test_population_2019_covers_every_county(population: MetricValues) -> None:
    report = population.report
    assert report.total == 328_239_523
    assert report.n_matched == 3142
    assert report.coverage == 1.0
    assert report.missing == ()
    assert report.unused == {}
    assert population.source.vintage == "2019"
    assert population.as_dict()["35013"] == 218_195


def test_labor_force_maps_the_renamed_oglala_lakota_code(
    labor_force: MetricValues,
) -> None:
    assert labor_force.report.remapped == {"46113": "46102"}
    assert labor_force.as_dict()["46102"] == 3_827
    assert "46113" not in labor_force.as_dict()


def test_labor_force_reports_and_fills_the_missing_counties(
    labor_force: MetricValues, population: MetricValues
) -> None:
    report = labor_force.report
    assert report.missing == (*ALASKA_FILLED, "15005")
    assert sorted(report.filled) == sorted(report.missing)
    assert report.n_matched == 3142 - 7
    values = labor_force.as_dict()
    pop = population.as_dict()
    for fips in report.missing:
        assert 0 < values[fips] < pop[fips]
    assert "population 2019" in report.filled["15005"]
    # Bedford city (VA) merged into Bedford County in 2013: reported, not lost.
    assert report.unused["51515"] == 2_768
    assert labor_force.source.vintage == "2009"


def test_labor_force_parses_thousands_separators(labor_force: MetricValues) -> None:
    assert labor_force.as_dict()["01001"] == 23_288  # "23,288  " in the file


def test_subset_reads_give_the_same_values(
    counties: Counties, labor_force: MetricValues
) -> None:
    hawaii = counties.select_states(["HI"])
    sub = read_labor_force(hawaii, read_population(hawaii))
    full = labor_force.as_dict()
    assert sub.as_dict() == {k: full[k] for k in hawaii.frame["id"]}


def test_zip_directory_has_every_zip_as_text(zip_directory: pl.DataFrame) -> None:
    assert zip_directory.height == 42_789
    assert zip_directory.columns[:8] == [
        "zip", "zip_type", "active", "lat", "lon", "city", "state", "county_name"
    ]  # fmt: skip
    assert "county_fips" in zip_directory.columns
    assert zip_directory["zip"].str.len_chars().unique().to_list() == [5]
    row = zip_directory.filter(pl.col("zip") == "02134")
    assert row["state"].item() == "MA"
    assert row["county_fips"].item() == "25025"  # Suffolk County, MA


@pytest.mark.parametrize(
    ("zip_code", "fips"),
    [
        ("88001", "35013"),  # Doña Ana County, NM
        ("63101", "29510"),  # St. Louis city, MO
        ("63105", "29189"),  # St. Louis County, MO
        ("22034", "51600"),  # Fairfax City, VA (not Fairfax County)
        ("23187", "51830"),  # Williamsburg city, VA
        ("23185", "51095"),  # James City County, VA
        ("70433", "22103"),  # St. Tammany Parish, LA
        ("99501", "02020"),  # Municipality of Anchorage
        ("20001", "11001"),  # District of Columbia
    ],
)
def test_zip_resolves_to_its_county(
    zip_directory: pl.DataFrame, zip_code: str, fips: str
) -> None:
    row = zip_directory.filter(pl.col("zip") == zip_code)
    assert row["county_fips"].item() == fips


def test_zip_units_report_unresolved_and_shared_centroids(
    zip_directory: pl.DataFrame,
) -> None:
    units = read_zip_units(zip_directory)
    report = units.report
    # Active STANDARD ZIPs: 29,806 in all; 133 of them in PR, VI and GU.
    assert len(report.outside_states) == 133
    assert report.n_units + len(report.no_coordinates) == 29_806 - 133
    assert report.n_units == 29_672
    assert report.no_coordinates == ("77352",)
    # About 800 active ZIPs carry no county name (military, territories, ...).
    assert report.n_active_without_county_name == 806
    assert report.n_active_unresolved == 902
    assert report.unresolved_by_state["AE"] == 417
    assert report.units_unresolved == ()
    assert report.n_shared_centroid == 162
    assert len(report.shared_centroid_groups) == 59
    assert units.frame["county_fips"].null_count() == 0


def test_zip_units_select_states(zip_directory: pl.DataFrame) -> None:
    units = read_zip_units(zip_directory, states=["RI"])
    assert units.frame["state"].unique().to_list() == ["RI"]
    assert units.frame.height == 72
    assert units.frame["county_fips"].str.starts_with("44").all()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Doña Ana County", ("dona ana", False)),
        ("Dona Ana County", ("dona ana", False)),
        ("St. Louis city", ("st louis", True)),
        ("Saint Louis County", ("st louis", False)),
        ("Ste. Genevieve County", ("ste genevieve", False)),
        ("St Mary Parish", ("st mary", False)),
        ("Prince of Wales-Hyder Census Area", ("prince of wales hyder", False)),
        ("LaSalle Parish", ("lasalle", False)),
        ("La Salle Parish", ("lasalle", False)),
        ("Carson City", ("carson city", False)),
    ],
)
def test_county_name_key_normalises_spellings(name: str, key: tuple[str, bool]) -> None:
    assert county_name_key(name) == key


def test_parse_states_rejects_unknown_codes() -> None:
    with pytest.raises(InputError, match="Unknown state code") as info:
        parse_states("GA,XX,PR")
    assert info.value.code == "unknown_state"
    assert info.value.details["unknown"] == ["PR", "XX"]


def _shape(points: list[tuple[float, float]], parts: list[int]):  # type: ignore[no-untyped-def]
    import shapefile

    return shapefile.Shape(shapeType=shapefile.POLYGON, points=points, parts=parts)


def test_polygons_of_builds_holes_and_parts_like_pyshp() -> None:
    """Shapefile rings: outer clockwise, holes counter-clockwise.

    shape 0: a 4x4 square with a 2x2 hole; shape 1: two unit squares;
    shape 2: the hole listed before its outer ring (slow path).
    """
    import shapely

    outer = [(0, 0), (0, 4), (4, 4), (4, 0), (0, 0)]  # clockwise
    hole = [(1, 1), (3, 1), (3, 3), (1, 3), (1, 1)]  # counter-clockwise
    sq_a = [(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)]
    sq_b = [(5, 0), (5, 1), (6, 1), (6, 0), (5, 0)]
    shapes = [
        _shape(outer + hole, [0, 5]),
        _shape(sq_a + sq_b, [0, 5]),
        _shape(hole + outer, [0, 5]),
    ]
    built = usdata._polygons_of(shapes)
    assert [g.geom_type for g in built] == ["Polygon", "MultiPolygon", "Polygon"]
    assert [g.area for g in built] == [12.0, 2.0, 12.0]
    for got, shp in zip(built, shapes, strict=True):
        assert shapely.equals(got, shapely.geometry.shape(shp.__geo_interface__))
