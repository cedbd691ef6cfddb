"""`territory size|staff|quota|metrics`: from workload to headcount to results.

Each command calls one service function and prints a table sized to the
console (see :mod:`territory.cli._table`): money is compact (``28.7M``),
percentages fit one cell (``38.1%``), ids are never cut, and columns that do
not fit are named in a note. Undefined ratios print as ``n/a`` (no quota, no
potential), pipeline coverage of a met quota as ``met``, and an undefined
max/min balance ratio as ``—``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from territory.cli._common import (
    console,
    open_store,
    progress_bar,
    run_command,
    settings_of,
)
from territory.cli._table import Column, money, percent, print_table, ratio
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


#: Steps ``compute_metrics`` announces through its progress callback.
_METRICS_STEPS = 5
#: Balance measures that are amounts of money (printed compact).
_MONEY_MEASURES = frozenset({"potential", "sales", "quota", "open_pipeline"})
_PLURAL = {"territory": "territories", "rep": "reps", "region": "regions"}
_OUT_HINT = "--out FILE.csv has all of them"


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
            open_store(ctx, read_only=True),
            model,
            config=_config(workload),
            capacity_hours=capacity_hours,
            tolerance=tolerance,
        )
        console.print(
            f"Model [bold]{res.model}[/]: {res.workload_hours:,.0f} h of yearly "
            f"workload{' in the regions' if res.overlays.height else ''} at "
            f"{res.capacity_hours:,.0f} h per rep needs "
            f"[bold]{res.reps_needed}[/] reps"
            + (
                f"; the overlays' {res.overlay_workload_hours:,.0f} h need "
                f"[bold]{res.overlay_reps_needed}[/] more."
                if res.overlays.height
                else "."
            )
        )
        for title, tops in (
            ("Reps needed per region", res.regions),
            ("Reps needed per overlay (sized apart from the regions)", res.overlays),
        ):
            if not tops.height:
                continue
            print_table(
                console,
                [
                    Column(
                        "region" if tops is res.regions else "overlay",
                        justify="left",
                        is_id=True,
                    ),
                    Column("territories", 3),
                    Column("accounts", 2),
                    Column("workload h", 1),
                    Column("FTE", 1),
                    Column("reps"),
                ],  # fmt: skip
                [
                    [
                        f"{r['name']} ({r['region_id']})",
                        f"{r['territories']:,}",
                        f"{r['accounts']:,}",
                        ratio(r["workload_hours"], 0),
                        ratio(r["fte"], 2),
                        f"{r['reps_needed']}",
                    ]
                    for r in tops.to_dicts()
                ],
                title=title,
            )
        n_region_leaves = res.region_territories.height
        for label, frame in (("over", res.over), ("under", res.under)):
            if not frame.height:
                continue
            print_table(
                console,
                [
                    Column("territory", justify="left", is_id=True),
                    Column("region", 2, justify="left", is_id=True),
                    Column("workload h", 1),
                    Column("gap h", 1),
                    Column("utilisation"),
                ],
                [
                    [
                        r["territory_id"],
                        r["region_id"],
                        ratio(r["workload_hours"], 0),
                        f"{r['gap_hours']:+,.0f}",
                        percent(r["utilisation"]),
                    ]
                    for r in frame.head(25).to_dicts()
                ],
                title=f"{frame.height} territories {label} capacity "
                f"(of {n_region_leaves} in the regions)",
            )
            if frame.height > 25:
                console.print(f"… and {frame.height - 25} more.")
        for note in res.notes:
            console.print(f"note: {note}", markup=False, highlight=False)

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
    all_types: bool = typer.Option(
        False,
        "--all-types",
        help="Match an owner to overlay territories too (default: main type only).",
    ),
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
            all_types=all_types,
        )
        print_table(
            console,
            [
                Column("territory", justify="left", is_id=True),
                Column("owner", justify="left", is_id=True),
                Column("km", 3),
                Column("accounts lost", 4),
                Column("workload h", 2),
                Column("capacity h", 2),
                Column("flags", 1, justify="left"),
            ],
            [
                [
                    r["territory_id"],
                    r["rep_id"],
                    ratio(r["distance_km"], 0),
                    f"{r['accounts_lost']:,}",
                    ratio(r["workload_hours"], 0),
                    ratio(r["capacity_hours"], 0),
                    ", ".join(
                        f
                        for f, on in (("locked", r["locked"]), ("new", r["changed"]))
                        if on
                    ),
                ]
                for r in res.owners.sort("territory_id").head(50).to_dicts()
            ],
            title=f"Owners of {res.model} from {res.start_date}",
        )
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
        if res.not_matched:
            console.print(
                f"{len(res.not_matched)} overlay territories are staffed by overlay "
                "memberships, not matched to owners (--all-types includes them): "
                + ", ".join(res.not_matched[:10])
                + (" ..." if len(res.not_matched) > 10 else "")
            )
        if res.surplus.height:
            console.print(
                f"[bold yellow]{res.surplus.height} surplus reps:[/] "
                + ", ".join(res.surplus["rep_id"].head(25).to_list())
            )
        if res.carried.height:
            console.print(
                f"{res.carried.height} overlay and manager memberships carried over."
            )
        for note in res.notes:
            console.print(f"note: {note}", markup=False, highlight=False)
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
        shown = res.table.sort(["depth", "territory_id"])
        print_table(
            console,
            [
                Column("territory", justify="left", is_id=True),
                Column("level", 5),
                Column("potential", 1),
                Column(f"sales {res.history_period}", 2),
                Column("quota"),
                Column("of potential", 1),
                Column("flag", 1, justify="left"),
            ],
            [
                [
                    "  " * r["depth"] + r["territory_id"],
                    str(r["depth"]),
                    money(r["potential"]),
                    money(r["history"]),
                    money(r["quota"]),
                    percent(r["quota_share_of_potential"]),
                    "" if r["feasible"] else "[red]over share[/]",
                ]
                for r in shown.head(60).to_dicts()
            ],
            title=f"Quota {res.period} of {res.model} (blend {res.blend:g}: "
            f"potential vs sales {res.history_period})",
        )
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
        from territory.services.performance import (
            check_metrics_path,
            compute_metrics,
            metadata_path,
            write_metrics,
        )

        if level not in ("territory", "rep", "region"):
            raise InputError(
                f"--level {level!r} is not known; use territory, rep or region.",
                code="metrics_level",
            )
        if out is not None:
            check_metrics_path(out)
        engine = open_store(ctx, read_only=True)
        cfg = _config(workload)
        # The service names each step as it starts: the bar counts the steps
        # finished and ends full, labelled with what was measured.
        started = 0
        with progress_bar("Measuring", total=_METRICS_STEPS) as advance:

            def step(msg: str) -> None:
                nonlocal started
                advance(1 if started else 0, description=msg)
                started += 1

            res = compute_metrics(
                engine,
                model,
                level=level,  # type: ignore[arg-type]
                period=period,
                config=cfg,
                progress=step,
            )
            total = max(_METRICS_STEPS, started)
            advance(
                total - max(started - 1, 0),
                description=f"Measured {res.table.height:,} {_PLURAL[res.level]}",
                total=total,
            )
        _print_metrics(res, limit)
        if out is not None:
            path = write_metrics(res, out)
            where = (
                f" (model, period and notes in {metadata_path(path).name})"
                if path.suffix.lower() == ".csv"
                else " (model, period and notes in its metadata)"
            )
            console.print(f"Wrote {res.table.height:,} rows to {path}{where}.")

    run_command(go)


def _metric_rows(  # type: ignore[no-untyped-def]
    res, df, limit: int, key: str
) -> tuple[list[Column], list[list[str]]]:
    columns = [Column(key, justify="left", is_id=True)]
    if res.level == "rep":
        columns.append(Column("roles", 2, justify="left"))
    columns += [
        Column("accts", 1),
        Column("potential", 2),
        Column("sales", 3),
        Column("quota", 4),
        Column("attain.", 5),
        Column("penetr.", 10),
        Column("pipeline", 9),
        Column("coverage", 6),
        Column("workload h", 8),
        Column("util.", 7),
    ]
    if res.level != "rep":
        columns += [Column("acct diam km", 12), Column("contig.", 11)]
    rows = []
    for r in df.head(limit).to_dicts():
        if res.level == "rep":
            name = r["rep_id"]
        elif res.level == "territory":  # indent by depth to show the hierarchy
            name = "  " * r["depth"] + r["territory_id"]
        else:
            name = r["territory_id"]
        coverage = "met" if r["quota_met"] else ratio(r["coverage"], 2)
        row = [name]
        if res.level == "rep":
            row.append(r["roles"].replace(",", ", "))
        row += [
            f"{r['accounts']:,}",
            money(r["potential"]),
            money(r["sales"]),
            money(r["quota"]),
            percent(r["attainment"]),
            percent(r["penetration"]),
            money(r["open_pipeline"]),
            coverage if r["quota"] else "n/a",
            ratio(r["workload_hours"], 0),
            percent(r["utilisation"]),
        ]
        if res.level != "rep":
            contiguous = r["contiguous"]
            row += [
                ratio(r["account_diameter_km"], 0),
                "—"
                if contiguous is None
                else ("yes" if contiguous else f"no ({r['pieces']})"),
            ]
        rows.append(row)
    return columns, rows


def _print_metrics(res, limit: int) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    df = res.table
    if res.level == "territory":
        df = df.sort(["depth", "territory_id"])
    parts = [(df, res.level, f"{res.model} — {res.level} metrics, {res.period}")]
    if res.level == "region" and "kind" in df.columns:
        # Overlays cover the regions' accounts again: shown apart.
        parts = [
            (df.filter(pl.col("kind") == "region"), "region", parts[0][2]),
            (
                df.filter(pl.col("kind") == "overlay"),
                "overlay",
                f"Overlays of {res.model} (another territory type; not regions), "
                f"{res.period}",
            ),
        ]
    for frame, key, title in parts:
        if frame.height == 0:
            continue
        columns, rows = _metric_rows(res, frame, limit, key)
        print_table(console, columns, rows, title=title, hint=_OUT_HINT)
        if frame.height > limit:
            console.print(
                f"… {frame.height - limit:,} more rows (use --limit or --out)."
            )
    if res.level == "rep":
        console.print(
            "Roles: an owner or overlay is credited with its territories (and "
            "their descendants), a manager with the territories it manages; "
            "splits credit the reps they name, except under a manager, who holds "
            "the whole pipeline (docs/metrics.md)."
        )
    balance_rows = []
    for b in res.balance:
        is_money = b.measure in _MONEY_MEASURES
        value = [
            money(v, missing="—") if is_money else ratio(v, 1)
            for v in (b.mean, b.minimum, b.maximum)
        ]
        balance_rows.append(
            [
                b.measure,
                f"{b.n:,}",
                *value,
                ratio(b.cv, 2),
                ratio(b.max_min, 2),
                ratio(b.gini, 2),
            ]
        )
    print_table(
        console,
        [
            Column("measure", justify="left", is_id=True),
            Column("n", 4),
            Column("mean"),
            Column("min", 2),
            Column("max", 2),
            Column("CV", 1),
            Column("max/min", 1),
            Column("Gini", 3),
        ],
        balance_rows,
        title=f"Balance across {res.compared}",
        hint=_OUT_HINT,
    )
    for note in res.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the commands of this module to the root ``territory`` app."""
    app.command("size")(size)
    app.command("staff")(staff)
    app.command("quota")(quota)
    app.command("metrics")(metrics)
