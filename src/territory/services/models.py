"""Territory model lifecycle: create, list, show, clone, activate, archive.

Only one model is active at a time; activating a model archives the one that
was active. Archiving keeps every assignment, quota and history row. Every
state change writes an audit row in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from territory.domain import ModelId, ModelState, TerritoryModel, check_transition
from territory.errors import Conflict, InputError, NotFound
from territory.storage.audit import AuditEntry, record
from territory.storage.repositories.model import ModelRepository

__all__ = [
    "ModelSummary",
    "activate_model",
    "archive_model",
    "clone_model",
    "create_model",
    "list_models",
    "resolve_model",
    "resolve_writable_model",
    "show_model",
]


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A model with the number of rows it holds per table."""

    model: TerritoryModel
    counts: dict[str, int]


def _slug(name: str, taken: set[str]) -> ModelId:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"
    base = base[:48]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return ModelId(candidate)


def resolve_model(conn: Connection, name: str | None) -> TerritoryModel:
    """Return the model named ``name``, or the active model when ``name`` is None.

    Raises
    ------
    NotFound
        When no model has that name or id, or no name was given and no model
        is active.
    """
    repo = ModelRepository(conn)
    if name is None:
        model = repo.active()
        if model is None:
            raise NotFound(
                "No territory model is active; name one with --model NAME or "
                "activate one with `territory model activate NAME`.",
                code="no_active_model",
            )
        return model
    model = repo.get_by_name(name)
    if model is None:
        known = ", ".join(m.name for m in repo.list()) or "none yet"
        raise NotFound(
            f"No territory model named '{name}' (models: {known}); create it with "
            "`territory model create NAME`.",
            code="model_not_found",
            details={"model": name},
        )
    return model


def resolve_writable_model(
    conn: Connection, name: str | None, *, action: str
) -> TerritoryModel:
    """Return the model as :func:`resolve_model` does, refusing an archived one.

    An archived model is the record of a plan that was live: its territories,
    rules, assignments, memberships and quotas stay as they were. ``action``
    names what was refused, for the message (e.g. ``"run the rules"``).

    Raises
    ------
    NotFound
        As :func:`resolve_model`.
    Conflict
        When the model is archived.
    """
    model = resolve_model(conn, name)
    if model.state is ModelState.ARCHIVED:
        raise Conflict(
            f"Model '{model.name}' is archived, so it cannot {action}: an archive "
            "keeps the plan as it was. Clone it (`territory model clone "
            f"'{model.name}' NEW`) and change the clone.",
            code="model_archived",
            details={"model": model.name},
        )
    return model


def _create(
    conn: Connection,
    name: str,
    description: str,
    actor: str,
    cloned_from: ModelId | None = None,
) -> TerritoryModel:
    repo = ModelRepository(conn)
    if repo.get_by_name(name) is not None:
        raise Conflict(
            f"A territory model named '{name}' already exists; choose another name "
            "or clone it.",
            code="model_exists",
            details={"model": name},
        )
    now = datetime.now(UTC)
    model = TerritoryModel(
        id=_slug(name, repo.ids()),
        name=name,
        description=description,
        cloned_from=cloned_from,
        created_at=now,
    )
    repo.add(model)
    record(
        conn,
        AuditEntry(
            entity="model",
            entity_id=model.id,
            model_id=model.id,
            action="create",
            old_value=None,
            new_value={
                "name": name,
                "state": model.state.value,
                "cloned_from": cloned_from,
            },
            cause="manual",
        ),
        actor=actor,
    )
    return model


def create_model(
    engine: Engine, name: str, *, description: str = "", actor: str
) -> TerritoryModel:
    """Create a model in the ``planning`` state.

    Raises
    ------
    Conflict
        When a model with that name exists.
    """
    if not name.strip():
        raise InputError("A model name cannot be empty.", code="model_name")
    with engine.begin() as conn:
        return _create(conn, name.strip(), description, actor)


def create_model_in(
    conn: Connection, name: str, *, description: str = "", actor: str
) -> TerritoryModel:
    """Create a planning model on an open connection (for multi-step commands)."""
    return _create(conn, name.strip(), description, actor)


def list_models(engine: Engine) -> list[ModelSummary]:
    """Return every model with its row counts, oldest first."""
    with engine.connect() as conn:
        repo = ModelRepository(conn)
        return [ModelSummary(m, repo.counts(m.id)) for m in repo.list()]


def show_model(engine: Engine, name: str | None) -> ModelSummary:
    """Return one model (default: the active one) with its row counts."""
    with engine.connect() as conn:
        model = resolve_model(conn, name)
        return ModelSummary(model, ModelRepository(conn).counts(model.id))


def clone_model(
    engine: Engine, source: str, new_name: str, *, actor: str, description: str = ""
) -> ModelSummary:
    """Copy a model's territories, rules, assignments and memberships into a new one.

    The clone starts in ``planning``. The copy runs inside the database
    (``INSERT ... SELECT``), so it is cheap even for millions of assignments.
    One audit row records the clone and how many rows it copied; the history
    of each assignment stays with the source model.
    """
    with engine.begin() as conn:
        src = resolve_model(conn, source)
        model = _create(
            conn,
            new_name,
            description or f"Clone of {src.name}",
            actor,
            cloned_from=src.id,
        )
        copied = ModelRepository(conn).copy_contents(src.id, model.id)
        record(
            conn,
            AuditEntry(
                entity="model",
                entity_id=model.id,
                model_id=model.id,
                action="clone",
                old_value={"source": src.id},
                new_value=copied,
                cause="manual",
            ),
            actor=actor,
        )
        return ModelSummary(model, copied)


def _change_state(
    conn: Connection,
    model: TerritoryModel,
    target: ModelState,
    actor: str,
    cause: str = "manual",
) -> None:
    check_transition(model.name, model.state, target)
    ModelRepository(conn).set_state(model.id, target, datetime.now(UTC))
    record(
        conn,
        AuditEntry(
            entity="model",
            entity_id=model.id,
            model_id=model.id,
            action="state",
            old_value={"state": model.state.value},
            new_value={"state": target.value},
            cause=cause,
        ),
        actor=actor,
    )


def activate_model(engine: Engine, name: str, *, actor: str) -> TerritoryModel | None:
    """Activate a planning model; archive the model that was active.

    Returns the model that was archived, if any.

    Raises
    ------
    Conflict
        When the model is archived or already active.
    """
    with engine.begin() as conn:
        model = resolve_model(conn, name)
        check_transition(model.name, model.state, ModelState.ACTIVE)
        previous = ModelRepository(conn).active()
        if previous is not None:
            _change_state(
                conn,
                previous,
                ModelState.ARCHIVED,
                actor,
                cause=f"activation of {model.id}",
            )
        _change_state(conn, model, ModelState.ACTIVE, actor)
        return previous


def archive_model(engine: Engine, name: str, *, actor: str) -> TerritoryModel:
    """Archive a model, keeping all its assignments, quotas and history."""
    with engine.begin() as conn:
        model = resolve_model(conn, name)
        _change_state(conn, model, ModelState.ARCHIVED, actor)
        return model
