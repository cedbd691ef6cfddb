"""`territory compare` and `territory report`: look at plans before acting on them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from territory.cli._common import (
    console,
    err_console,
    open_store,
    progress_bar,
    run_command,
)
from territory.cli._table import money

__all__ = ["compare", "register", "report"]

_MEASURE_LABELS = {
    "accounts": "accounts",
    "potential": "potential (USD)",
    "sales": "sales (USD)",
    "workload_hours": "workload (h)",
}
_INDEX_LABELS = {"cv": "CV", "max_min": "max/min", "gini": "Gini"}
_SHOWN_ROWS = 20


def _num(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def _workload_config(path: Path | None):  # type: ignore[no-untyped-def]
    from territory.services.workload import load_workload_config

    return load_workload_config(path)


def compare(
    ctx: typer.Context,
    model_a: Annotated[
        str, typer.Argument(help="The plan as it is (e.g. the active model).")
    ],
    model_b: Annotated[
        str, typer.Argument(help="The plan as it would be (e.g. a clone).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the CSV files and the change map "
            "(default: ./compare-MODEL_A-vs-MODEL_B).",
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="Sales period, e.g. 2027 or 2027-Q1 (default: latest)."
        ),
    ] = None,
    workload: Annotated[
        Path | None,
        typer.Option(
            "--workload", help="Workload settings YAML (default: documented values)."
        ),
    ] = None,
    no_map: Annotated[
        bool, typer.Option("--no-map", help="Do not draw the change map.")
    ] = False,
) -> None:
    """Show what changes from MODEL_A to MODEL_B: moves, gains and losses, balance."""
    from territory.services.compare import (
        compare_models,
        draw_change_map,
        write_comparison,
    )
    from territory.services.output_path import check_output_folder

    def go() -> None:
        folder = check_output_folder(
            out or Path(f"compare-{_slug(model_a)}-vs-{_slug(model_b)}")
        )
        engine = open_store(ctx, read_only=True)
        cfg = _workload_config(workload)
        with progress_bar("comparing", total=5) as advance:
            result = compare_models(
                engine,
                model_a,
                model_b,
                period=period,
                config=cfg,
                progress=lambda msg: advance(1, description=msg),
            )
            advance(0, description="done")
        files = write_comparison(result, folder)
        map_path = None
        if not no_map and result.units.height:
            map_path = draw_change_map(engine, result, folder / "changes.png")
        _print_comparison(result)
        console.print(
            f"\nFiles in [bold]{folder}[/]: "
            + ", ".join(p.name for p in files)
            + (f", {map_path.name}" if map_path else "")
        )
        for note in result.notes:
            err_console.print(f"note: {note}", markup=False, highlight=False)

    run_command(go)


def _print_comparison(result) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    a, b = result.model_a, result.model_b
    n_units = result.n_units
    console.print(
        f"[bold]{a}[/] → [bold]{b}[/] (sales {result.period}): "
        f"[bold]{result.units_moved.height:,}[/] of {n_units:,} units and "
        f"[bold]{result.accounts_moved.height:,}[/] of {result.n_accounts:,} accounts "
        "move to another territory."
    )
    dis = Table(title="Disruption: share of each activity that changes hands")
    for col, just in (
        ("activity", "left"),
        ("total", "right"),
        ("changes hands", "right"),
        ("share", "right"),
    ):
        dis.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in result.disruption.iter_rows(named=True):
        fmt = money if row["measure"] in ("potential", "sales") else _num
        dis.add_row(
            _MEASURE_LABELS.get(row["measure"], row["measure"]),
            fmt(row["total"]),
            fmt(row["changed_hands"]),
            "—" if row["share"] is None else f"{row['share']:.1%}",
        )
    console.print(dis)
    bal = Table(title="Balance across leaf territories (lower is more even)")
    for col, just in (
        ("measure", "left"),
        ("index", "left"),
        (a, "right"),
        (b, "right"),
        ("change", "right"),
    ):
        bal.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in result.balance.iter_rows(named=True):
        change = row["change"]
        style = (
            ""
            if change is None or abs(change) < 1e-12
            else ("green" if change < 0 else "red")
        )
        bal.add_row(
            _MEASURE_LABELS.get(row["measure"], row["measure"]),
            _INDEX_LABELS[row["index"]],
            _num(row["a"], 3),
            _num(row["b"], 3),
            "—"
            if change is None
            else f"[{style}]{change:+.3f}[/]"
            if style
            else f"{change:+.3f}",
        )
    console.print(bal)
    reps = result.reps.filter(
        (pl.col("accounts_gained") > 0) | (pl.col("accounts_lost") > 0)
    ).sort(
        [pl.col("accounts_gained") + pl.col("accounts_lost"), pl.col("rep_id")],
        descending=[True, False],
    )
    rt = Table(
        title=f"Reps with changes ({reps.height:,} of {result.reps.height:,}"
        + (
            f"; first {_SHOWN_ROWS}, all in reps.csv)"
            if reps.height > _SHOWN_ROWS
            else ")"
        )
    )
    for col in (
        "rep",
        "name",
        "accounts +/−",
        "potential +/−",
        "sales +/−",
        "workload h +/−",
        "workload h before → after",
    ):
        rt.add_column(
            col,
            justify="left" if col in ("rep", "name") else "right",
            no_wrap=col != "name",
        )
    for row in reps.head(_SHOWN_ROWS).iter_rows(named=True):
        rt.add_row(
            row["rep_id"],
            row["name"] or "",
            f"+{row['accounts_gained']:,} / −{row['accounts_lost']:,}",
            f"+{money(row['potential_gained'])} / −{money(row['potential_lost'])}",
            f"+{money(row['sales_gained'])} / −{money(row['sales_lost'])}",
            f"+{_num(row['workload_gained_hours'])} / "
            f"−{_num(row['workload_lost_hours'])}",
            f"{_num(row['workload_a_hours'])} → {_num(row['workload_b_hours'])}",
        )
    console.print(rt if reps.height else "No rep gains or loses an account.")
    if result.units_moved.height:
        ut = Table(
            title="Units moved"
            + (
                f" (first {_SHOWN_ROWS}, all in units_moved.csv)"
                if result.units_moved.height > _SHOWN_ROWS
                else ""
            )
        )
        for col in ("kind", "unit", f"territory in {a}", f"territory in {b}"):
            ut.add_column(col)
        for row in result.units_moved.head(_SHOWN_ROWS).iter_rows():
            ut.add_row(*[v or "—" for v in row])
        console.print(ut)


def report(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model to report on (default: the active one)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html.")] = Path(
        "report"
    ),
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            help="Choropleth metric: a geo-unit metric (population, labor_force) "
            "or a territory measure (accounts, potential, sales, quota, "
            "workload_hours, attainment).",
        ),
    ] = "population",
    period: Annotated[
        str | None,
        typer.Option("--period", help="Sales and quota period (default: latest)."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="Balance band around the mean, e.g. 0.1 = ±10 %."
        ),
    ] = 0.10,
    workload: Annotated[
        Path | None,
        typer.Option(
            "--workload", help="Workload settings YAML (default: documented values)."
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML report (maps, charts, tables) of a model."""
    from territory.services.output_path import check_output_folder
    from territory.services.report import REPORT_STEPS, write_report

    def go() -> None:
        check_output_folder(out)
        engine = open_store(ctx, read_only=True)
        cfg = _workload_config(workload)
        with progress_bar("report", total=len(REPORT_STEPS)) as advance:
            path = write_report(
                engine,
                model,
                out,
                metric=metric,
                period=period,
                tolerance=tolerance,
                config=cfg,
                progress=lambda msg: advance(1, description=msg),
            )
        console.print(f"Report written to [bold]{path}[/]")

    run_command(go)


def register(app: typer.Typer) -> None:
    """Add `compare` and `report` to the root command."""
    app.command("compare")(compare)
    app.command("report")(report)
