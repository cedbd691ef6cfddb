"""keep Salesforce names and ids of rule items, rule links and types

Revision ID: 0002_rules
Revises: 0001
Create Date: 2026-12-03 20:00:00

Imported Salesforce setups come back out with the ids that came in: rule
items and rule-territory links carry their ``Id``; rules and territory types
their ``DeveloperName``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rules"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "territory_type", sa.Column("developer_name", sa.String(255), nullable=True)
    )
    op.add_column(
        "assignment_rule", sa.Column("developer_name", sa.String(255), nullable=True)
    )
    op.add_column("rule_item", sa.Column("external_id", sa.String(64), nullable=True))
    op.add_column(
        "rule_territory", sa.Column("external_id", sa.String(64), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("rule_territory") as batch:
        batch.drop_column("external_id")
    with op.batch_alter_table("rule_item") as batch:
        batch.drop_column("external_id")
    with op.batch_alter_table("assignment_rule") as batch:
        batch.drop_column("developer_name")
    with op.batch_alter_table("territory_type") as batch:
        batch.drop_column("developer_name")
