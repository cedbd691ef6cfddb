"""`territory model ...`: the lifecycle of territory models."""

from __future__ import annotations

import typer
from rich.table import Table

from territory.cli._common import console, open_store, run_command, settings_of
from territory.errors import Conflict

app = typer.Typer(
    help="Create, clone, activate and archive territory models.", no_args_is_help=True
)


def _fmt(dt: object) -> str:
    return "" if dt is None else str(dt)[:19]


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the new planning model."),
    description: str = typer.Option("", "--description", "-d"),
) -> None:
    """Create a model in the planning state."""

    def go() -> None:
        from territory.services import models as svc

        m = svc.create_model(
            open_store(ctx), name, description=description, actor=settings_of(ctx).actor
        )
        console.print(f"Created model [bold]{m.name}[/] (id {m.id}, {m.state.value}).")

    run_command(go)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List every model with its state and size."""

    def go() -> None:
        from territory.services import models as svc

        rows = svc.list_models(open_store(ctx, read_only=True))
        table = Table(title="Territory models")
        for col in (
            "name",
            "id",
            "state",
            "territories",
            "unit assignments",
            "account assignments",
            "created",
            "cloned from",
        ):
            table.add_column(col)
        for s in rows:
            table.add_row(
                s.model.name,
                s.model.id,
                s.model.state.value,
                f"{s.counts['territory']:,}",
                f"{s.counts['unit_assignment']:,}",
                f"{s.counts['account_assignment']:,}",
                _fmt(s.model.created_at),
                s.model.cloned_from or "",
            )
        console.print(
            table
            if rows
            else "No models yet; create one with `territory model create NAME`."
        )

    run_command(go)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Model name (default: active)."),
) -> None:
    """Show one model: state, dates and what it holds."""

    def go() -> None:
        from territory.services import models as svc

        s = svc.show_model(open_store(ctx, read_only=True), name)
        m = s.model
        table = Table(title=f"Model {m.name}", show_header=False)
        table.add_column("field")
        table.add_column("value")
        for k, v in (
            ("id", m.id),
            ("state", m.state.value),
            ("description", m.description),
            ("created", _fmt(m.created_at)),
            ("activated", _fmt(m.activated_at)),
            ("archived", _fmt(m.archived_at)),
            ("cloned from", m.cloned_from or ""),
        ):
            table.add_row(k, v)
        for k, n in s.counts.items():
            table.add_row(k.replace("_", " "), f"{n:,}")
        console.print(table)

    run_command(go)


@app.command("clone")
def clone(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="Model to copy."),
    new_name: str = typer.Argument(..., help="Name of the copy."),
) -> None:
    """Copy a model's territories, rules and assignments into a new planning model."""

    def go() -> None:
        from territory.services import models as svc

        s = svc.clone_model(
            open_store(ctx), source, new_name, actor=settings_of(ctx).actor
        )
        copied = ", ".join(
            f"{n:,} {k.replace('_', ' ')}" for k, n in s.counts.items() if n
        )
        console.print(
            f"Cloned into [bold]{s.model.name}[/] (planning): "
            f"{copied or 'nothing to copy'}."
        )

    run_command(go)


@app.command("activate")
def activate(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Activate a planning model; the model that was active is archived."""

    def go() -> None:
        from territory.services import models as svc

        try:
            prev = svc.activate_model(
                open_store(ctx), name, actor=settings_of(ctx).actor
            )
        except Conflict as exc:
            if exc.code != "model_state_unchanged":
                raise
            console.print(exc.message, markup=False, highlight=False)
            return
        msg = f"Model [bold]{name}[/] is now active."
        if prev is not None:
            msg += f" Model {prev.name} was archived (its data is kept)."
        console.print(msg)

    run_command(go)


@app.command("archive")
def archive(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Archive a model, keeping its assignments, quotas and history."""

    def go() -> None:
        from territory.services import models as svc

        try:
            m = svc.archive_model(open_store(ctx), name, actor=settings_of(ctx).actor)
        except Conflict as exc:
            if exc.code != "model_state_unchanged":
                raise
            console.print(exc.message, markup=False, highlight=False)
            return
        console.print(f"Model [bold]{m.name}[/] archived; its data is kept.")

    run_command(go)
