"""`territory size|staff|quota|metrics`: from workload to headcount to results.

Each command calls one service function and prints a rich table; undefined
ratios print as ``n/a`` (no quota, no potential), pipeline coverage of a met
quota as ``met``, and an undefined max/min balance ratio as ``—``.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import typer
from rich.table import Table

from territory.cli._common import (
    console,
    open_store,
    progress_bar,
    run_command,
    settings_of,
)
from territory.errors import InputError

__all__ = ["register"]

_MODEL = typer.Option(
    None, "--model", "-m", help="Model name (default: the active one)."
)
_WORKLOAD = typer.Option(
    None,
    "--workload",
    help="YAML file overriding workload and potential defaults (see docs/workload.md).",
)


def _money(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{float(v):,.0f}"  # type: ignore[arg-type]


def _pct(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{100 * float(v):.1f} %"  # type: ignore[arg-type]


def _num(v: object, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{float(v):,.{digits}f}"  # type: ignore[arg-type]


def _config(path: Path | None):  # type: ignore[no-untyped-def]
    from territory.services.workload import load_workload_config

    return load_workload_config(path)


def size(
    ctx: typer.Context,
    model: str | None = _MODEL,
    capacity_hours: float | None = typer.Option(
        None, "--capacity-hours", help="Yearly hours per rep (default 1600)."
    ),
    tolerance: float = typer.Option(
        0.1, "--tolerance", help="Band below capacity still counted as ok (0.1 = 10 %)."
    ),
    workload: Path | None = _WORKLOAD,
) -> None:
    """Say how many reps the workload needs, overall and per region."""

    def go() -> None:
        from territory.services.sizing import size_model

        res = size_model(
            open_store(ctx),
            model,
            config=_config(workload),
            capacity_hours=capacity_hours,
            tolerance=tolerance,
        )
        console.print(
            f"Model [bold]{res.model}[/]: {res.workload_hours:,.0f} h of yearly "
            f"workload at {res.capacity_hours:,.0f} h per rep needs "
            f"[bold]{res.reps_needed}[/] reps."
        )
        regions = Table(title="Reps needed per region")
        for col in ("region", "territories", "accounts", "workload h", "FTE", "reps"):
            regions.add_column(col, justify="left" if col == "region" else "right")
        for r in res.regions.to_dicts():
            regions.add_row(
                f"{r['name']} ({r['region_id']})",
                f"{r['territories']:,}",
                f"{r['accounts']:,}",
                f"{r['workload_hours']:,.0f}",
                f"{r['fte']:.2f}",
                f"{r['reps_needed']}",
            )
        console.print(regions)
        for label, frame in (("over", res.over), ("under", res.under)):
            table = Table(
                title=f"{frame.height} territories {label} capacity "
                f"(of {res.territories.height})"
            )
            for col in ("territory", "region", "workload h", "gap h", "utilisation"):
                table.add_column(
                    col, justify="left" if col in ("territory", "region") else "right"
                )
            for r in frame.head(25).to_dicts():
                table.add_row(
                    r["territory_id"],
                    r["region_id"],
                    f"{r['workload_hours']:,.0f}",
                    f"{r['gap_hours']:+,.0f}",
                    _pct(r["utilisation"]),
                )
            if frame.height:
                console.print(table)
                if frame.height > 25:
                    console.print(f"… and {frame.height - 25} more.")

    run_command(go)


def staff(
    ctx: typer.Context,
    model: str | None = _MODEL,
    continuity_km: float = typer.Option(
        1.0, "--continuity-km", help="Cost, in km, of each current account a rep loses."
    ),
    capacity_slack: float = typer.Option(
        0.1, "--capacity-slack", help="How far over capacity a rep may go (0.1 = 10 %)."
    ),
    locks: Path | None = typer.Option(  # noqa: B008
        None, "--locks", help="CSV with rep_id,territory_id pairs that must be kept."
    ),
    source: str | None = typer.Option(
        None, "--from", help="Model whose owners define continuity (default: active)."
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Date the new memberships start (YYYY-MM-DD, default today).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the result, write nothing."
    ),
    workload: Path | None = _WORKLOAD,
) -> None:
    """Match reps to territories (one owner each) and store the memberships."""

    def go() -> None:
        from territory.services.staffing import read_locks, staff_model

        try:
            day = date.fromisoformat(start) if start else None
        except ValueError as exc:
            raise InputError(
                f"--start {start!r} is not a date; write it as YYYY-MM-DD.",
                code="bad_date",
            ) from exc
        res = staff_model(
            open_store(ctx),
            model,
            actor=settings_of(ctx).actor,
            config=_config(workload),
            continuity_km=continuity_km,
            capacity_slack=capacity_slack,
            locks=read_locks(locks) if locks else None,
            source_model=source,
            start=day,
            write=not dry_run,
        )
        table = Table(title=f"Owners of {res.model} from {res.start_date}")
        for col in (
            "territory",
            "owner",
            "km",
            "accounts lost",
            "workload h",
            "capacity h",
            "",
        ):
            table.add_column(
                col, justify="left" if col in ("territory", "owner", "") else "right"
            )
        for r in res.owners.sort("territory_id").head(50).to_dicts():
            flags = ", ".join(
                f for f, on in (("locked", r["locked"]), ("new", r["changed"])) if on
            )
            table.add_row(
                r["territory_id"],
                r["rep_id"],
                f"{r['distance_km']:,.0f}",
                f"{r['accounts_lost']:,}",
                f"{r['workload_hours']:,.0f}",
                f"{r['capacity_hours']:,.0f}",
                flags,
            )
        console.print(table)
        if res.owners.height > 50:
            console.print(f"… and {res.owners.height - 50} more owners.")
        changed = int(res.owners["changed"].sum()) if res.owners.height else 0
        console.print(
            f"{res.owners.height:,} territories staffed ({changed:,} new owners), "
            f"total cost {res.cost:,.0f}."
        )
        if res.vacancies.height:
            console.print(f"[bold red]{res.vacancies.height} vacancies:[/]")
            for r in res.vacancies.head(25).to_dicts():
                console.print(f"  {r['territory_id']}: {r['reason']}")
        if res.surplus.height:
            console.print(
                f"[bold yellow]{res.surplus.height} surplus reps:[/] "
                + ", ".join(res.surplus["rep_id"].head(25).to_list())
            )
        if res.carried.height:
            console.print(
                f"{res.carried.height} overlay and manager memberships carried over."
            )
        if dry_run:
            console.print("Dry run: nothing written.")
        else:
            console.print(
                f"Wrote {res.inserted:,} memberships, ended {res.ended:,} (audited)."
            )

    run_command(go)


def quota(
    ctx: typer.Context,
    model: str | None = _MODEL,
    total: float = typer.Option(..., "--total", help="Amount to allocate (USD)."),
    period: str = typer.Option(..., "--period", help="2027, 2027-Q1 or 2027-03."),
    blend: float = typer.Option(
        0.6,
        "--blend",
        help="Weight of potential against sales history (1 = potential only).",
    ),
    max_share: float = typer.Option(
        0.5,
        "--max-share",
        help="Flag quotas above this share of potential (0.5 = half).",
    ),
    history_period: str | None = typer.Option(
        None,
        "--history-period",
        help="Sales period for the history share (default: a year before).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the result, write nothing."
    ),
    workload: Path | None = _WORKLOAD,
) -> None:
    """Allocate a quota top-down over the hierarchy and store it."""

    def go() -> None:
        from territory.services.quota import allocate_quotas

        res = allocate_quotas(
            open_store(ctx),
            model,
            total=total,
            period=period,
            blend=blend,
            max_share=max_share,
            history_period=history_period,
            config=_config(workload),
            actor=settings_of(ctx).actor,
            write=not dry_run,
        )
        table = Table(
            title=f"Quota {res.period} of {res.model} (blend {res.blend:g}: potential "
            f"vs sales {res.history_period})"
        )
        for col in (
            "territory",
            "level",
            "potential",
            f"sales {res.history_period}",
            "quota",
            "of potential",
            "",
        ):
            table.add_column(
                col, justify="left" if col in ("territory", "") else "right"
            )
        shown = res.table.sort(["depth", "territory_id"])
        for r in shown.head(60).to_dicts():
            table.add_row(
                "  " * r["depth"] + r["territory_id"],
                str(r["depth"]),
                _money(r["potential"]),
                _money(r["history"]),
                _money(r["quota"]),
                _pct(r["quota_share_of_potential"]),
                "" if r["feasible"] else "[red]over share[/]",
            )
        console.print(table)
        if shown.height > 60:
            console.print(f"… and {shown.height - 60} more territories.")
        bad = res.infeasible
        if bad.height:
            console.print(
                f"[bold red]{bad.height} territories[/] have a quota above "
                f"{100 * res.max_share:g} % of their potential: "
                + ", ".join(bad["territory_id"].head(20).to_list())
            )
        else:
            console.print(
                f"Every quota is within {100 * res.max_share:g} % of its potential."
            )
        console.print(
            "Dry run: nothing written."
            if dry_run
            else f"Wrote {res.table.height:,} quota rows "
            f"({res.replaced:,} replaced, audited)."
        )

    run_command(go)


def metrics(
    ctx: typer.Context,
    model: str | None = _MODEL,
    level: str = typer.Option("territory", "--level", help="territory, rep or region."),
    period: str | None = typer.Option(
        None, "--period", help="2027, 2027-Q1 or 2027-03 (default: latest quota year)."
    ),
    out: Path | None = typer.Option(  # noqa: B008
        None, "--out", help="Write the table to FILE.csv or FILE.parquet."
    ),
    limit: int = typer.Option(40, "--limit", help="Rows shown in the terminal."),
    workload: Path | None = _WORKLOAD,
) -> None:
    """Track performance: sales, quota, attainment, pipeline, workload, balance."""

    def go() -> None:
        from territory.services.performance import compute_metrics, write_metrics

        if level not in ("territory", "rep", "region"):
            raise InputError(
                f"--level {level!r} is not known; use territory, rep or region.",
                code="metrics_level",
            )
        cfg = _config(workload)
        with progress_bar("Measuring", total=6) as advance:
            res = compute_metrics(
                open_store(ctx),
                model,
                level=level,  # type: ignore[arg-type]
                period=period,
                config=cfg,
                progress=lambda msg: advance(1, description=msg),
            )
            advance(0, description="done", total=6)
        _print_metrics(res, limit)
        if out is not None:
            path = write_metrics(res, out)
            console.print(f"Wrote {res.table.height:,} rows to {path}.")

    run_command(go)


def _print_metrics(res, limit: int) -> None:  # type: ignore[no-untyped-def]
    key = "rep_id" if res.level == "rep" else "territory_id"
    table = Table(title=f"{res.model} — {res.level} metrics, {res.period}")
    cols = [
        key,
        "accounts",
        "potential",
        "sales",
        "quota",
        "attain.",
        "penetr.",
        "pipeline",
        "coverage",
        "workload h",
        "util.",
    ]
    if res.level != "rep":
        cols += ["diam. km", "contig."]
    for c in cols:
        table.add_column(c, justify="left" if c == key else "right")
    df = res.table
    if res.level == "territory":
        df = df.sort(["depth", "territory_id"])
    for r in df.head(limit).to_dicts():
        coverage = "met" if r["quota_met"] else _num(r["coverage"], 2)
        name = r[key]
        if res.level == "territory":
            name = "  " * r["depth"] + name
        row = [
            name,
            f"{r['accounts']:,}",
            _money(r["potential"]),
            _money(r["sales"]),
            _money(r["quota"]),
            _pct(r["attainment"]),
            _pct(r["penetration"]),
            _money(r["open_pipeline"]),
            coverage if r["quota"] else "n/a",
            _num(r["workload_hours"], 0),
            _pct(r["utilisation"]),
        ]
        if res.level != "rep":
            contiguous = r["contiguous"]
            row += [
                _num(r["diameter_km"], 0),
                "—"
                if contiguous is None
                else ("yes" if contiguous else f"no ({r['pieces']})"),
            ]
        table.add_row(*row)
    console.print(table)
    if df.height > limit:
        console.print(f"… {df.height - limit:,} more rows (use --limit or --out).")
    bal = Table(title=f"Balance across {res.compared}")
    for c in ("measure", "n", "mean", "min", "max", "CV", "max/min", "Gini"):
        bal.add_column(c, justify="left" if c == "measure" else "right")
    for b in res.balance:
        bal.add_row(
            b.measure,
            f"{b.n:,}",
            _num(b.mean, 1),
            _num(b.minimum, 1),
            _num(b.maximum, 1),
            _num(b.cv, 3),
            _num(b.max_min, 2),
            _num(b.gini, 3),
        )
    console.print(bal)
    for note in res.notes:
        console.print(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add the commands of this module to the root ``territory`` app."""
    app.command("size")(size)
    app.command("staff")(staff)
    app.command("quota")(quota)
    app.command("metrics")(metrics)


_ = pl
