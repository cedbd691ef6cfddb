"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL.

Tests that take the ``engine`` fixture run once per store. PostgreSQL is
reached at ``TERRITORY_TEST_POSTGRES_URL`` (default the local ``test``
database); each test gets its own schema, dropped afterwards. When
``TERRITORY_REQUIRE_POSTGRES=1`` (as in CI) an unreachable server fails the
run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from territory.storage.engine import make_engine, migrate

PG_URL = os.environ.get(
    "TERRITORY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("TERRITORY_REQUIRE_POSTGRES") == "1"


def _pg_available() -> bool:
    try:
        eng = make_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except OperationalError:
        return False


_PG_OK: bool | None = None


def _need_pg() -> None:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = _pg_available()
    if not _PG_OK:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_URL} is required but unreachable")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema (dropped after the test)."""
    _need_pg()
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'territory.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request) -> str:  # type: ignore[no-untyped-def]
    """URL of a fresh, empty store; the test runs once per store kind."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated, empty store (SQLite and PostgreSQL in turn)."""
    eng = make_engine(store_url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()
