"""`territory assign` and `territory explain`: run the rules, say why."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from territory.cli._common import console, open_store, run_command, settings_of
from territory.errors import InputError

if TYPE_CHECKING:
    from territory.services import assign as svc

__all__ = ["assign", "explain", "register"]

_SHOWN = 25
_MODEL = "Model (default: the active one)."


def _timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"--only-changed-since {text!r} is not a timestamp; write it as ISO "
            "2027-01-31 or 2027-01-31T08:00:00+00:00.",
            code="bad_timestamp",
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _usd(x: float) -> str:
    return f"{x:,.0f}"


def _diff_table(title: str, key: str, rows: tuple[svc.TerritoryChange, ...]) -> Table:
    table = Table(title=title)
    for col in (key, "name", "gained", "lost", "revenue gained", "revenue lost", "net"):
        table.add_column(col, justify="left" if col in (key, "name") else "right")
    ordered = sorted(rows, key=lambda r: -(r.revenue_gained_usd + r.revenue_lost_usd))
    for r in ordered[:_SHOWN]:
        table.add_row(
            r.key,
            r.name,
            f"{r.gained:,}",
            f"{r.lost:,}",
            _usd(r.revenue_gained_usd),
            _usd(r.revenue_lost_usd),
            _usd(r.revenue_gained_usd - r.revenue_lost_usd),
        )
    if len(ordered) > _SHOWN:
        table.caption = f"{len(ordered) - _SHOWN} more not shown (largest moves first)"
    return table


def assign(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model (default: active)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the diff; write nothing."
    ),
    only_changed_since: str | None = typer.Option(
        None,
        "--only-changed-since",
        help="Only accounts updated at or after this time.",
    ),
    accounts: Annotated[
        Path | None,
        typer.Option(
            "--accounts", help="File of account ids (lines, or a CSV id column)."
        ),
    ] = None,
    opportunities: bool = typer.Option(
        False, "--opportunities", help="Then give each opportunity its territory."
    ),
) -> None:
    """Run the model's assignment rules and print the diff per territory and rep."""

    def go() -> None:
        from territory.services import assign as svc

        store = open_store(ctx)
        ids = svc.read_account_ids(accounts) if accounts is not None else None
        diff = svc.assign_accounts(
            store,
            model,
            actor=settings_of(ctx).actor,
            dry_run=dry_run,
            changed_since=_timestamp(only_changed_since),
            account_ids=ids,
        )
        verb = "Would change" if diff.dry_run else "Changed"
        console.print(
            f"{verb} {diff.inserted + diff.deleted + diff.updated:,} associations in "
            f"model {diff.model_id}: +{diff.inserted:,} -{diff.deleted:,} "
            f"~{diff.updated:,} over {diff.n_accounts:,} accounts "
            f"({diff.n_excluded:,} excluded from realignment left untouched)."
        )
        if diff.adopted:
            console.print(
                f"~{diff.adopted:,} of the updates turn a design association the "
                "rules make again into a rule-made one (same territory)."
            )
        if diff.territories:
            console.print(_diff_table("Per territory", "territory", diff.territories))
        if diff.reps:
            console.print(_diff_table("Per rep", "rep", diff.reps))
        if diff.dry_run:
            console.print("Dry run: nothing was written.")
        if opportunities and not dry_run:
            r = svc.assign_opportunities(store, model, actor=settings_of(ctx).actor)
            console.print(
                f"Opportunities: {r.changed:,} changed, {r.unchanged:,} unchanged, "
                f"{r.excluded:,} excluded, {r.ties:,} ties at the top priority (none)."
            )

    run_command(go)


def explain(
    ctx: typer.Context,
    account_id: str = typer.Argument(..., help="The account to explain."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model (default: active)."
    ),
    all_: bool = typer.Option(
        False, "--all", help="Also list every territory the account failed."
    ),
) -> None:
    """Say why an account is where it is: matches, rules, items, inheritance."""

    def go() -> None:
        from territory.services import assign as svc

        ex = svc.explain_account(open_store(ctx, read_only=True), model, account_id)
        lines = ex.lines(show_failed=True)
        failed = [t for t in ex.territories if not t.matched]
        if not all_ and len(failed) > _SHOWN:
            lines = ex.lines(show_failed=False)
            lines.append(
                f"  ({len(failed)} territories failed; add --all to list them)"
            )
        for line in lines:
            console.print(line, markup=False, highlight=False)

    run_command(go)


def register(app: typer.Typer) -> None:
    """Add ``assign`` and ``explain`` to the root command."""
    app.command("assign")(assign)
    app.command("explain")(explain)
