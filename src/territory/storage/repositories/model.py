"""TerritoryModel rows <-> domain objects, and the copy that makes a clone cheap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, literal, select, update

from territory.domain import ModelId, ModelState, TerritoryModel
from territory.storage import tables as t

__all__ = ["ModelRepository"]

#: Tables copied by a clone, in foreign-key order.
CLONED_TABLES: tuple[Any, ...] = (
    t.territory,
    t.assignment_rule,
    t.rule_item,
    t.rule_territory,
    t.value_set,
    t.unit_assignment,
    t.account_assignment,
    t.territory_membership,
    t.opportunity_territory,
)


def _to_model(row: Any) -> TerritoryModel:
    m = row._mapping
    return TerritoryModel(
        id=ModelId(m["id"]),
        name=m["name"],
        state=ModelState(m["state"]),
        description=m["description"] or "",
        cloned_from=m["cloned_from"],
        created_at=m["created_at"],
        activated_at=m["activated_at"],
        archived_at=m["archived_at"],
    )


class ModelRepository:
    """Read and write territory models on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_by_name(self, name: str) -> TerritoryModel | None:
        """Return the model called ``name`` (or with that id), if any."""
        row = self.conn.execute(
            select(t.territory_model).where(
                (t.territory_model.c.name == name) | (t.territory_model.c.id == name)
            )
        ).first()
        return _to_model(row) if row is not None else None

    def active(self) -> TerritoryModel | None:
        """Return the active model, if one is active."""
        row = self.conn.execute(
            select(t.territory_model).where(t.territory_model.c.state == "active")
        ).first()
        return _to_model(row) if row is not None else None

    def list(self) -> list[TerritoryModel]:
        """Return every model, oldest first."""
        rows = self.conn.execute(
            select(t.territory_model).order_by(
                t.territory_model.c.created_at, t.territory_model.c.id
            )
        )
        return [_to_model(r) for r in rows]

    def ids(self) -> set[str]:
        """Return every model id in use."""
        return set(self.conn.execute(select(t.territory_model.c.id)).scalars())

    def add(self, model: TerritoryModel) -> None:
        """Insert a new model row."""
        self.conn.execute(
            insert(t.territory_model).values(
                id=model.id,
                name=model.name,
                state=model.state.value,
                description=model.description,
                cloned_from=model.cloned_from,
                created_at=model.created_at,
                activated_at=model.activated_at,
                archived_at=model.archived_at,
            )
        )

    def set_state(self, model_id: str, state: ModelState, at: datetime) -> None:
        """Move a model to ``state``, stamping the matching timestamp."""
        values: dict[str, Any] = {"state": state.value}
        if state is ModelState.ACTIVE:
            values["activated_at"] = at
        elif state is ModelState.ARCHIVED:
            values["archived_at"] = at
        self.conn.execute(
            update(t.territory_model)
            .where(t.territory_model.c.id == model_id)
            .values(**values)
        )

    def counts(self, model_id: str) -> dict[str, int]:
        """Return how many rows of each model-scoped table belong to the model."""
        out: dict[str, int] = {}
        for table in (*CLONED_TABLES, t.quota):
            out[table.name] = int(
                self.conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.model_id == model_id)
                ).scalar_one()
            )
        return out

    def copy_contents(self, source_id: str, target_id: str) -> dict[str, int]:
        """Copy every model-scoped row of ``source_id`` into ``target_id``.

        One ``INSERT ... SELECT`` per table, so the copy never leaves the
        database; returns the number of rows copied per table.
        """
        copied: dict[str, int] = {}
        for table in CLONED_TABLES:
            cols: Sequence[str] = [
                c.name
                for c in table.columns
                if c.name != "model_id"
                and not (c.primary_key and c.autoincrement is True)
            ]
            if table is t.territory_membership:
                cols = [c for c in cols if c != "id"]
            sel = select(
                literal(target_id).label("model_id"), *[table.c[c] for c in cols]
            ).where(table.c.model_id == source_id)
            self.conn.execute(insert(table).from_select(["model_id", *cols], sel))
            # rowcount of INSERT ... SELECT is not reported by every driver.
            copied[table.name] = int(
                self.conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.model_id == target_id)
                ).scalar_one()
            )
        return copied
