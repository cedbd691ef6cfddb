"""Quota allocation on the hand-drawn plan (see conftest), on both stores."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from performance_plan import SIMPLE
from territory.errors import InputError
from territory.services.quota import allocate_quotas
from territory.storage import tables as t
from territory.storage.audit import read_audit


def test_quota_allocates_top_down_and_flags_infeasible(plan_engine: Engine) -> None:
    """Total 1000 for 2028, history from 2027, blend 0.5.

    own potential: T1 1500, T2 3000 (A3 + A1), T3 100, T4 3400 -> all 8000
    own history 2027: T1 150, T2 350, T3 30, T4 70 -> all 600
    R1 = 1000·(0.5·4600/8000 + 0.5·530/600); R2 = the rest
    D2 = R1·(0.5·100/4600 + 0.5·30/530) and T3 = D2 (only child).
    """
    res = allocate_quotas(
        plan_engine,
        "plan",
        total=1000.0,
        period="2028",
        blend=0.5,
        max_share=0.2,
        config=SIMPLE,
        actor="test",
    )
    q = dict(zip(res.table["territory_id"], res.table["quota"], strict=True))
    r1 = 1000 * (0.5 * 4600 / 8000 + 0.5 * 530 / 600)
    d2 = r1 * (0.5 * 100 / 4600 + 0.5 * 30 / 530)
    assert res.history_period == "2027"
    assert q["R1"] == pytest.approx(r1)
    assert q["R2"] == pytest.approx(1000 - r1)
    assert q["D2"] == pytest.approx(d2) and q["T3"] == pytest.approx(d2)
    assert q["D1"] + q["D2"] == pytest.approx(q["R1"])
    assert q["T1"] + q["T2"] == pytest.approx(q["D1"])
    # D2 and T3 are asked for d2 / 100 ≈ 28.6 % of their potential (> 20 %)
    assert sorted(res.infeasible["territory_id"].to_list()) == ["D2", "T3"]
    with plan_engine.connect() as conn:
        n = conn.execute(
            select(func.count()).where(t.quota.c.period == "2028")
        ).scalar()
        audit = read_audit(conn, entity="quota")
    assert n == 8
    assert len(audit) == 8 and {a["action"] for a in audit} == {"insert"}


def test_quota_rerun_replaces_rows(plan_engine: Engine) -> None:
    for total in (100.0, 200.0):
        res = allocate_quotas(
            plan_engine, "plan", total=total, period="2028", config=SIMPLE, actor="t"
        )
    assert res.replaced == 8
    with plan_engine.connect() as conn:
        rows = conn.execute(
            select(t.quota.c.territory_id, t.quota.c.amount).where(
                t.quota.c.period == "2028"
            )
        ).all()
    by_t = dict(rows)
    assert len(rows) == 8
    assert by_t["R1"] + by_t["R2"] == pytest.approx(200.0)
    frame = pl.DataFrame({"q": list(by_t.values())})
    assert frame["q"].min() >= 0


def test_quota_rejects_bad_blend_and_total(plan_engine: Engine) -> None:
    with pytest.raises(InputError, match="Blend"):
        allocate_quotas(
            plan_engine, "plan", total=1.0, period="2028", blend=2.0, actor="t"
        )
    with pytest.raises(InputError, match="--total") as exc:
        allocate_quotas(plan_engine, "plan", total=-1.0, period="2028", actor="t")
    assert exc.value.code == "quota_total"
    with pytest.raises(InputError, match="2027-Q1"):
        allocate_quotas(plan_engine, "plan", total=1.0, period="FY28", actor="t")


def test_quota_refuses_an_archived_model_but_a_dry_run_reads_it(
    plan_engine: Engine,
) -> None:
    from territory.errors import Conflict
    from territory.services.models import archive_model

    archive_model(plan_engine, "plan", actor="test")

    def rows() -> list[tuple[str, str, float]]:
        with plan_engine.connect() as conn:
            q = t.quota
            return sorted(
                conn.execute(select(q.c.territory_id, q.c.period, q.c.amount)).all()
            )

    before = rows()
    with pytest.raises(Conflict, match="archived, so it cannot take a new quota") as e:
        allocate_quotas(
            plan_engine, "plan", total=1000.0, period="2028", config=SIMPLE,
            actor="test",
        )  # fmt: skip
    assert e.value.code == "model_archived"
    assert rows() == before  # the four 2027 rows, untouched
    dry = allocate_quotas(
        plan_engine, "plan", total=1000.0, period="2028", config=SIMPLE,
        actor="test", write=False,
    )  # fmt: skip
    assert dry.replaced == 0 and dry.table["quota"].max() > 0
    assert rows() == before
