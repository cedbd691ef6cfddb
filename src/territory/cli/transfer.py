"""`territory import` and `territory export`: entity files in and out.

The format follows the file's extension (.csv, .parquet, .geojson). Imports
are all or nothing unless ``--skip-invalid`` is given; either way every
problem is printed with its file, row and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from territory.cli._common import (
    console,
    err_console,
    open_store,
    progress_bar,
    run_command,
    settings_of,
)
from territory.services.entity_files import ENTITIES

__all__ = ["export_command", "import_command", "register"]

#: Files at least this large show a progress bar while rows are written.
_PROGRESS_FROM_BYTES = 1_000_000

_ENTITY_HELP = "What the file holds: " + ", ".join(ENTITIES) + "."


def import_command(
    ctx: typer.Context,
    entity: Annotated[str, typer.Argument(help=_ENTITY_HELP, show_default=False)],
    file: Annotated[
        Path, typer.Argument(help="CSV, Parquet or GeoJSON file.", show_default=False)
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Territory model (default: the active model)."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the valid rows and report the skipped ones, instead of "
            "refusing the whole file.",
        ),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Encoding of a CSV file that is not UTF-8, e.g. latin-1 or cp1252.",
        ),
    ] = None,
) -> None:
    """Import ENTITY records from FILE into the store (one transaction)."""

    def go() -> None:
        from territory.services.importing import check_entity, import_file

        check_entity(entity)
        engine = open_store(ctx)
        actor = settings_of(ctx).actor
        size = file.stat().st_size if file.is_file() else 0
        if size >= _PROGRESS_FROM_BYTES:
            with progress_bar(f"Importing {entity}", total=None) as advance:
                report = import_file(
                    engine,
                    entity,
                    file,
                    model=model,
                    skip_invalid=skip_invalid,
                    encoding=encoding,
                    actor=actor,
                    on_progress=lambda n: advance(n),
                )
        else:
            report = import_file(
                engine,
                entity,
                file,
                model=model,
                skip_invalid=skip_invalid,
                encoding=encoding,
                actor=actor,
            )
        lines = report.summary_lines()
        skipped_at = next(
            (i for i, line in enumerate(lines) if line.startswith("skipped rows")),
            len(lines),
        )
        for line in lines[:skipped_at]:
            console.print(line, markup=False, highlight=False)
        for line in lines[skipped_at:]:
            err_console.print(line, markup=False, highlight=False)

    run_command(go)


def export_command(
    ctx: typer.Context,
    entity: Annotated[str, typer.Argument(help=_ENTITY_HELP, show_default=False)],
    file: Annotated[
        Path,
        typer.Argument(
            help="Output .csv, .parquet or .geojson file.", show_default=False
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Territory model (default: the active model)."
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--format",
            help="Column names: 'territory' (snake_case, imports back as it "
            "is) or 'salesforce' (accounts as a Data Loader file: Id, Name, "
            "BillingStreet, ..., custom fields as they are).",
        ),
    ] = "territory",
) -> None:
    """Export ENTITY records from the store to FILE."""

    def go() -> None:
        from territory.services.exporting import export_file
        from territory.services.importing import check_entity
        from territory.services.output_path import check_output_file

        check_entity(entity)
        check_output_file(file, "FILE")
        report = export_file(
            open_store(ctx, read_only=True), entity, file, model=model, layout=layout
        )
        for line in report.summary_lines():
            console.print(line, markup=False, highlight=False)

    run_command(go)


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``export`` to the root command."""
    app.command("import")(import_command)
    app.command("export")(export_command)
