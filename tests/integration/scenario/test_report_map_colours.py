"""The report's map colours each territory as the plan's other maps do.

The tiny plan of :mod:`scenario_builders` (T1 and T2 on four counties), with
a region ``A0`` above both: the region sorts first, but the colours are
keyed by the leaf territories, so T1 and T2 keep the colours
:func:`maps.territory_palette` gives the design map (``["T1", "T2"]``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scenario_builders import SIMPLE, build_scenario
from sqlalchemy import Engine, delete, insert, update

from territory.services import maps
from territory.services.models import resolve_model
from territory.services.report import write_report
from territory.storage import tables as t

pytestmark = pytest.mark.integration

_SWATCH = re.compile(r'<span class="swatch" style="background:(#[0-9a-f]{6})"></span>'
                     r"<b>([^<]+)</b>")  # fmt: skip


@pytest.fixture
def plan(engine: Engine) -> Engine:
    build_scenario(engine)
    with engine.begin() as conn:
        mid = resolve_model(conn, "plan").id
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": mid,
                    "id": "A0",
                    "name": "Region A",
                    "parent_id": None,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                }
            ],
        )
        conn.execute(
            update(t.territory)
            .where(t.territory.c.model_id == mid, t.territory.c.id.in_(["T1", "T2"]))
            .values(parent_id="A0")
        )
    return engine


def _legend(page: str) -> dict[str, str]:
    return {tid: colour for colour, tid in _SWATCH.findall(page)}


def test_report_map_of_units_uses_the_plan_palette(
    plan: Engine, tmp_path: Path
) -> None:
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    palette = maps.territory_palette(["T1", "T2"])
    legend = _legend(page)
    assert (legend["T1"], legend["T2"]) == (palette["T1"], palette["T2"])


def test_report_map_of_accounts_uses_the_plan_palette(
    plan: Engine, tmp_path: Path
) -> None:
    with plan.begin() as conn:
        mid = resolve_model(conn, "plan").id
        conn.execute(
            delete(t.unit_assignment).where(t.unit_assignment.c.model_id == mid)
        )
    page = write_report(plan, "plan", tmp_path, config=SIMPLE).read_text()
    assert "The model assigns no geo units, so the map shows its accounts" in page
    palette = maps.territory_palette(["T1", "T2"])
    legend = _legend(page)
    assert (legend["T1"], legend["T2"]) == (palette["T1"], palette["T2"])
    assert legend["A0"] == maps.UNCHANGED_GREY  # the region is not on the map
