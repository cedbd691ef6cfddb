"""`territory bench`: solve and score published benchmark instances.

This group is a developer tool over the design engine's arrays: it reads a
benchmark file, runs the engine (through
:func:`territory.services.bench.solve_benchmark`; no store is opened) and
prints one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from territory.cli._common import run_command

__all__ = ["app"]

app = typer.Typer(
    help="Solve and score published territory-design benchmark instances.",
    no_args_is_help=True,
)


@app.command("solve")
def solve(
    file: Annotated[Path, typer.Argument(help="A dtdp GraphML or commdis instance.")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds, counted after parsing.")
    ] = 60.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the run.")] = 0,
    p: Annotated[
        int | None, typer.Option("--p", help="Territories (default: the instance's).")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Write the labels (one line, unit order) here."),
    ] = None,
) -> None:
    """Solve FILE and print one JSON object with the benchmark's measures."""
    from territory.services.bench import solve_benchmark
    from territory.services.output_path import check_output_file

    def go() -> dict[str, Any]:
        if labels is not None:
            check_output_file(labels, "--labels")
        return solve_benchmark(
            file, time_limit_s=time_limit, seed=seed, p=p, labels_out=labels
        )

    record = run_command(go)
    typer.echo(json.dumps(record))
