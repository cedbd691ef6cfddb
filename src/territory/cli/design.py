"""`territory design`: balanced, contiguous, compact territories on stored units."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from territory.cli._common import (
    console,
    err_console,
    open_store,
    run_command,
    settings_of,
)
from territory.errors import InfeasibleError, InputError

__all__ = ["design_command"]


def _levels(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        r, p = (int(x) for x in parts)
    except ValueError:
        raise InputError(
            f"--levels {text!r} is not REGIONS,TERRITORIES, e.g. --levels 4,30.",
            code="bad_option",
        ) from None
    return r, p


def _states(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    return tuple(s.strip() for s in text.split(",") if s.strip())


def design_command(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Option("--model", help="Name of the new planning model.")
    ],
    balance: Annotated[
        list[str],
        typer.Option(
            "--balance",
            help="ACTIVITY=TOLERANCE, repeatable (e.g. population=0.05 for ±5 %): "
            "unit metrics population, labor_force; account sums accounts, revenue, "
            "potential (USD, as quota and metrics measure it) and workload (yearly "
            "call hours by segment; travel is left out, as it depends on the "
            "territory drawn).",
        ),
    ],
    territories: Annotated[
        int | None, typer.Option("--territories", help="Number of territories.")
    ] = None,
    states: Annotated[
        str | None,
        typer.Option(
            "--states", help="Comma-separated states, e.g. GA,FL, or CONTIGUOUS."
        ),
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="Units to group: county, zip or account.")
    ] = "county",
    contiguity: Annotated[
        str, typer.Option("--contiguity", help="queen, rook or none.")
    ] = "queen",
    objective: Annotated[
        str, typer.Option("--objective", help="diameter, moment or pcenter.")
    ] = "diameter",
    centers: Annotated[
        Path | None,
        typer.Option(
            "--centers", help="CSV of territory,lat,lon or territory,unit_id."
        ),
    ] = None,
    lock: Annotated[
        Path | None, typer.Option("--lock", help="CSV of unit_id,territory pins.")
    ] = None,
    from_model: Annotated[
        str | None, typer.Option("--from", help="Redesign from this model's plan.")
    ] = None,
    max_disruption: Annotated[
        float | None,
        typer.Option(
            "--max-disruption",
            help="Largest share of each balanced activity that may change territory.",
        ),
    ] = None,
    max_disruption_per_territory: Annotated[
        float | None,
        typer.Option(
            "--max-disruption-per-territory",
            help="Largest share of each territory's activity that may leave it.",
        ),
    ] = None,
    levels: Annotated[
        str | None,
        typer.Option("--levels", help="REGIONS,TERRITORIES, e.g. 4,30."),
    ] = None,
    capacity: Annotated[
        list[str] | None,
        typer.Option(
            "--capacity",
            help="ACTIVITY=VALUE per territory; sizes the number of territories.",
        ),
    ] = None,
    islands: Annotated[
        str,
        typer.Option("--islands", help="bridge (join separate pieces) or exclude."),
    ] = "bridge",
    oversize: Annotated[
        str,
        typer.Option(
            "--oversize",
            help="refuse, or own-territory: a unit too big for the tolerance fills "
            "a territory of its own that counts as several reps.",
        ),
    ] = "refuse",
    workload: Annotated[
        Path | None,
        typer.Option(
            "--workload",
            help="YAML file overriding the workload and potential defaults used by "
            "the potential and workload activities (see docs/workload.md).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the run.")] = 0,
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit",
            help="Seconds for the whole run: reading, search and saving. The "
            "search stops earlier once the plan stops improving.",
        ),
    ] = 60.0,
    max_iterations: Annotated[
        int | None,
        typer.Option(
            "--max-iterations",
            help="Stop after this many search moves: with --seed, the same plan "
            "every run, whatever the machine's speed.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="auto (the exact MIP up to 16 units, and a feasibility proof by "
            "the MIP up to 40 units before the heuristic), exact (the MIP, with a "
            "proven gap; at most 200 units) or heuristic.",
        ),
    ] = "auto",
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the planning model if it exists.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write assignments, summary, GeoJSON and map here."),
    ] = None,
) -> None:
    """Design balanced, contiguous, compact territories and save them as a model."""
    from territory.services.design import (
        DesignRequest,
        design_territories,
        parse_balance,
    )
    from territory.services.output_path import check_output_folder

    def go() -> None:
        if not time_limit > 0:
            raise InputError(
                f"--time-limit must be > 0 seconds (got {time_limit:g}); it bounds "
                "the whole run, e.g. --time-limit 60.",
                code="bad_time_limit",
            )
        if out is not None:
            # before the search and the save: a plan saved without its files
            # would make the re-run stop at "model exists"
            check_output_folder(out)
        if logging.getLogger().getEffectiveLevel() > logging.INFO:
            # the engine logs in unit indices; the service reports in unit ids
            logging.getLogger("territory.optimize").setLevel(logging.ERROR)
        request = DesignRequest(
            model=model,
            balance=parse_balance(balance),
            n_territories=territories,
            states=_states(states),
            level=level,
            contiguity=contiguity,
            objective=objective,
            centers_file=centers,
            lock_file=lock,
            from_model=from_model,
            max_disruption=max_disruption,
            max_disruption_per_territory=max_disruption_per_territory,
            levels=_levels(levels),
            capacity=parse_balance(capacity or [], "--capacity"),
            islands=islands,
            oversize=oversize,
            seed=seed,
            time_limit_s=time_limit,
            max_iterations=max_iterations,
            method=method,
            replace=replace,
            workload_file=workload,
        )
        engine = open_store(ctx)
        bar = Progress(
            TextColumn("[bold]designing"),
            BarColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
            disable=not sys.stderr.isatty(),
        )

        told: list[str] = []

        def notify(message: str) -> None:
            told.append(message)
            err_console.print(message, markup=False, highlight=False)

        with bar:
            task = bar.add_task("design", total=time_limit, best="searching")

            def progress(best: float, imbalance: float, elapsed: float) -> None:
                text = (
                    f"best objective {best:,.1f}"
                    if best < float("inf")
                    else f"no feasible plan yet, imbalance {imbalance:.4f}"
                )
                bar.update(task, completed=min(elapsed, time_limit), best=text)

            try:
                report = design_territories(
                    engine,
                    request,
                    actor=settings_of(ctx).actor,
                    notify=notify,
                    progress=progress,
                )
            except InfeasibleError as exc:
                raise _without_told(exc, told) from exc
            bar.update(task, completed=time_limit)
        _print_report(report)
        if out is not None:
            from territory.services.design_output import write_design_files

            files = write_design_files(engine, report, out)
            console.print(f"Assignments: {files.assignments}")
            console.print(f"Summary:     {files.summary}")
            console.print(f"GeoJSON:     {files.geojson}")
            console.print(f"Map:         {files.map}")

    run_command(go)


def _without_told(exc: InfeasibleError, told: list[str]) -> InfeasibleError:
    """Return ``exc`` without the diagnosis already printed while the run went on.

    The design service announces why a plan cannot exist before the search
    (a long run shows it at once) and repeats it in the error; the terminal
    shows it once.
    """
    message = exc.message
    for text in told:
        if text and text in message:
            message = message.replace(text, "", 1)
    if message == exc.message:
        return exc
    rest = message.strip("\n")
    return InfeasibleError(
        "no plan meets every tolerance (why: above).\n" + rest,
        code=exc.code,
        details=exc.details,
    )


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    acts = report.activities
    table = Table(
        title=f"Model {report.model_name}: {len(report.territories)} territories "
        f"({report.status}, run {report.run_id})"
    )
    table.add_column("territory")
    if report.regions:
        table.add_column("region")
    table.add_column("units", justify="right")
    table.add_column("accounts", justify="right")
    for a in acts:
        table.add_column(a, justify="right")
        table.add_column("dev", justify="right")
    table.add_column("diameter km", justify="right")
    table.add_column("contiguous")
    if report.oversize:
        table.add_column("reps", justify="right")
    if report.moved_units:
        table.add_column("moved", justify="right")
    for t in report.territories:
        row = [t.name]
        if report.regions:
            row.append(t.parent_id or "")
        row += [f"{t.n_units:,}", f"{t.n_accounts:,}"]
        for a in acts:
            row += [f"{t.values[a]:,.0f}", f"{t.deviations[a]:+.1%}"]
        row += [f"{t.diameter_km:,.0f}", "yes" if t.contiguous else "NO"]
        if report.oversize:
            row.append(str(t.reps))
        if report.moved_units:
            row.append(str(t.n_moved_units))
        table.add_row(*row)
    console.print(table)
    worst = ", ".join(f"{a} ±{report.max_abs_deviation[a]:.2%}" for a in acts)
    console.print(
        f"Worst deviation: {worst}; max diameter {report.max_diameter_km:,.0f} km; "
        f"all contiguous: {'yes' if report.contiguous else 'no'}; "
        f"search {report.solve_s:.1f} s."
    )
    if report.bridges:
        console.print(
            "Bridged separate pieces: "
            + "; ".join(
                f"{report.unit_names.get(a, a)} ({a}) – {report.unit_names.get(b, b)} "
                f"({b}), {km:.0f} km"
                for a, b, km in report.bridges
            )
        )
    if report.excluded:
        console.print(
            f"Left out (islands excluded): {len(report.excluded)} units: "
            + ", ".join(report.excluded[:20])
        )
    if report.merged_locations:
        console.print(
            f"{len(report.merged_locations)} locations hold several units; they were "
            "merged for adjacency."
        )
    if report.moved_units:
        console.print(
            "Units moved into each territory: "
            + ", ".join(f"{t} {len(u)}" for t, u in sorted(report.moved_units.items()))
        )
    console.print(
        f"Accounts: {report.n_accounts_designed:,} assigned by design, "
        f"{report.n_accounts_kept:,} manual/excluded kept, "
        f"{report.n_accounts_outside:,} outside the designed units."
    )
    for note, count in report.notes.items():
        console.print(f"Note: {count:,} {note}.")
