"""Workload and sizing on the hand-drawn plan (see conftest), on both stores."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from performance_plan import SIMPLE
from territory.errors import InputError, ValidationFailed
from territory.metrics.compactness import EARTH_RADIUS_KM
from territory.metrics.load import Segment, WorkloadModel
from territory.services.plan import load_plan
from territory.services.sizing import size_model
from territory.services.workload import (
    WorkloadConfig,
    account_measures,
    load_workload_config,
)

KM_PER_DEG = math.pi / 180 * EARTH_RADIUS_KM


def test_sizing_reps_needed_and_gaps(plan_engine: Engine) -> None:
    # T1 11 h, T2 20 h (A3 + A1), T3 1 h, T4 20 h; R1 32 h, R2 20 h, all 52 h
    res = size_model(plan_engine, "plan", config=SIMPLE, capacity_hours=16.0)
    assert res.workload_hours == pytest.approx(52.0)
    assert res.reps_needed == 4  # ⌈52 / 16⌉ = ⌈3.25⌉
    regions = {r["region_id"]: r for r in res.regions.to_dicts()}
    assert regions["R1"]["reps_needed"] == 2  # ⌈32 / 16⌉
    assert regions["R2"]["reps_needed"] == 2  # ⌈20 / 16⌉
    assert regions["R1"]["accounts"] == 4
    # Leaf territories only: R1 holds T1, T2 (under D1) and T3 (under D2), not
    # R1, D1 or D2 themselves; R2 holds T4.
    assert (regions["R1"]["territories"], regions["R2"]["territories"]) == (3, 1)
    gaps = {
        r["territory_id"]: (r["status"], r["gap_hours"])
        for r in res.territories.to_dicts()
    }
    # tolerance 10 %: under means below 14.4 h
    assert gaps == {
        "T1": ("under", pytest.approx(-5.0)),
        "T2": ("over", pytest.approx(4.0)),
        "T3": ("under", pytest.approx(-15.0)),
        "T4": ("over", pytest.approx(4.0)),
    }
    assert res.over["territory_id"].to_list() == ["T2", "T4"]


def test_sizing_rejects_zero_capacity(plan_engine: Engine) -> None:
    with pytest.raises(InputError, match="--capacity-hours") as exc:
        size_model(plan_engine, "plan", config=SIMPLE, capacity_hours=0.0)
    assert exc.value.code == "capacity_hours"


def test_travel_from_centre_and_from_owner_home(plan_engine: Engine) -> None:
    visits = WorkloadConfig(
        workload=WorkloadModel(segments=(Segment("all", 10, 60, 1.0),))
    )
    with plan_engine.connect() as conn:
        plan = load_plan(conn, "plan")
        centre = account_measures(conn, plan, visits, travel_from="centre")
        owner = account_measures(conn, plan, visits, travel_from="owner")
    # T4: A5 at lon 10, A6 at lon 12; centre lon 11 = P3's home, 1° each way.
    # 10 visits × 2 × 111.195 km ÷ 60 km/h = 37.065 h of travel + 10 h of calls
    for frame in (centre, owner):
        a5 = frame.filter(frame["account_id"] == "A5").to_dicts()[0]
        assert a5["travel_km"] == pytest.approx(KM_PER_DEG)
        assert a5["workload_hours"] == pytest.approx(10 + 10 * 2 * KM_PER_DEG / 60)
    # T2 from its centre (lat 0.5, lon 0) vs from P2's home at A3 (1, 0)
    a3_c = centre.filter(centre["account_id"] == "A3").to_dicts()[0]
    a3_o = owner.filter(owner["account_id"] == "A3").to_dicts()[0]
    assert a3_c["travel_km"] == pytest.approx(KM_PER_DEG / 2)
    assert a3_o["travel_km"] == pytest.approx(0.0)


def test_workload_yaml_overrides_defaults(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text(
        "capacity_hours: 1500\n"
        "travel: {speed_kmh: 50}\n"
        "segments:\n"
        "  - {name: health, calls_per_year: 6, minutes_per_call: 30,\n"
        "     when: {industries: [Healthcare]}}\n"
        "  - {name: rest, calls_per_year: 2, minutes_per_call: 30}\n"
        "potential: {revenue_rate: 0.01, industry_factors: {Healthcare: 2}}\n",
        encoding="utf-8",
    )
    cfg = load_workload_config(f)
    assert cfg.workload.capacity_hours == 1500.0
    assert cfg.workload.travel.speed_kmh == 50.0
    assert cfg.workload.travel.round_trip is True  # default kept
    assert [s.name for s in cfg.workload.segments] == ["health", "rest"]
    assert cfg.potential.revenue_rate == 0.01
    assert dict(cfg.potential.industry_factors) == {"Healthcare": 2.0}


def test_workload_yaml_unknown_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("capacity_hour: 1500\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="capacity_hour") as exc:
        load_workload_config(f)
    assert exc.value.code == "workload_config"


def test_example_workload_file_loads() -> None:
    example = Path(__file__).parents[3] / "examples" / "workload.yaml"
    cfg = load_workload_config(example)
    assert cfg.workload.segments[-1].when.is_catch_all


def test_sizing_keeps_overlays_apart_from_regions(plan_engine: Engine) -> None:
    """OVL (another type, top level) over A1, A3, A5: 3 big accounts, 30 h.

    The regions keep their figures (R1 32 h, R2 20 h: 4 reps); OVL gets its
    own headcount ⌈30 / 16⌉ = 2 and is not among the regions' over-capacity
    territories although 30 h > 16 h.
    """
    from performance_plan import add_overlay

    add_overlay(plan_engine)
    res = size_model(plan_engine, "plan", config=SIMPLE, capacity_hours=16.0)
    assert res.regions["region_id"].to_list() == ["R1", "R2"]
    assert (res.workload_hours, res.reps_needed) == (pytest.approx(52.0), 4)
    assert res.overlays["region_id"].to_list() == ["OVL"]
    ovl = res.overlays.to_dicts()[0]
    assert (ovl["accounts"], ovl["reps_needed"]) == (3, 2)
    assert ovl["territories"] == 1  # OVL has no sub-territories: itself
    assert ovl["workload_hours"] == pytest.approx(30.0)
    assert (res.overlay_workload_hours, res.overlay_reps_needed) == (
        pytest.approx(30.0),
        2,
    )
    assert res.over["territory_id"].to_list() == ["T2", "T4"]
    assert res.overlay_territories["territory_id"].to_list() == ["OVL"]
    assert res.overlay_territories["status"].to_list() == ["over"]
    assert any("OVL" in n and "sized apart" in n for n in res.notes)


def test_report_sizing_table_counts_leaf_territories(plan_engine: Engine) -> None:
    """The report's Sizing table: R1 holds 3 leaf territories, R2 holds 1."""
    from territory.services.report_page import _sizing_section

    res = size_model(plan_engine, "plan", config=SIMPLE, capacity_hours=16.0)
    section = _sizing_section(res)
    rows = dict(
        re.findall(r"<tr><td[^>]*><b>(R\d)</b>.*?</td>(.*?)</tr>", section, flags=re.S)
    )
    counts = {
        region: re.findall(r"<td[^>]*>([^<]*)</td>", cells)[0]
        for region, cells in rows.items()
    }
    assert counts == {"R1": "3", "R2": "1"}
