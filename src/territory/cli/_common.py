"""Helpers every command module shares: consoles, the store, error handling."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from territory.errors import (
    InputError,
    InternalError,
    TerritoryError,
    ValidationFailed,
)
from territory.settings import Settings

if TYPE_CHECKING:
    from territory.services.store import Engine

__all__ = [
    "console",
    "err_console",
    "open_store",
    "progress_bar",
    "run_command",
    "settings_of",
]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
_log = logging.getLogger(__name__)
T = TypeVar("T")


def settings_of(ctx: typer.Context) -> Settings:
    """Return the settings the root callback stored on the context."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, Settings):
        raise InternalError("CLI context has no settings", code="cli_context")
    return obj


def open_store(ctx: typer.Context, *, read_only: bool = False) -> Engine:
    """Open the store named by ``--db`` and migrate it to the newest schema.

    A command that only reads (``read_only``) refuses a SQLite file that does
    not exist instead of creating an empty store (and its folders) there.

    Raises
    ------
    InputError
        When ``read_only`` and the SQLite file named by ``--db`` does not exist
        or is empty (code ``no_store``).
    """
    from territory.services.store import empty_sqlite_file, missing_sqlite_file
    from territory.services.store import open_store as _open

    url = settings_of(ctx).database_url
    empty = empty_sqlite_file(url) if read_only else None
    if empty is not None:
        raise InputError(
            f"No store at {empty}: the file is empty. Check --db or "
            "TERRITORY_DATABASE_URL; a command that writes (territory data "
            "load-us, territory import) makes a new store.",
            code="no_store",
            details={"file": str(empty)},
        )
    missing = missing_sqlite_file(url)
    if missing is not None and read_only:
        raise InputError(
            f"No store at {missing}: the file does not exist. Check --db or "
            "TERRITORY_DATABASE_URL; a command that writes (territory data "
            "load-us, territory import) makes a new store.",
            code="no_store",
            details={"file": str(missing)},
        )
    if missing is not None:
        # a mistyped path would otherwise look like an empty store
        err_console.print(
            f"note: no store at {missing}; creating a new empty one "
            "(check --db or TERRITORY_DATABASE_URL if you meant an existing store)"
        )
    return _open(url)


#: Width of tables when the output is not a terminal (a log, a pipe) and
#: ``COLUMNS`` is not set: wide enough for the metric tables.
PIPE_WIDTH = 132


def fit_console() -> None:
    """Size the consoles now: ``COLUMNS`` wins, else the terminal, else PIPE_WIDTH.

    The consoles are made at import time; a command can run later in another
    environment (a test runner, an embedding program), so each command re-reads
    the width when it starts.
    """
    columns = os.environ.get("COLUMNS", "")
    for con in (console, err_console):
        if columns.isdigit() and int(columns) > 0:
            con.width = int(columns)
        elif not con.is_terminal:
            con.width = PIPE_WIDTH


def run_command(fn: Callable[[], T]) -> T:
    """Run ``fn``; print project errors as ``error: ...`` and exit with their code."""
    fit_console()
    try:
        return fn()
    except ValidationFailed as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from exc
    except TerritoryError as exc:
        err_console.print(f"error: {exc.message}", markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from exc
    except typer.Exit:
        raise
    except BaseException as exc:  # top of a command: log, answer
        if not _is_failure(exc):
            raise  # KeyboardInterrupt, SystemExit
        _log.exception("unexpected error")
        err_console.print(
            f"error: internal error ({type(exc).__name__}: {exc}); "
            "please report it with the command you ran.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(InternalError.exit_code) from exc


def _is_failure(exc: BaseException) -> bool:
    """Return whether ``exc`` is a failure to report (not an interrupt or exit).

    A panic in a native library (polars' ``PanicException``) derives from
    BaseException only; polars is imported by whichever command needs it,
    so it is looked up only if it was loaded.
    """
    if isinstance(exc, Exception):
        return True
    loaded = sys.modules.get("polars.exceptions")
    panic = getattr(loaded, "PanicException", None)
    return panic is not None and isinstance(exc, panic)


@contextmanager
def progress_bar(
    description: str, total: float | None
) -> Iterator[Callable[..., None]]:
    """Show a rich progress bar; yield ``advance(n=1, description=, total=)``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not sys.stderr.isatty() and False,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def advance(
            n: float = 1, description: str | None = None, total: float | None = None
        ) -> None:
            kwargs: dict[str, object] = {"advance": n}
            if description is not None:
                kwargs["description"] = description
            if total is not None:
                kwargs["total"] = total
            progress.update(task, **kwargs)  # type: ignore[arg-type]

        yield advance
