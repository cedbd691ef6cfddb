"""`write_report` on the tiny plan of scenario_builders: one offline HTML file."""

from __future__ import annotations

import base64
import re
from datetime import date
from pathlib import Path

import pytest
from scenario_builders import SIMPLE, build_scenario
from sqlalchemy import Engine, delete
from typer.testing import CliRunner

from territory.cli import app
from territory.errors import InputError
from territory.services.models import resolve_model
from territory.services.report import REPORT_STEPS, write_report
from territory.storage import tables as t

pytestmark = pytest.mark.integration

_IMG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


@pytest.fixture
def plan(engine: Engine) -> Engine:
    build_scenario(engine)
    return engine


def _images(page: str) -> dict[str, bytes]:
    return {alt: base64.b64decode(data) for alt, data in _IMG.findall(page)}


def test_report_holds_every_section_and_embedded_images(plan: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    steps: list[str] = []
    path = write_report(
        plan,
        "plan",
        tmp_path,
        config=SIMPLE,
        progress=steps.append,
        today=date(2027, 1, 4),
    )
    assert path == tmp_path / "report.html"
    assert steps == list(REPORT_STEPS)
    page = path.read_text(encoding="utf-8")
    for section in ("summary", "maps", "balance", "territories", "sizing", "quota"):
        assert f'id="{section}"' in page
    # title block: name, state, period, date and headline numbers
    assert "<h1>plan</h1>" in page
    assert '<span class="state">planning</span>' in page
    assert "period 2027 · report of 2027-01-04" in page
    assert '<div class="v">5</div><div class="k">accounts</div>' in page
    assert '<div class="v">2</div><div class="k">territories</div>' in page
    # potential per leaf 300 and 1 200: CV = 450 / 750
    assert (
        '<div class="v">0.600</div><div class="k">balance CV · potential</div>' in page
    )
    images = _images(page)
    assert set(images) == {
        "territory map",
        "choropleth of population",
        "balance bar charts",
    }
    for png in images.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(png) > 5_000
    # quota table: T1 40 of potential 300, T2 60 of 1 200
    assert "13%" in page and "5%" in page
    assert "Territory T1" in page and "Pat One" not in page  # owner shows the rep id


def test_report_has_no_external_references(plan: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    without_images = _IMG.sub("", page)
    assert "http://" not in without_images and "https://" not in without_images
    assert "<link" not in page and "<script" not in page
    assert "@import" not in page and "url(" not in page
    assert re.findall(r'(?:src|href)="(?!#|data:)', page) == []


def test_report_choropleth_of_a_territory_measure(plan: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page = write_report(
        plan, "plan", tmp_path, metric="potential", config=SIMPLE
    ).read_text()
    assert "choropleth of potential" in _images(page)


def test_report_rejects_an_unknown_metric(plan: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="Metric 'rainfall' is neither") as info:
        write_report(plan, "plan", tmp_path, metric="rainfall", config=SIMPLE)
    assert info.value.code == "report_metric"
    assert info.value.details["unit_metrics"] == ["population"]
    assert not (tmp_path / "report.html").exists()


def test_report_rejects_a_tolerance_outside_0_1(tmp_path: Path) -> None:
    from territory.storage.engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(
        InputError, match="Tolerance 1.5 must be between 0 and 1"
    ) as info:
        write_report(eng, "plan", tmp_path, tolerance=1.5)
    eng.dispose()
    assert info.value.code == "report_tolerance"
    assert not (tmp_path / "report.html").exists()


def test_report_without_units_maps_accounts(plan: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with plan.begin() as conn:
        mid = resolve_model(conn, "plan").id
        conn.execute(
            delete(t.unit_assignment).where(t.unit_assignment.c.model_id == mid)
        )
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    assert set(_images(page)) == {"territory map", "balance bar charts"}
    assert "The model assigns no geo units" in page


def test_report_cli_writes_the_file(sqlite_url: str, tmp_path: Path) -> None:
    from territory.storage.engine import make_engine, migrate

    eng = make_engine(sqlite_url)
    migrate(eng)
    build_scenario(eng)
    eng.dispose()
    out = tmp_path / "rep"
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "report", "--model", "plan", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Report written to" in result.stdout
    assert (out / "report.html").stat().st_size > 20_000


def test_report_cli_unknown_model_exits_2(sqlite_url: str, tmp_path: Path) -> None:
    from territory.storage.engine import make_engine, migrate

    eng = make_engine(sqlite_url)
    migrate(eng)  # report only reads: it refuses a store that does not exist
    eng.dispose()
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "report", "--model", "nope", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "No territory model named 'nope'" in result.stderr


def _strip_places(engine: Engine, *, keep_county: bool) -> None:
    """Drop the plan's unit assignments and the accounts' coordinates."""
    from sqlalchemy import update

    with engine.begin() as conn:
        mid = resolve_model(conn, "plan").id
        conn.execute(
            delete(t.unit_assignment).where(t.unit_assignment.c.model_id == mid)
        )
        values: dict[str, object] = {"latitude": None, "longitude": None}
        if not keep_county:
            values["county_id"] = None
        conn.execute(update(t.account).values(**values))


def test_report_of_a_model_without_geography_says_why_there_is_no_map(
    plan: Engine, tmp_path: Path
) -> None:
    _strip_places(plan, keep_county=False)
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    assert set(_images(page)) == {"balance bar charts"}
    assert "No map: the model assigns no geo units and none of its 5 accounts" in (page)
    # the tables and the sizing are all there
    for section in ("balance", "territories", "sizing", "quota"):
        assert f'id="{section}"' in page
    assert "<b>T1</b>" in page and "<b>T2</b>" in page


def test_report_maps_accounts_placed_by_county_at_its_centroid(
    plan: Engine, tmp_path: Path
) -> None:
    _strip_places(plan, keep_county=True)
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    assert set(_images(page)) == {"territory map", "balance bar charts"}
    assert "The model assigns no geo units, so the map shows its accounts" in page
    assert 'id="map-legend"' in page and "Pat One" not in page


def test_report_choropleth_without_values_shows_another_measure(
    plan: Engine, tmp_path: Path
) -> None:
    """No quota in 2026: attainment has no value, potential is shown instead."""
    page = write_report(
        plan, "plan", tmp_path, metric="attainment", period="2026", config=SIMPLE
    ).read_text()
    assert "choropleth of potential" in _images(page)
    assert (
        "Attainment has no value in any territory (no quota is stored for the "
        "period: 2026), so the map shows potential instead." in page
    )


def test_report_marks_sample_data_labels_the_map_and_counts_accounts_once(
    plan: Engine, tmp_path: Path
) -> None:
    """Mark the five accounts as sample data; add an overlay over A1 and A3."""
    from sqlalchemy import insert, update

    with plan.begin() as conn:
        mid = resolve_model(conn, "plan").id
        conn.execute(update(t.account).values(is_sample=True))
        conn.execute(
            insert(t.territory_type),
            [{"id": "ovl", "name": "Overlay", "priority": 50, "description": ""}],
        )
        conn.execute(
            insert(t.territory),
            [{"model_id": mid, "id": "OVL", "name": "Key accounts", "type_id": "ovl",
              "parent_id": None, "description": "", "is_catch_all": False,
              "attributes": {}}],
        )  # fmt: skip
        conn.execute(
            insert(t.account_assignment),
            [{"model_id": mid, "account_id": a, "territory_id": "OVL",
              "cause": "manual"} for a in ("A1", "A3")],
        )  # fmt: skip
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    assert '<div class="banner" id="sample-data"><b>Sample data.</b> All accounts' in (
        page
    )
    assert '<div class="v">5</div><div class="k">accounts · sample data</div>' in page
    assert (
        '<div class="v">2</div><div class="k">territories · 1 overlays apart</div>'
        in page
    )
    legend = re.search(r'<ul class="legend" id="map-legend">(.*?)</ul>', page)
    assert legend and re.findall(r"<b>(T\d)</b>", legend[1]) == ["T1", "T2"]
    assert "<h3>Overlays</h3>" in page and "<b>OVL</b>" in page
    assert "account diameter km" in page and "max account diameter" in page
