"""Real counties of four small states, loaded once and copied into each store.

Loading the shipped US data takes a few seconds, so :func:`county_rows` does
it once per test session (into a private SQLite file) and keeps the rows;
:func:`seed_store` copies them into a test's fresh store and adds two
accounts per county at the county centroid (``A-<fips>-1`` with revenue
1 000 000 USD and ``A-<fips>-2`` with 500 000 USD), plus ``A-NOWHERE`` with
no county.

States: CT (8 counties), DE (3), MA (14, with the islands Dukes and
Nantucket), RI (5).
"""

from __future__ import annotations

import functools
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from territory.storage.bulk import insert_columns
from territory.storage.engine import make_engine, migrate
from territory.storage.tables import geo_adjacency, geo_unit, geo_unit_metric

STATES = "CT,DE,MA,RI"
_TABLES = (geo_unit, geo_unit_metric, geo_adjacency)


@functools.cache
def county_rows() -> dict[str, dict[str, list[Any]]]:
    """Columns of geo_unit, geo_unit_metric and geo_adjacency for STATES."""
    from territory.services.geodata import load_us

    with tempfile.TemporaryDirectory() as tmp:
        eng = make_engine(f"sqlite:///{Path(tmp) / 'load.db'}")
        migrate(eng)
        load_us(eng, states=STATES)
        out: dict[str, dict[str, list[Any]]] = {}
        with eng.connect() as conn:
            for table in _TABLES:
                rows = conn.execute(select(table)).all()
                out[table.name] = {
                    c.name: [r._mapping[c.name] for r in rows] for c in table.columns
                }
        eng.dispose()
    return out


def seed_store(engine: Engine, *, accounts: bool = True) -> list[str]:
    """Copy the counties into ``engine`` and add the accounts; return account ids."""
    data = county_rows()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ids: list[str] = []
    with engine.begin() as conn:
        for table in _TABLES:
            insert_columns(conn, table, data[table.name])
        if accounts:
            units = data["geo_unit"]
            fips = units["id"]
            ids = [f"A-{f}-{k}" for f in fips for k in (1, 2)] + ["A-NOWHERE"]
            insert_columns(
                conn,
                "account",
                {
                    "id": ids,
                    "name": [f"Account {i}" for i in ids],
                    "annual_revenue": [
                        1_000_000.0 if k == 1 else 500_000.0
                        for _ in fips
                        for k in (1, 2)
                    ]
                    + [None],
                    "latitude": [la for la in units["centroid_lat"] for _ in (1, 2)]
                    + [None],
                    "longitude": [lo for lo in units["centroid_lon"] for _ in (1, 2)]
                    + [None],
                    "county_id": [f for f in fips for _ in (1, 2)] + [None],
                    "billing_state": [s for s in units["state"] for _ in (1, 2)]
                    + [None],
                    "placed_by": "county",
                    "created_at": now,
                    "updated_at": now,
                },
            )
    return ids
