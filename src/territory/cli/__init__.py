"""The `territory` command line.

The root callback reads settings (``--db`` or ``TERRITORY_DATABASE_URL``) and
stores them on the Typer context; command groups live in sibling modules and
are registered below. Project errors are printed as ``error: <message>`` on
stderr with the exit code their class defines.
"""

from __future__ import annotations

import logging
import sys

import typer

from territory.cli._common import console, err_console, run_command
from territory.errors import TerritoryError
from territory.settings import load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="territory",
    help="Open-source Enterprise Territory Management: design, assign, staff, track.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        help="Store URL (default: TERRITORY_DATABASE_URL or sqlite:///territory.db).",
        show_default=False,
    ),
    actor: str | None = typer.Option(
        None, "--actor", help="Name recorded in audit rows (default: your user name)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more detail."),
) -> None:
    """Open-source Enterprise Territory Management."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = load_settings(database_url=db, actor=actor)


def _register() -> None:
    # Command groups register themselves here, one line each.
    from territory.cli import model as _model

    app.add_typer(_model.app, name="model")
    from territory.cli import transfer as _transfer

    _transfer.register(app)
    from territory.cli import performance as _performance

    _performance.register(app)
    from territory.cli import bench as _bench

    app.add_typer(_bench.app, name="bench")
    from territory.cli import design as _design

    app.command("design")(_design.design_command)
    from territory.cli import scenario as _scenario

    _scenario.register(app)
    from territory.cli import data as _data

    app.add_typer(_data.app, name="data")
    from territory.cli import rules as _rules

    app.add_typer(_rules.app, name="rules")
    from territory.cli import assign as _assign

    _assign.register(app)


_register()


def main() -> None:
    """Entry point of the ``territory`` console script."""
    try:
        app()
    except TerritoryError as exc:  # raised outside run_command (e.g. settings)
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(exc.exit_code)


_ = (console, run_command)
