"""Relational schema of the territory store (SQLAlchemy Core).

One ``MetaData`` holds every table; Alembic migrations under ``migrations/``
create and evolve it. Money is stored as double precision (USD); ids are text
so leading zeros survive. Territories, rules and assignments are keyed by
``model_id`` first, which makes cloning a model a set of ``INSERT ... SELECT``
statements.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)

territory_model = Table(
    "territory_model",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("state", String(16), nullable=False, default="planning"),
    Column("description", Text, nullable=False, default=""),
    Column("cloned_from", ID, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    Column("archived_at", DateTime(timezone=True), nullable=True),
)
# At most one active model: a partial unique index, honoured by SQLite and PostgreSQL.
Index(
    "uq_territory_model_one_active",
    territory_model.c.state,
    unique=True,
    sqlite_where=territory_model.c.state == "active",
    postgresql_where=territory_model.c.state == "active",
)

territory_type = Table(
    "territory_type",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("priority", Integer, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("developer_name", String(255)),  # Salesforce DeveloperName (0002)
)

territory = Table(
    "territory",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("type_id", ID, nullable=True),
    Column("parent_id", ID, nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("is_catch_all", Boolean, nullable=False, default=False),
    Column("attributes", JSON, nullable=False, default=dict),
    ForeignKeyConstraint(["model_id"], ["territory_model.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["type_id"], ["territory_type.id"]),
    Index("ix_territory_parent", "model_id", "parent_id"),
)

geo_unit = Table(
    "geo_unit",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("state", String(2), nullable=False),
    Column("parent_id", String(32), nullable=True),  # a ZIP's county FIPS
    Column("centroid_lat", Float, nullable=False),
    Column("centroid_lon", Float, nullable=False),
    Column("geometry", LargeBinary, nullable=True),  # WKB, lon/lat
    Index("ix_geo_unit_state", "kind", "state"),
)

geo_unit_metric = Table(
    "geo_unit_metric",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("unit_id", String(32), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("value", Float, nullable=False),
    ForeignKeyConstraint(
        ["kind", "unit_id"], ["geo_unit.kind", "geo_unit.id"], ondelete="CASCADE"
    ),
)

metric_source = Table(
    "metric_source",
    metadata,
    Column("metric", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("vintage", String(32), nullable=False),
    Column("notes", Text, nullable=False, default=""),
)

geo_adjacency = Table(
    "geo_adjacency",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("contiguity", String(8), primary_key=True),
    Column("a", String(32), primary_key=True),
    Column("b", String(32), primary_key=True),
    Column("shared_km", Float, nullable=True),
)

account = Table(
    "account",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("billing_street", String(255)),
    Column("billing_city", String(100)),
    Column("billing_state", String(100)),
    Column("billing_postal_code", String(20)),
    Column("billing_country", String(100)),
    Column("industry", String(100)),
    Column("annual_revenue", Float),
    Column("employees", BigInteger),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("county_id", String(32)),
    Column("zip_id", String(32)),
    Column("placed_by", String(16), nullable=False, default="unplaced"),
    Column("excluded_from_realign", Boolean, nullable=False, default=False),
    Column("is_sample", Boolean, nullable=False, default=False),
    Column("custom_fields", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_account_county", "county_id"),
    Index("ix_account_zip", "zip_id"),
)

rep = Table(
    "rep",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(255)),
    Column("home_lat", Float),
    Column("home_lon", Float),
    Column("capacity", Float),
    Column("active", Boolean, nullable=False, default=True),
)

territory_membership = Table(
    "territory_membership",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", ID, nullable=False),
    Column("territory_id", ID, nullable=False),
    Column("rep_id", ID, nullable=False),
    Column("role", String(16), nullable=False),
    Column("start_date", Date),
    Column("end_date", Date),
    ForeignKeyConstraint(
        ["model_id", "territory_id"],
        ["territory.model_id", "territory.id"],
        ondelete="CASCADE",
    ),
    ForeignKeyConstraint(["rep_id"], ["rep.id"]),
    UniqueConstraint(
        "model_id", "territory_id", "rep_id", "role", "start_date", name="uq_membership"
    ),
)

unit_assignment = Table(
    "unit_assignment",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("unit_kind", String(16), primary_key=True),
    Column("unit_id", String(32), primary_key=True),
    Column("territory_id", ID, nullable=False),
    Column("cause", String(16), nullable=False),
    Column("source", String(128)),
    Column("start_date", Date),
    Column("end_date", Date),
    ForeignKeyConstraint(
        ["model_id", "territory_id"],
        ["territory.model_id", "territory.id"],
        ondelete="CASCADE",
    ),
    Index("ix_unit_assignment_territory", "model_id", "territory_id"),
)

account_assignment = Table(
    "account_assignment",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("account_id", ID, primary_key=True),
    Column("territory_id", ID, primary_key=True),
    Column("cause", String(16), nullable=False),
    Column("source", String(128)),  # rule id or design run id
    Column("start_date", Date),
    Column("end_date", Date),
    ForeignKeyConstraint(
        ["model_id", "territory_id"],
        ["territory.model_id", "territory.id"],
        ondelete="CASCADE",
    ),
    Index("ix_account_assignment_territory", "model_id", "territory_id"),
)

# --- assignment rules (Salesforce ObjectTerritory2AssignmentRule and items) ---

assignment_rule = Table(
    "assignment_rule",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("object_type", String(32), nullable=False, default="Account"),
    Column("boolean_filter", String(1000)),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("developer_name", String(255)),  # Salesforce DeveloperName (0002)
    ForeignKeyConstraint(["model_id"], ["territory_model.id"], ondelete="CASCADE"),
)

rule_item = Table(
    "rule_item",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("rule_id", ID, primary_key=True),
    Column("sort_order", Integer, primary_key=True),
    Column("field", String(255), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("value", Text),
    Column("external_id", String(64)),  # Salesforce Id of the item (0002)
    ForeignKeyConstraint(
        ["model_id", "rule_id"],
        ["assignment_rule.model_id", "assignment_rule.id"],
        ondelete="CASCADE",
    ),
)

rule_territory = Table(
    "rule_territory",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("rule_id", ID, primary_key=True),
    Column("territory_id", ID, primary_key=True),
    Column("is_inherited", Boolean, nullable=False, default=False),
    Column("external_id", String(64)),  # Salesforce Id of the link (0002)
    ForeignKeyConstraint(
        ["model_id", "rule_id"],
        ["assignment_rule.model_id", "assignment_rule.id"],
        ondelete="CASCADE",
    ),
)

value_set = Table(
    "value_set",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", String(255), primary_key=True),
)

# --- opportunities, sales, quotas ---

opportunity = Table(
    "opportunity",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("name", String(255), nullable=False, default=""),
    Column("amount", Float, nullable=False),
    Column("stage", String(64), nullable=False),
    Column("close_date", Date),
    Column("is_closed", Boolean, nullable=False, default=False),
    Column("is_won", Boolean, nullable=False, default=False),
    Column(
        "excluded_from_territory_assignment", Boolean, nullable=False, default=False
    ),
    Column("is_sample", Boolean, nullable=False, default=False),
    Index("ix_opportunity_account", "account_id"),
)

# An opportunity's territory in one model (0005): one row per model and
# opportunity that has a territory there; no row means none. Per model, so a
# rule run on a planning clone never touches the live model's routing.
opportunity_territory = Table(
    "opportunity_territory",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("opportunity_id", ID, primary_key=True),
    Column("territory_id", ID, nullable=False),
    ForeignKeyConstraint(
        ["model_id", "territory_id"],
        ["territory.model_id", "territory.id"],
        ondelete="CASCADE",
    ),
    ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
    Index("ix_opportunity_territory_territory", "model_id", "territory_id"),
)

opportunity_split = Table(
    "opportunity_split",
    metadata,
    Column("opportunity_id", ID, primary_key=True),
    Column("rep_id", ID, primary_key=True),
    Column("percent", Float, nullable=False),
    ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
)

sales_history = Table(
    "sales_history",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("amount", Float, nullable=False),
    Column("is_sample", Boolean, nullable=False, default=False),
    # Period sums per account read the index alone (migration 0003).
    Index("ix_sales_history_account_period_amount", "account_id", "period", "amount"),
)

quota = Table(
    "quota",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", ID, nullable=False),
    Column("territory_id", ID),
    Column("rep_id", ID),
    Column("period", String(16), nullable=False),
    Column("amount", Float, nullable=False),
    ForeignKeyConstraint(["model_id"], ["territory_model.id"], ondelete="CASCADE"),
    Index("ix_quota_model", "model_id", "period"),
)

# --- runs and audit ---

design_run = Table(
    "design_run",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("objective", Float),
    Column("parameters", JSON, nullable=False),
    Column("result", JSON, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("entity", String(32), nullable=False),  # model, account_assignment, ...
    Column("entity_id", String(255), nullable=False),
    Column("model_id", ID),
    Column("action", String(16), nullable=False),  # insert, update, delete, state
    Column("old_value", JSON),
    Column("new_value", JSON),
    Column("cause", String(32), nullable=False),
    Column("source", String(128)),
    Index("ix_audit_model", "model_id", "entity"),
)

# One row per account-territory association a rule run changed (0004). The
# run's actor, time and cause are on its ``audit_log`` row (entity
# ``rule_run``); a change row says which association, what happened to it
# (insert, delete, update) and the rule that made it before and after.
assignment_change = Table(
    "assignment_change",
    metadata,
    Column(
        "run_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("account_id", ID, primary_key=True),
    Column("territory_id", ID, primary_key=True),
    Column("action", String(16), nullable=False),  # insert, delete, update
    Column("old_source", String(128)),
    Column("new_source", String(128)),
    # cause of the association deleted or updated (design, rule); NULL on an
    # insert and on rows written before 0006 (all rule-made)
    Column("old_cause", String(16)),
    ForeignKeyConstraint(["run_id"], ["audit_log.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)
