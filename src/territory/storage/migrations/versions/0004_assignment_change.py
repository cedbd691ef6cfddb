"""compact audit rows for rule runs: one assignment_change row per association

Revision ID: 0004_assignment_change
Revises: 0003_sales_cover
Create Date: 2026-12-04 05:00:00

A rule run that realigns a million accounts changes about as many
account-territory associations, and each change is audited. Writing the
actor, time, cause, model and JSON values again on every one of those rows
made the audit the largest write of the run. A run now writes one
``audit_log`` row (entity ``rule_run``: actor, time, cause, counts) and one
narrow ``assignment_change`` row per changed association that points at it:
account, territory, action, old and new rule. Clustered on
``(run_id, account_id, territory_id)`` (``WITHOUT ROWID`` on SQLite), so a
run's rows are written and read in key order with no second index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_assignment_change"
down_revision = "0003_sales_cover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignment_change",
        sa.Column(
            "run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("territory_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("old_source", sa.String(length=128), nullable=True),
        sa.Column("new_source", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["audit_log.id"],
            name=op.f("fk_assignment_change_run_id_audit_log"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "account_id", "territory_id", name=op.f("pk_assignment_change")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("assignment_change")
