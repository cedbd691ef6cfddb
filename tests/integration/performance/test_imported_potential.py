"""The imported potential of an account, read from its custom field, on both stores.

A JSON number is taken as it is, a JSON string when it reads as a number
(spaces around it allowed); anything else — words, "1 000", an object, a
missing key or no custom fields at all — leaves the formula in charge
(null). SQLite hands numbers and strings over as two typed columns, so the
native read and the ordinary read agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import Engine, insert

from territory.services.models import create_model
from territory.services.plan import load_plan, read_accounts
from territory.storage import tables as t

pytestmark = pytest.mark.integration

CASES = [
    # account, custom fields, imported potential
    ("A01", {"potential": 7}, 7.0),
    ("A02", {"potential": 2.5}, 2.5),
    ("A03", {"potential": "1500"}, 1500.0),
    ("A04", {"potential": " 2.5 "}, 2.5),
    ("A05", {"potential": "1 000"}, None),
    ("A06", {"potential": "lots"}, None),
    ("A07", {"potential": {"usd": 5}}, None),
    ("A08", {"potential": None}, None),
    ("A09", {"other": 3}, None),
    ("A10", None, None),
    ("A11", {"potential": 123456789.125}, 123456789.125),
]


def _store(engine: Engine) -> None:
    model = create_model(engine, "m", actor="test")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                {
                    "id": aid,
                    "name": aid,
                    "custom_fields": custom,
                    "created_at": now,
                    "updated_at": now,
                }
                for aid, custom, _ in CASES
            ],
        )
        conn.execute(
            insert(t.territory),
            [{"model_id": model.id, "id": "T1", "name": "T1", "attributes": {}}],
        )
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": model.id,
                    "account_id": aid,
                    "territory_id": "T1",
                    "cause": "manual",
                }
                for aid, _, _ in CASES
            ],
        )


def test_imported_potential_reads_numbers_and_numeric_text(engine: Engine) -> None:
    _store(engine)
    expected = {aid: value for aid, _, value in CASES}
    with engine.connect() as conn:
        accounts = read_accounts(conn)
        plan = load_plan(conn, "m")
    for frame in (accounts, plan.assignments):
        got = dict(
            zip(
                frame["account_id"].to_list(),
                frame["imported_potential"].to_list(),
                strict=True,
            )
        )
        assert got == expected
        assert frame["imported_potential"].dtype == pl.Float64
        assert not {"imported_number", "imported_text"} & set(frame.columns)
