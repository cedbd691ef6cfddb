"""Opening the store: one engine per URL, migrated to the newest schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from territory.errors import InputError
from territory.storage.engine import make_engine, migrate

__all__ = ["Engine", "empty_sqlite_file", "missing_sqlite_file", "open_store"]

#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


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


def _sqlite_path(url: str) -> Path | None:
    """The file a SQLite ``url`` names (``None``: another backend, in memory)."""
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
    return Path(parsed.database)


def empty_sqlite_file(url: str) -> Path | None:
    """Return the file a SQLite ``url`` names when it exists and is empty."""
    path = _sqlite_path(url)
    if path is None or not path.is_file():
        return None
    return path if path.stat().st_size == 0 else None


def _check_sqlite_file(url: str) -> None:
    """Refuse a SQLite URL naming a folder or a file that is not a database."""
    path = _sqlite_path(url)
    if path is None or not path.exists():
        return
    if path.is_dir():
        raise InputError(
            f"--db names the folder {path}; give the store's file, e.g. "
            f"sqlite:///{path / 'territory.db'}.",
            code="bad_store",
            details={"file": str(path)},
        )
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_HEADER))
    if head and head != _SQLITE_HEADER:
        raise InputError(
            f"{path} is not a territory store: it is not a SQLite database file. "
            "Check --db or TERRITORY_DATABASE_URL.",
            code="bad_store",
            details={"file": str(path)},
        )


def open_store(url: str) -> Engine:
    """Return an engine for ``url`` whose schema is at the newest revision.

    Raises
    ------
    InputError
        When the URL is malformed, or names a folder or a file that is not a
        SQLite database (code ``bad_store``).
    InternalError
        When the database cannot be reached.
    """
    _check_sqlite_file(url)
    engine = make_engine(url)
    migrate(engine)
    return engine
