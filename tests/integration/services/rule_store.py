"""Small stores for rule tests: accounts, a model with territories, stored rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from territory.storage import tables as t

T0 = datetime(2027, 1, 1, tzinfo=UTC)


_DEFAULTS: dict[str, Any] = {"excluded_from_realign": False, "is_sample": False}


def add_accounts(engine: Engine, rows: Iterable[dict[str, Any]]) -> None:
    """Insert accounts given as dicts (``id`` required; name defaults to the id).

    Every row gets every key any row has (executemany takes its columns from
    the first row).
    """
    given = list(rows)
    keys = sorted({k for r in given for k in r})
    with engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                {
                    "name": r["id"],
                    "billing_country": "US",
                    "created_at": T0,
                    "updated_at": T0,
                    **{k: _DEFAULTS.get(k) for k in keys},
                    **r,
                }
                for r in given
            ],
        )


def add_model(
    engine: Engine,
    model_id: str,
    territories: Sequence[str | tuple[str, str | None, str | None]],
    *,
    state: str = "planning",
) -> None:
    """Create a model with territories ``id`` or ``(id, parent, type)``."""
    with engine.begin() as conn:
        conn.execute(
            insert(t.territory_model).values(
                id=model_id,
                name=model_id,
                state=state,
                description="",
                created_at=T0,
            )
        )
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model_id,
                    "id": x if isinstance(x, str) else x[0],
                    "name": x if isinstance(x, str) else x[0],
                    "parent_id": None if isinstance(x, str) else x[1],
                    "type_id": None if isinstance(x, str) else x[2],
                    "attributes": {},
                }
                for x in territories
            ],
        )


def add_assignments(
    engine: Engine, model_id: str, rows: Iterable[tuple[str, str, str, str | None]]
) -> None:
    """Store ``(account, territory, cause, source)`` associations."""
    with engine.begin() as conn:
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": model_id,
                    "account_id": a,
                    "territory_id": tid,
                    "cause": cause,
                    "source": src,
                }
                for a, tid, cause, src in rows
            ],
        )


def add_zip_design(
    engine: Engine, model_id: str, units: Iterable[tuple[str, str]]
) -> None:
    """Store a ZIP-level design: ``(zip, territory)`` unit assignments."""
    with engine.begin() as conn:
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": model_id,
                    "unit_kind": "zip",
                    "unit_id": z,
                    "territory_id": tid,
                    "cause": "design",
                }
                for z, tid in units
            ],
        )


def stored(engine: Engine, model_id: str) -> list[tuple[str, str, str, str | None]]:
    """Every ``(account, territory, cause, source)`` of the model, sorted."""
    aa = t.account_assignment
    with engine.connect() as conn:
        return sorted(
            tuple(r)  # type: ignore[misc]
            for r in conn.execute(
                select(
                    aa.c.account_id, aa.c.territory_id, aa.c.cause, aa.c.source
                ).where(aa.c.model_id == model_id)
            ).all()
        )
