"""Engine factory and schema migration for the territory store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from territory.errors import InputError, InternalError

__all__ = ["make_engine", "migrate", "transaction", "current_revision", "HEAD_REVISION"]

_log = logging.getLogger(__name__)
_MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "head"


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver the product ships with.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """Build an engine for ``url`` (SQLite file, ``sqlite://`` memory, PostgreSQL).

    Raises
    ------
    InputError
        When the URL cannot be parsed or names a driver that is not installed.
    """
    url = _normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(
            f"Database URL {url!r} cannot be parsed; use sqlite:///path/to/file.db "
            "or postgresql://user@host:5432/dbname.",
            code="bad_database_url",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, issue BEGIN so DDL and DML share
            # one real transaction (all-or-nothing imports).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise InputError(
            f"Cannot open database {parsed.render_as_string(hide_password=True)}: "
            f"{exc}; check the URL and that its driver is installed.",
            code="bad_database_url",
        ) from exc


def _alembic_config(connection: Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = HEAD_REVISION) -> None:
    """Bring the schema up to ``revision`` (default: the newest).

    Raises
    ------
    InternalError
        When the database cannot be reached or a migration fails.
    """
    from alembic import command

    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    except OperationalError as exc:
        raise InternalError(
            f"Cannot reach the database to migrate it: {exc.orig}; check that the "
            "server is running and the URL is right.",
            code="database_unreachable",
        ) from exc


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``base`` removes every table)."""
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision the store is at, or ``None`` when empty."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in one transaction: commit on success, else roll back."""
    with engine.begin() as conn:
        yield conn
