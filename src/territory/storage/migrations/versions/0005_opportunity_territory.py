"""opportunity territories per model: opportunity_territory replaces two columns

Revision ID: 0005_opportunity_territory
Revises: 0004_assignment_change
Create Date: 2026-12-05 06:00:00

An opportunity's territory used to be one pair of columns on the
opportunity (``territory_model_id``, ``territory_id``), so a what-if rule
run on a planning clone overwrote the live model's opportunity routing. It
now lives in ``opportunity_territory``, one row per model and opportunity
that has a territory in that model (no row: none), keyed
``(model_id, opportunity_id)``; cloning a model copies its rows.

The upgrade carries every stored territory over to the model it names; a
pair whose territory the model does not have (which no reader counted as
the model's) has nowhere to go and is dropped with the two columns. The
downgrade puts back one territory per opportunity, the active model's if
it has one, else the first model's by id.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0005_opportunity_territory"
down_revision = "0004_assignment_change"
branch_labels = None
depends_on = None

_DROPPED = ("territory_id", "territory_model_id")


def _drop_column(table: str, column: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} cannot drop a column in place; "
                "territory needs SQLite 3.35 or newer for migration 0005."
            )
        # in place: recreating the table would cascade-delete its children
        op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
    else:
        op.drop_column(table, column)


def upgrade() -> None:
    op.create_table(
        "opportunity_territory",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("territory_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "territory_id"],
            ["territory.model_id", "territory.id"],
            name=op.f("fk_opportunity_territory_model_id_territory"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunity.id"],
            name=op.f("fk_opportunity_territory_opportunity_id_opportunity"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_id", "opportunity_id", name=op.f("pk_opportunity_territory")
        ),
    )
    op.create_index(
        "ix_opportunity_territory_territory",
        "opportunity_territory",
        ["model_id", "territory_id"],
    )
    op.execute(
        sa.text(
            "INSERT INTO opportunity_territory (model_id, opportunity_id, "
            "territory_id) SELECT o.territory_model_id, o.id, o.territory_id "
            "FROM opportunity AS o JOIN territory AS t "
            "ON t.model_id = o.territory_model_id AND t.id = o.territory_id"
        )
    )
    for column in _DROPPED:
        _drop_column("opportunity", column)


def downgrade() -> None:
    op.add_column(
        "opportunity",
        sa.Column("territory_model_id", sa.String(length=64), nullable=True),
    )
    op.add_column(
        "opportunity", sa.Column("territory_id", sa.String(length=64), nullable=True)
    )
    # one model per opportunity: the active model first, then by model id
    pick = (
        "SELECT x.model_id FROM opportunity_territory AS x "
        "JOIN territory_model AS m ON m.id = x.model_id "
        "WHERE x.opportunity_id = opportunity.id "
        "ORDER BY CASE WHEN m.state = 'active' THEN 0 ELSE 1 END, x.model_id "
        "LIMIT 1"
    )
    op.execute(
        sa.text(
            f"UPDATE opportunity SET territory_model_id = ({pick}), "
            "territory_id = (SELECT x.territory_id FROM opportunity_territory AS x "
            f"WHERE x.opportunity_id = opportunity.id AND x.model_id = ({pick}))"
        )
    )
    op.drop_index("ix_opportunity_territory_territory", "opportunity_territory")
    op.drop_table("opportunity_territory")
