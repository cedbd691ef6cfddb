"""rule-run audit keeps the cause of the association a run replaced

Revision ID: 0006_assignment_change_cause
Revises: 0005_opportunity_territory
Create Date: 2026-12-05 06:30:00

A rule run is authoritative for every territory with a non-empty rule set:
it replaces that territory's design associations as well as its earlier
rule-made ones. ``assignment_change.old_cause`` says what a deleted or
updated association was (``design`` or ``rule``); ``NULL`` on an insert,
and on every row written before this revision (rule runs then changed only
rule-made associations).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_assignment_change_cause"
down_revision = "0005_opportunity_territory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "assignment_change",
        sa.Column("old_cause", sa.String(length=16), nullable=True),
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # in place (SQLite 3.35+): the table is WITHOUT ROWID and has no index
        op.execute(sa.text('ALTER TABLE "assignment_change" DROP COLUMN "old_cause"'))
    else:
        op.drop_column("assignment_change", "old_cause")
