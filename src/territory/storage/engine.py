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

__all__ = [
    "HEAD_REVISION",
    "current_revision",
    "make_engine",
    "migrate",
    "sqlite_file_for_reading",
    "transaction",
]

_log = logging.getLogger(__name__)
_MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "head"
# Rows the SQLite connection had changed when its current transaction began.
_CHANGES_AT_BEGIN = "territory.sqlite_changes_at_begin"


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
            conn.info[_CHANGES_AT_BEGIN] = (
                conn.connection.driver_connection.total_changes
            )

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


def sqlite_file_for_reading(conn: Connection) -> Path | None:
    """Return the SQLite file another connection can read to see what ``conn`` sees.

    That is the database file of ``conn`` when it is a SQLite file store with
    no transaction open, or whose transaction (begun by an engine of
    :func:`make_engine`) has changed no row: everything it can see is
    committed. ``None`` otherwise (another dialect, an in-memory store,
    attached databases, or possibly uncommitted writes).
    """
    if conn.dialect.name != "sqlite":
        return None
    dbapi = conn.connection.driver_connection
    if dbapi is None:
        return None
    # Outside BEGIN nothing is uncommitted; inside, compare the rows changed
    # with the count when the transaction began (recorded by make_engine).
    if dbapi.in_transaction:
        at_begin = conn.info.get(_CHANGES_AT_BEGIN)
        if at_begin is None or dbapi.total_changes != at_begin:
            return None
    files = {name: file for _seq, name, file in dbapi.execute("PRAGMA database_list")}
    main = files.pop("main", "")
    files.pop("temp", None)
    if files or not main:
        return None
    return Path(main)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in one transaction: commit on success, else roll back."""
    with engine.begin() as conn:
        yield conn
