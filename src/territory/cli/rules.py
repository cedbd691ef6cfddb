"""`territory rules ...`: import, export, lint assignment rules; rules from a design."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from territory.cli._common import console, open_store, run_command, settings_of

_MODEL = "Model (default: the active one)."
app = typer.Typer(
    help="Assignment rules: import/export Salesforce ETM setups or YAML, lint, "
    "turn a design into rules.",
    no_args_is_help=True,
)


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="Folder of Salesforce Data Loader CSVs, or a YAML rule file."
        ),
    ],
    model: str = typer.Option(..., "--model", "-m", help="Model to import into."),
    replace: bool = typer.Option(
        False, "--replace", help="Delete the model's other rules and value sets first."
    ),
    create_model: bool = typer.Option(
        False,
        "--create-model",
        help="Create the model when no model has that name (default: refuse).",
    ),
) -> None:
    """Import territories, types, rules and value sets into a model."""

    def go() -> None:
        from territory.services import rules as svc

        r = svc.import_rules(
            open_store(ctx),
            path,
            model,
            actor=settings_of(ctx).actor,
            replace_rules=replace,
            create_model=create_model,
        )
        c = r.counts
        made = " (new model)" if r.created_model else ""
        console.print(
            f"Imported {path} into [bold]{model}[/]{made}: "
            f"{c.territories} territories, "
            f"{c.types} types, {c.rules} rules, {c.items} items, {c.links} links, "
            f"{c.value_sets} value sets."
        )
        for x in r.matched_types:
            console.print(
                f"Territory type '{x.imported_id}' is the stored type "
                f"'{x.stored_id}' ({x.name}, priority {x.priority}): same name and "
                "priority, so its territories use the stored type.",
                highlight=False,
            )

    run_command(go)


@app.command("export")
def export(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A .yaml file, or a folder for the Salesforce CSVs.")
    ],
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model (default: active)."
    ),
) -> None:
    """Export a model's rules as YAML or Salesforce Data Loader CSVs."""

    def go() -> None:
        from territory.services import rules as svc
        from territory.services.output_path import (
            check_output_file,
            check_output_folder,
        )

        if svc.exports_yaml(path):
            check_output_file(path, "PATH")
        else:
            check_output_folder(path, "PATH")
        files = svc.export_rules(open_store(ctx, read_only=True), path, model)
        console.print(f"Wrote {len(files)} file{'s' if len(files) > 1 else ''}:")
        for f in files:
            console.print(f"  {f}")

    run_command(go)


@app.command("lint")
def lint(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model (default: active)."
    ),
) -> None:
    """Report never-matching rules, shadowing, unmatched and blank-skipped accounts."""

    def go() -> None:
        from territory.services import rules as svc

        findings = svc.lint_model(open_store(ctx, read_only=True), model)
        if not findings:
            console.print("No findings: every rule can match and every account lands.")
            return
        table = Table(title=f"Rule lint ({len(findings)} findings)")
        for col in ("finding", "rule", "territory", "message", "accounts / values"):
            table.add_column(col, overflow="fold")
        for f in findings:
            listed = ", ".join(f.accounts or f.values)
            if f.count > len(f.accounts) and f.accounts:
                listed += f" … ({f.count} in all)"
            table.add_row(
                f.code, f.rule_id or "", f.territory_id or "", f.message, listed
            )
        console.print(table)

    run_command(go)


@app.command("from-design")
def from_design(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model (default: active)."
    ),
    level: str = typer.Option("zip", "--level", help="zip or county."),
) -> None:
    """Write one ZIP-table (or county-table) rule per designed territory."""

    def go() -> None:
        from territory.services import rules as svc

        r = svc.rules_from_design(
            open_store(ctx), model, level=level, actor=settings_of(ctx).actor
        )
        console.print(
            f"Wrote {r.n_rules} {level}-table rules ({r.n_values:,} {level} codes) "
            f"into model {r.model_id}.",
            highlight=False,
        )
        if r.derived_from:
            console.print(
                f"The design is drawn on {r.derived_from} units: each ZIP code "
                f"follows its {r.derived_from}'s territory; "
                + (
                    f"{r.accounts_elsewhere:,} accounts sit in a ZIP code that "
                    "crosses into another territory and will follow the ZIP."
                    if r.accounts_elsewhere
                    else "every stored account keeps its designed territory."
                ),
                highlight=False,
            )

    run_command(go)


@app.command("export-assignments")
def export_assignments(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV file to write.")] = Path(
        "ObjectTerritory2Association.csv"
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model (default: active)."
    ),
    for_load: bool = typer.Option(
        False,
        "--for-load",
        help="Write every row as Territory2Manual, ready for Data Loader.",
    ),
    id_map: Annotated[
        Path | None,
        typer.Option("--id-map", help="CSV territory_id,salesforce_id for our ids."),
    ] = None,
) -> None:
    """Export account assignments as ObjectTerritory2Association.csv."""

    def go() -> None:
        from territory.services import rules as svc
        from territory.services.output_path import check_output_file

        check_output_file(path, "PATH")
        n = svc.export_assignments(
            open_store(ctx, read_only=True),
            path,
            model,
            for_load=for_load,
            id_map=id_map,
        )
        console.print(f"Wrote {n:,} associations to {path}.")

    run_command(go)
