"""Opening the store: one engine per URL, migrated to the newest schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from territory.storage.engine import make_engine, migrate

__all__ = ["Engine", "missing_sqlite_file", "open_store"]


def missing_sqlite_file(url: str) -> Path | None:
    """Return the file a SQLite ``url`` names when it does not exist yet.

    ``None`` for other backends, in-memory stores, existing files and URLs
    that do not parse (:func:`open_store` names what is wrong with those).

    Examples
    --------
    >>> missing_sqlite_file("sqlite:///no/such/dir/territory.db").as_posix()
    'no/such/dir/territory.db'
    >>> missing_sqlite_file("sqlite://") is None
    True
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (
        None,
        "",
        ":memory:",
    ):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def open_store(url: str) -> Engine:
    """Return an engine for ``url`` whose schema is at the newest revision.

    Raises
    ------
    InputError
        When the URL is malformed.
    InternalError
        When the database cannot be reached.
    """
    engine = make_engine(url)
    migrate(engine)
    return engine
