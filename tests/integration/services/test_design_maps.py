"""Design maps of one plan: shared territory colours, region borders, regions kept.

Real counties of CT, MA and RI (27 counties, from :mod:`design_fixtures`),
designed as 2 regions of 4 territories, or as 4 territories redesigned from
such a plan.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from matplotlib.image import imread
from sqlalchemy import Engine, select

from design_fixtures import seed_store
from territory.services.design import DesignRequest, design_territories
from territory.services.design_output import write_design_files
from territory.services.maps import territory_palette
from territory.storage.tables import geo_unit, territory

pytestmark = pytest.mark.integration

NE = ("CT", "MA", "RI")


def _request(model: str, **kw: object) -> DesignRequest:
    base: dict[str, object] = {
        "model": model,
        "balance": (("population", 0.20),),
        "states": NE,
        "time_limit_s": 30.0,
        "max_iterations": 500,
        "seed": 7,
    }
    base.update(kw)
    return DesignRequest(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(engine: Engine) -> Engine:
    seed_store(engine)
    return engine


def _pixel_counts(png: Path) -> dict[str, int]:
    rgb = np.round(imread(io.BytesIO(png.read_bytes()))[:, :, :3] * 255).astype(int)
    flat = rgb.reshape(-1, 3)
    codes, counts = np.unique(
        flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2], return_counts=True
    )
    return {
        f"#{c:06x}": int(n)
        for c, n in zip(codes.tolist(), counts.tolist(), strict=True)
    }


def test_design_map_fills_each_territory_in_its_plan_colour(
    store: Engine, tmp_path: Path
) -> None:
    report = design_territories(store, _request("plan", levels=(2, 4)), actor="tester")
    files = write_design_files(store, report, tmp_path / "out")
    palette = territory_palette(t.id for t in report.territories)
    assert sorted(palette) == ["T01", "T02", "T03", "T04"]
    pixels = _pixel_counts(files.map)
    for tid, colour in palette.items():
        # the fill of a territory of real counties covers thousands of pixels
        assert pixels.get(colour, 0) > 1_000, (tid, colour)


def _county_union(store: Engine, ids: list[str]) -> shapely.Geometry:
    with store.connect() as conn:
        wkb = conn.execute(
            select(geo_unit.c.geometry).where(
                geo_unit.c.kind == "county", geo_unit.c.id.in_(ids)
            )
        ).scalars()
        geoms = [shapely.make_valid(shapely.from_wkb(w)) for w in wkb]
    return shapely.union_all(geoms, grid_size=1e-6)


def test_region_border_runs_only_between_regions(store: Engine, tmp_path: Path) -> None:
    report = design_territories(store, _request("plan", levels=(2, 4)), actor="tester")
    files = write_design_files(store, report, tmp_path / "out")
    doc = json.loads(files.geojson.read_text())
    parent = {t.id: t.parent_id for t in report.territories}
    for f in doc["features"]:
        if f["properties"]["level"] != "region":
            continue
        rid = f["id"]
        drawn = shapely.from_geojson(json.dumps(f["geometry"]))
        counties = [u for u, t in report.assignment.items() if parent[t] == rid]
        true = _county_union(store, counties)
        # the region's outline is the outline of its counties: no seam
        # between its own territories shows up as a ring or a notch
        assert shapely.get_num_interior_rings(drawn) == sum(
            shapely.get_num_interior_rings(p) for p in shapely.get_parts(true)
        )
        assert drawn.boundary.length == pytest.approx(true.boundary.length, rel=0.05)
        inner = []
        members = sorted(t for t in parent if parent[t] == rid)
        shapes = {
            t: _county_union(store, [u for u, x in report.assignment.items() if x == t])
            for t in members
        }
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                inner.append(shapely.intersection(shapes[a], shapes[b]))
        seam = shapely.difference(
            shapely.union_all(inner), shapely.buffer(true.boundary, 0.02)
        )
        assert shapely.intersection(drawn.boundary, seam.buffer(0.002)).length < 1e-6


def test_redesign_keeps_the_base_regions_in_report_and_map(
    store: Engine, tmp_path: Path
) -> None:
    base = design_territories(store, _request("base", levels=(2, 4)), actor="tester")
    report = design_territories(
        store,
        _request(
            "next",
            n_territories=4,
            from_model="base",
            seed=3,
            balance=(("population", 0.30),),
        ),
        actor="tester",
    )
    base_parent = {t.id: t.parent_id for t in base.territories}
    assert [r.id for r in report.regions] == ["R01", "R02"]
    assert [r.name for r in report.regions] == ["Region 1", "Region 2"]
    assert {t.id: t.parent_id for t in report.territories} == base_parent
    for r in report.regions:
        own = [t for t in report.territories if t.parent_id == r.id]
        assert r.n_units == sum(t.n_units for t in own)
        assert r.n_accounts == sum(t.n_accounts for t in own)
        assert r.values["population"] == pytest.approx(
            sum(t.values["population"] for t in own)
        )
        assert r.reps == len(own)
    assert sum(r.n_units for r in report.regions) == 27
    # stored once each: the carried regions are not inserted twice
    with store.connect() as conn:
        ids = conn.execute(
            select(territory.c.id).where(territory.c.model_id == report.model_id)
        ).scalars()
        stored = sorted(ids)
    assert stored == ["R01", "R02", "T01", "T02", "T03", "T04"]
    files = write_design_files(store, report, tmp_path / "out")
    doc = json.loads(files.geojson.read_text())
    assert [f["id"] for f in doc["features"]] == [
        "R01",
        "R02",
        "T01",
        "T02",
        "T03",
        "T04",
    ]
