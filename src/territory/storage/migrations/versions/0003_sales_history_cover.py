"""covering index on sales history for period sums per account

Revision ID: 0003_sales_cover
Revises: 0002_rules
Create Date: 2026-12-03 20:15:00

`territory metrics` and `territory quota` sum each account's sales inside a
period. With ``(account_id, period, amount)`` in one index the store answers
that from the index alone, in account order, without touching the table.
"""

from __future__ import annotations

from alembic import op

revision = "0003_sales_cover"
down_revision = "0002_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sales_history_account_period_amount",
        "sales_history",
        ["account_id", "period", "amount"],
    )


def downgrade() -> None:
    op.drop_index("ix_sales_history_account_period_amount", table_name="sales_history")
