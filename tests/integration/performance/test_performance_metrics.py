"""`compute_metrics` on the hand-drawn plan (see conftest), on both stores."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from performance_plan import SIMPLE
from territory.errors import InputError
from territory.services.performance import compute_metrics, write_metrics


def _row(df: pl.DataFrame, key: str, value: str) -> dict[str, object]:
    rows = df.filter(pl.col(key) == value).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_territory_metrics_roll_up_three_levels(plan_engine: Engine) -> None:
    res = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    df = res.table
    assert res.period == "2027"
    # accounts counted once in a parent: D1 = {A1, A2, A3}
    got = {r["territory_id"]: r["accounts"] for r in df.to_dicts()}
    assert got == {
        "T1": 2,
        "T2": 2,
        "T3": 1,
        "T4": 2,
        "D1": 3,
        "D2": 1,
        "R1": 4,
        "R2": 2,
    }
    d1 = _row(df, "territory_id", "D1")
    assert d1["potential"] == 3500.0  # 1000 + 500 + 2000, A1 once
    assert d1["sales"] == 350.0  # A1 150 + A3 200 (2026 row left out)
    assert d1["quota"] == 300.0  # T1 300 + T2 0 (no row of its own)
    r1 = _row(df, "territory_id", "R1")
    assert (r1["potential"], r1["sales"], r1["quota"]) == (3600.0, 380.0, 330.0)
    # workload adds up per territory: T1 11 h, T2 20 h, T3 1 h
    assert r1["workload_hours"] == pytest.approx(32.0)
    assert r1["capacity_hours"] == pytest.approx(48.0)  # three leaves × 16 h


def test_attainment_coverage_and_undefined_cases(plan_engine: Engine) -> None:
    df = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE).table
    t1 = _row(df, "territory_id", "T1")
    assert t1["attainment"] == pytest.approx(0.5)  # 150 / 300
    assert t1["penetration"] == pytest.approx(0.1)  # 150 / 1500
    # pipeline O1 1000 via A1 + O3 200 naming T1; remaining quota 300 − 150
    assert t1["open_pipeline"] == 1200.0
    assert t1["coverage"] == pytest.approx(8.0)
    t2 = _row(df, "territory_id", "T2")
    assert t2["attainment"] is None  # zero quota
    assert t2["coverage"] is None
    t3 = _row(df, "territory_id", "T3")
    assert t3["open_pipeline"] == 0.0  # O3 counts for the territory it names
    assert t3["quota_met"] is True and t3["coverage"] is None  # 30 of 30 done


def test_compactness_and_contiguity(plan_engine: Engine) -> None:
    df = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE).table
    t4 = _row(df, "territory_id", "T4")
    assert t4["account_diameter_km"] == pytest.approx(2 * 111.19508, rel=1e-5)
    assert t4["inertia_km"] == pytest.approx(111.19508, rel=1e-3)
    t1 = _row(df, "territory_id", "T1")
    assert (t1["pieces"], t1["contiguous"]) == (2, False)  # C1 and C3 apart
    d1 = _row(df, "territory_id", "D1")
    assert (d1["pieces"], d1["contiguous"]) == (1, True)  # C2 joins them


def test_period_rolls_up_months_and_quarters(plan_engine: Engine) -> None:
    res = compute_metrics(plan_engine, "plan", period="2027-Q1", config=SIMPLE)
    df = res.table
    # Q1: A1 2027-01 (100), A5 2027-03 (70); A3's yearly row does not split
    assert _row(df, "territory_id", "T1")["sales"] == 100.0
    assert _row(df, "territory_id", "T2")["sales"] == 100.0
    assert _row(df, "territory_id", "T4")["sales"] == 70.0
    # no quarterly quota: the yearly one pro-rated, 300 / 4
    assert _row(df, "territory_id", "T1")["quota"] == 75.0


def test_rep_metrics_credit_splits(plan_engine: Engine) -> None:
    res = compute_metrics(
        plan_engine, "plan", level="rep", period="2027", config=SIMPLE
    )
    df = res.table
    # O1 (split 60/40) credits P1 600 and P2 400; O2 (A5 in T4, no split)
    # counts in full for P3; O3 (names T1, no split) in full for T1's owner P1
    # and overlay P4. M1 manages D1 and holds its whole pipeline: O1 + O3.
    pipe = {r["rep_id"]: r["open_pipeline"] for r in df.to_dicts()}
    assert pipe == {"M1": 1200.0, "P1": 800.0, "P2": 400.0, "P3": 500.0, "P4": 200.0}
    m1 = _row(df, "rep_id", "M1")
    assert (m1["accounts"], m1["sales"], m1["roles"]) == (3, 350.0, "manager")
    assert m1["quota"] == 300.0  # the quota of D1, which M1 manages
    p1 = _row(df, "rep_id", "P1")
    assert (p1["workload_hours"], p1["capacity_hours"]) == (11.0, 16.0)
    assert res.compared == "owning reps"


def test_region_level_and_balance(plan_engine: Engine) -> None:
    res = compute_metrics(
        plan_engine, "plan", level="region", period="2027", config=SIMPLE
    )
    assert res.table["territory_id"].to_list() == ["R1", "R2"]
    acc = next(b for b in res.balance if b.measure == "accounts")
    # regions have 4 and 2 accounts: mean 3, population sd 1
    assert acc.cv == pytest.approx(1 / 3)
    assert acc.max_min == pytest.approx(2.0)
    assert acc.gini == pytest.approx(2 / 12)  # Σ|xi−xj| = 4; 2·n²·mean = 24
    leaves = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    quota = next(b for b in leaves.balance if b.measure == "quota")
    assert quota.max_min is None  # T2 has a zero quota


def test_write_metrics_csv_and_parquet(plan_engine: Engine, tmp_path: Path) -> None:
    res = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    csv = write_metrics(res, tmp_path / "m.csv")
    back = pl.read_csv(csv)
    assert back.filter(pl.col("territory_id") == "T2")["attainment"][0] is None
    pq = write_metrics(res, tmp_path / "m.parquet")
    assert pl.read_parquet(pq).height == 8
    with pytest.raises(InputError, match="csv or .parquet"):
        write_metrics(res, tmp_path / "m.xlsx")


def test_metrics_on_a_model_without_accounts(engine: Engine) -> None:
    from sqlalchemy import insert

    from territory.services.models import create_model
    from territory.storage import tables as t

    model = create_model(engine, "bare", actor="t")
    with engine.begin() as conn:
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model.id,
                    "id": tid,
                    "name": tid,
                    "parent_id": parent,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                }
                for tid, parent in (("R", None), ("T", "R"))
            ],
        )
    res = compute_metrics(engine, "bare", period="2027")
    row = _row(res.table, "territory_id", "T")
    assert (row["accounts"], row["sales"], row["attainment"]) == (0, 0.0, None)
    assert row["account_diameter_km"] is None
    acc = next(b for b in res.balance if b.measure == "accounts")
    assert acc.cv is None and acc.max_min is None and acc.gini is None


def test_open_pipeline_counts_what_may_close_within_the_period(
    plan_engine: Engine,
) -> None:
    """O1 (1000, A1 in T1) closes in 2028; O3 (200, names T1) on 2027-04-01."""
    from datetime import date

    from sqlalchemy import update

    from territory.storage import tables as t

    with plan_engine.begin() as conn:
        o = t.opportunity
        conn.execute(
            update(o).where(o.c.id == "O1").values(close_date=date(2028, 1, 15))
        )
        conn.execute(
            update(o).where(o.c.id == "O3").values(close_date=date(2027, 4, 1))
        )

    def pipe(period: str) -> float:
        df = compute_metrics(plan_engine, "plan", period=period, config=SIMPLE).table
        return float(_row(df, "territory_id", "T1")["open_pipeline"])

    assert pipe("2027") == 200.0  # O3 only: O1 closes after the year
    assert pipe("2027-Q1") == 0.0  # O3 closes the day after the quarter
    assert pipe("2027-04") == 200.0  # overdue or due by 30 April: still to win
    assert pipe("2028") == 1200.0


def test_balance_leaves_out_overlay_territories_of_another_type(
    plan_engine: Engine,
) -> None:
    """An overlay (own type) over A1 and A3 is measured but not balanced."""
    from performance_plan import add_overlay

    before = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    add_overlay(plan_engine, ("A1", "A3"))
    after = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    assert _row(after.table, "territory_id", "OVL")["accounts"] == 2
    assert "OVL" not in after.compared_ids
    assert after.compared_ids == before.compared_ids
    assert after.balance == before.balance
    assert any("OVL" in note and "overlays" in note for note in after.notes)


@pytest.mark.parametrize("single", [False, True])
def test_sales_of_accounts_outside_the_model_are_noted(
    plan_engine: Engine, single: bool
) -> None:
    """A7 has 2027 sales (40) but no territory; ``single`` takes A1 out of T2.

    With A1 in T1 only, no account sits in two territories (the cheap count).
    """
    from datetime import UTC, datetime

    from sqlalchemy import delete, insert

    from territory.storage import tables as t

    now = datetime.now(UTC)
    with plan_engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [{"id": "A7", "name": "A7", "created_at": now, "updated_at": now}],
        )
        conn.execute(
            insert(t.sales_history),
            [{"account_id": "A7", "period": "2027-05", "amount": 40.0}],
        )
        if single:
            aa = t.account_assignment
            conn.execute(
                delete(aa).where(
                    (aa.c.account_id == "A1") & (aa.c.territory_id == "T2")
                )
            )
    res = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    assert "1 accounts with sales in 2027 are in no territory of this model" in (
        res.notes
    )
    r1 = _row(res.table, "territory_id", "R1")
    assert r1["sales"] == 380.0  # A7 counts nowhere
    assert r1["accounts"] == 4
    assert _row(res.table, "territory_id", "T2")["accounts"] == (1 if single else 2)


def test_rep_metrics_when_every_account_sits_in_one_territory(
    plan_engine: Engine,
) -> None:
    """A1 taken out of T2: rep sums come from the territories' own figures.

    P1 and P4 (T1): A1, A2 — potential 1 500, sales 150; P2 (T2): A3 — 2 000,
    200; P3 (T4): A5, A6 — 3 400, 70; M1 (D1): A1, A2, A3 — 3 500, 350, and
    D1's whole pipeline (O1 1 000 + O3 200).
    """
    from sqlalchemy import delete

    from territory.services import performance as perf
    from territory.storage import tables as t

    with plan_engine.begin() as conn:
        aa = t.account_assignment
        conn.execute(
            delete(aa).where((aa.c.account_id == "A1") & (aa.c.territory_id == "T2"))
        )
    res = compute_metrics(
        plan_engine, "plan", level="rep", period="2027", config=SIMPLE
    )
    got = {
        r["rep_id"]: (r["accounts"], r["potential"], r["sales"], r["open_pipeline"])
        for r in res.table.to_dicts()
    }
    assert got == {
        "M1": (3, 3500.0, 350.0, 1200.0),
        "P1": (2, 1500.0, 150.0, 800.0),
        "P2": (1, 2000.0, 200.0, 400.0),
        "P3": (2, 3400.0, 70.0, 500.0),
        "P4": (2, 1500.0, 150.0, 200.0),
    }
    # The per-territory shortcut equals the per-account count it replaces.
    with plan_engine.connect() as conn:
        plan = perf.load_plan(conn, "plan")
        acc = perf.account_measures(conn, plan, SIMPLE, travel_from="owner")
        period = perf.resolve_period(conn, plan.model.id, "2027")
        facts = perf._read_facts(conn, plan.model.id, period, True)
    acc = acc.join(facts.sales, on="account_id", how="left").with_columns(
        pl.col("sales").fill_null(0.0)
    )
    pipeline, _ = perf._index_named(facts.pipeline, plan)
    terr = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE).table
    fast, slow = (
        perf._rep_table(plan, acc, terr, facts.quota_rows, pipeline, SIMPLE, dup)
        for dup in (False, True)
    )
    assert fast.equals(slow)


def test_rep_credit_by_role_is_consistent(plan_engine: Engine) -> None:
    """Each role is credited with the same territories for every measure.

    Added to the plan: M2 manages R1; P1, owner of T1, is also an overlay on
    T3 (vacant); M1 is also named on 25 % of O1. Hand-computed:

    * M2 covers R1 = {A1, A2, A3, A4}: sales 150 + 200 + 30 = 380, quota
      T1 300 + T2 0 + T3 30 = 330, pipeline O1 1 000 + O3 200 (names T1) =
      1 200 — R1's own figures, split or not;
    * P1 covers T1 and T3 = {A1, A2, A4}: sales 150 + 30 = 180, quota 300 +
      30 = 330 (attainment 180 / 330), pipeline 60 % of O1 + O3 in full = 800;
      P1 works T1 only (T3 is a main-type territory: an overlay there helps,
      its workload is the owner's), 11 h;
    * M1 manages D1 (O1 inside it): its 25 % of O1 is not added to the 1 200
      it already holds;
    * the splits now add up to 125 %: P2 keeps 40 % = 400.
    """
    from datetime import date

    from sqlalchemy import insert, select

    from territory.storage import tables as t

    with plan_engine.begin() as conn:
        model_id = conn.execute(
            select(t.territory_model.c.id).where(t.territory_model.c.name == "plan")
        ).scalar_one()
        conn.execute(
            insert(t.rep),
            [{"id": "M2", "name": "Rep M2", "home_lat": None, "home_lon": None,
              "capacity": None, "active": True}],
        )  # fmt: skip
        conn.execute(
            insert(t.territory_membership),
            [
                {"model_id": model_id, "territory_id": tid, "rep_id": rid,
                 "role": role, "start_date": date(2020, 1, 1)}
                for tid, rid, role in [("R1", "M2", "manager"), ("T3", "P1", "overlay")]
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.opportunity_split),
            [{"opportunity_id": "O1", "rep_id": "M1", "percent": 25.0}],
        )
    res = compute_metrics(
        plan_engine, "plan", level="rep", period="2027", config=SIMPLE
    )
    terr = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE).table
    r1 = _row(terr, "territory_id", "R1")
    m2 = _row(res.table, "rep_id", "M2")
    for col in ("accounts", "sales", "quota", "open_pipeline"):
        assert m2[col] == r1[col], col
    assert (m2["sales"], m2["quota"], m2["open_pipeline"]) == (380.0, 330.0, 1200.0)
    assert m2["roles"] == "manager"
    assert m2["capacity_hours"] is None and m2["utilisation"] is None
    p1 = _row(res.table, "rep_id", "P1")
    assert (p1["accounts"], p1["sales"], p1["quota"]) == (3, 180.0, 330.0)
    assert p1["attainment"] == pytest.approx(180 / 330)
    assert p1["open_pipeline"] == 800.0
    assert p1["roles"] == "overlay,owner"
    assert (p1["workload_hours"], p1["capacity_hours"]) == (11.0, 16.0)
    m1 = _row(res.table, "rep_id", "M1")
    assert m1["open_pipeline"] == 1200.0  # O1 + O3 in full, the 25 % not again
    assert _row(res.table, "rep_id", "P2")["open_pipeline"] == 400.0


def test_periods_finer_than_the_rows_are_noted(plan_engine: Engine) -> None:
    """March 2027: A3's yearly 2027 row cannot be split, and there is no
    monthly quota, so the yearly quota is pro-rated (300 / 12 for T1)."""
    res = compute_metrics(plan_engine, "plan", period="2027-03", config=SIMPLE)
    assert _row(res.table, "territory_id", "T4")["sales"] == 70.0  # A5 2027-03
    assert _row(res.table, "territory_id", "T2")["sales"] == 0.0  # A3 yearly only
    assert _row(res.table, "territory_id", "T1")["quota"] == 25.0
    sales_note = next(n for n in res.notes if n.startswith("sales:"))
    assert "rows of 2027 (1 accounts) are coarser than 2027-03" in sales_note
    assert "found for 1 accounts" in sales_note
    assert "--period 2027 " in sales_note
    quota_note = next(n for n in res.notes if n.startswith("quota:"))
    assert "the 2027 quota is pro-rated by length (1 of 12 months, 4 rows)" in (
        quota_note
    )
    # a whole year has nothing coarser and a quota row of its own: no note
    year = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    assert not [n for n in year.notes if n.startswith(("sales:", "quota:"))]


def test_quota_for_part_of_the_period_is_noted(plan_engine: Engine) -> None:
    """2026 holds a Q1 quota only (T1 100, T4 50): summed, and said so."""
    from sqlalchemy import insert, select

    from territory.storage import tables as t

    with plan_engine.begin() as conn:
        model_id = conn.execute(
            select(t.territory_model.c.id).where(t.territory_model.c.name == "plan")
        ).scalar_one()
        conn.execute(
            insert(t.quota),
            [
                {"model_id": model_id, "territory_id": tid, "period": "2026-Q1",
                 "amount": amount}
                for tid, amount in [("T1", 100.0), ("T4", 50.0)]
            ],
        )  # fmt: skip
    res = compute_metrics(plan_engine, "plan", period="2026", config=SIMPLE)
    t1 = _row(res.table, "territory_id", "T1")
    assert (t1["sales"], t1["quota"]) == (999.0, 100.0)  # A1's 2026 row
    assert t1["attainment"] == pytest.approx(9.99)
    note = next(n for n in res.notes if n.startswith("quota:"))
    assert "2 of 2 quota holders have rows for only part of 2026" in note
    assert "most often 2026-Q1: 3 of 12 months" in note


def test_files_carry_the_notes(plan_engine: Engine, tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    from territory.services.performance import metadata_path

    res = compute_metrics(plan_engine, "plan", period="2027-03", config=SIMPLE)
    assert any(n.startswith("sales:") for n in res.notes)
    csv = write_metrics(res, tmp_path / "m.csv")
    side = json.loads(metadata_path(csv).read_text(encoding="utf-8"))
    assert metadata_path(csv).name == "m.csv.meta.json"
    assert (side["model"], side["period"], side["level"]) == ("plan", "2027-03",
                                                              "territory")  # fmt: skip
    assert side["notes"] == list(res.notes)
    assert side["accounts"] == "6"
    parquet = write_metrics(res, tmp_path / "m.parquet")
    meta = pq.read_metadata(parquet).metadata
    assert json.loads(meta[b"territory.notes"]) == list(res.notes)
    assert meta[b"territory.period"] == b"2027-03"


def test_region_level_shows_overlays_apart(plan_engine: Engine) -> None:
    """OVL over A1, A3, A5 is a top-level territory of another type."""
    from performance_plan import add_overlay

    before = compute_metrics(
        plan_engine, "plan", level="region", period="2027", config=SIMPLE
    )
    add_overlay(plan_engine)
    res = compute_metrics(
        plan_engine, "plan", level="region", period="2027", config=SIMPLE
    )
    assert res.table["territory_id"].to_list() == ["R1", "R2", "OVL"]
    assert res.table["kind"].to_list() == ["region", "region", "overlay"]
    assert res.compared_ids == ("R1", "R2")
    assert res.balance == before.balance  # regions 4 and 2 accounts, as before
    assert _row(res.table, "territory_id", "OVL")["accounts"] == 3
    assert res.n_accounts == 6  # distinct: OVL's three are in the regions too
    assert any("OVL" in n and "shown apart" in n for n in res.notes)


def test_a_period_without_sales_quota_or_pipeline_is_noted(plan_engine: Engine) -> None:
    """1999 holds nothing: the zeros come with a note naming where data is.

    With close dates on the open opportunities (O3 2027-04-01, O2 2027-06-30,
    O1 2028-01-15) nothing is due by 1999; sales rows are of 2026, 2027 and
    2028-01, quota of 2027.
    """
    from datetime import date

    from sqlalchemy import update

    from territory.storage import tables as t

    with plan_engine.begin() as conn:
        o = t.opportunity
        for oid, due in (
            ("O1", date(2028, 1, 15)),
            ("O2", date(2027, 6, 30)),
            ("O3", date(2027, 4, 1)),
        ):
            conn.execute(update(o).where(o.c.id == oid).values(close_date=due))
    res = compute_metrics(plan_engine, "plan", period="1999", config=SIMPLE)
    assert res.table["sales"].to_list() == [0.0] * res.table.height
    assert res.table["open_pipeline"].to_list() == [0.0] * res.table.height
    (note,) = [n for n in res.notes if n.startswith("1999:")]
    assert note == (
        "1999: the store has no sales history, quota or open pipeline in this "
        "period, so sales, quota, attainment and pipeline are 0 (potential and "
        "workload do not depend on the period). Data is there for other periods: "
        "sales history 2026–2028, the model's quota 2027, open opportunities due "
        "from 2027-04; ask for --period 2027"
    )
    busy = compute_metrics(plan_engine, "plan", period="2027", config=SIMPLE)
    assert not [n for n in busy.notes if "no sales history, quota" in n]
