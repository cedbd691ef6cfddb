"""Opening the store: one engine per URL, migrated to the newest schema."""

from __future__ import annotations

from sqlalchemy import Engine

from territory.storage.engine import make_engine, migrate

__all__ = ["open_store"]


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
