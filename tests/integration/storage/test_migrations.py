"""Migrations create the whole schema and remove it again on both stores."""

from __future__ import annotations

from sqlalchemy import inspect

from territory.storage.engine import current_revision, downgrade, make_engine, migrate
from territory.storage.tables import metadata


def test_migrate_creates_every_table_and_downgrade_removes_them(store_url: str) -> None:
    eng = make_engine(store_url)
    assert current_revision(eng) is None
    migrate(eng)
    tables = set(inspect(eng).get_table_names())
    assert set(metadata.tables) <= tables
    head = current_revision(eng)
    assert head is not None
    migrate(eng)  # idempotent
    assert current_revision(eng) == head
    downgrade(eng, "base")
    left = set(inspect(eng).get_table_names()) - {"alembic_version"}
    assert left == set()
    eng.dispose()
