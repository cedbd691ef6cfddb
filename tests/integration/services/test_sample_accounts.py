"""Sample sales and pipeline hang together with the product's potential."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, select

from territory.metrics.potential import (
    PotentialFormula,
    account_potential,
    market_index,
)
from territory.services.geodata import generate_sample_accounts, load_us
from territory.services.sample_history import PIPELINE_CAP, SAMPLE_AS_OF, SHARE_CAP
from territory.storage.tables import (
    account,
    geo_unit_metric,
    opportunity,
    sales_history,
)

pytestmark = pytest.mark.integration


def _potential(engine: Engine) -> tuple[list[str], np.ndarray]:
    """Return the sample account ids and their potential by the default formula."""
    with engine.connect() as conn:
        acc = conn.execute(
            select(
                account.c.id,
                account.c.annual_revenue,
                account.c.employees,
                account.c.industry,
                account.c.county_id,
            ).order_by(account.c.id)
        ).all()
        metric = conn.execute(
            select(geo_unit_metric.c.unit_id, geo_unit_metric.c.metric,
                   geo_unit_metric.c.value)
            .where(geo_unit_metric.c.kind == "county")
        ).all()  # fmt: skip
    wide = (
        pl.DataFrame(metric, schema=["unit_id", "metric", "value"], orient="row")
        .pivot("metric", index="unit_id", values="value")
        .sort("unit_id")
    )
    formula = PotentialFormula()
    index = market_index(
        wide["population"].to_numpy(), wide["labor_force"].to_numpy(), 0.5
    )
    of_county = dict(zip(wide["unit_id"], index, strict=True))
    potential = account_potential(
        formula,
        revenue=[float(a.annual_revenue) for a in acc],
        employees=[float(a.employees) for a in acc],
        industry=[a.industry for a in acc],
        market=[of_county.get(a.county_id, 1.0) for a in acc],
    )
    return [a.id for a in acc], potential


def _by_account(
    engine: Engine,
    ids: list[str],
    table,
    where,  # type: ignore[no-untyped-def]
) -> np.ndarray:
    pos = {a: k for k, a in enumerate(ids)}
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.account_id, table.c.amount).where(where))
    out = np.zeros(len(ids))
    for acc_id, amount in rows:
        out[pos[acc_id]] += float(amount)
    return out


@pytest.mark.slow
def test_sample_sales_and_pipeline_are_shares_of_potential(engine: Engine) -> None:
    load_us(engine, states="RI,CT")
    generate_sample_accounts(engine, 1_500, seed=7, states="RI,CT")
    ids, potential = _potential(engine)
    period = sales_history.c.period
    y25 = _by_account(engine, ids, sales_history, period.like("2025%"))
    y26 = _by_account(engine, ids, sales_history, period.like("2026%"))
    pipe = _by_account(engine, ids, opportunity, opportunity.c.is_closed.is_(False))
    # Sales never exceed SHARE_CAP (80 %) of potential in any year.
    assert (y25 <= SHARE_CAP * potential + 0.01).all()
    assert (y26 <= SHARE_CAP * potential + 0.01).all()
    # About a third of accounts are prospects without sales.
    buying = y25 > 0
    assert 0.55 < buying.mean() < 0.75
    # A customer's penetration: median about 0.31, spread across accounts.
    pen = y25[buying] / potential[buying]
    assert 0.22 < np.median(pen) < 0.40
    assert np.std(pen) / np.mean(pen) > 0.3
    # Over all accounts: 10-60 % of potential, 2026 (to November) close to 2025.
    assert 0.10 < y25.sum() / potential.sum() < 0.60
    assert 0.80 < y26.sum() / y25.sum() < 1.10
    # Open pipeline: at most PIPELINE_CAP × potential per account, about half
    # of the potential overall, and closing after the as-of day.
    assert (pipe <= PIPELINE_CAP * potential + 1).all()
    assert 0.3 < pipe.sum() / potential.sum() < 0.9
    with engine.connect() as conn:
        first_close = conn.execute(
            select(opportunity.c.close_date).order_by(opportunity.c.close_date)
        ).first()
    assert first_close is not None
    assert first_close.close_date > SAMPLE_AS_OF
