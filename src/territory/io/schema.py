"""File schemas of the entities territory imports and exports.

Columns are the fields' snake_case names. Each entity lists its fields with a
kind (how the text is typed and checked), whether it is required, and its
length limit, lower bound and Salesforce API name; what happens to extra
columns (custom fields for accounts, metrics for units, refused elsewhere);
and which exported columns are derived by the store and recomputed on
import. Headers are matched to fields by :mod:`territory.io.columns`.

File shapes
-----------
accounts
    ``id, name, billing_street, billing_city, billing_state,
    billing_postal_code, billing_country, industry, annual_revenue,
    employees, latitude, longitude, excluded_from_realign, is_sample``; any
    other column is a custom field. Exports add ``county_id, zip_id,
    placed_by`` (recomputed on import; ``placed_by = zip`` at the ZIP's
    centroid is kept). Salesforce Data Loader names (``Id``,
    ``BillingPostalCode``, ``NumberOfEmployees`` ...) are read as the fields.
reps
    ``id, name, email, home_lat, home_lon, capacity, active``.
units
    ``id, kind, name, state``, then one column per metric (``population``,
    ``labor_force``, ...), then ``centroid_lat, centroid_lon, parent_id``;
    ``geometry`` (GeoJSON feature geometry, or WKT in CSV/Parquet). The
    centroid may be left out when a geometry is given.
territories
    ``id, name, parent, type, model, description``; ``model`` blank means
    ``--model`` (default: the active model); ``type`` is a territory type id
    or name.
assignments
    ``account_id, territory_id, start_date, end_date, cause, source``: manual
    account-to-territory links of one model. ``cause`` is ``manual``
    (default) or ``import``.
memberships
    ``territory_id, rep_id, role, start_date, end_date``; role is ``owner``
    (default), ``overlay`` or ``manager``.
opportunities
    ``id, account_id, name, amount, stage, close_date, is_closed, is_won,
    territory_id, excluded_from_territory_assignment, splits``; ``splits``
    holds every split in one cell as ``REP_ID:PERCENT`` pairs separated by
    ``;`` (``R1:60;R2:40``), blank for none.
sales
    ``account_id, period, amount, is_sample``.
quotas
    ``territory_id, rep_id, period, amount``: exactly one of
    ``territory_id`` and ``rep_id`` per row.

Periods are ``2027`` (year), ``2027-Q1`` (quarter) or ``2027-03`` (month);
dates are ISO ``2027-03-31``; booleans are ``true``/``false`` (also
``yes``/``no``, ``1``/``0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ENTITIES",
    "SCHEMAS",
    "EntitySchema",
    "Extras",
    "FieldKind",
    "FieldSpec",
    "schema_of",
]


class FieldKind(StrEnum):
    """How a column's text is typed and checked."""

    TEXT = "text"
    FLOAT = "float"
    NONNEGATIVE = "nonnegative"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    PERIOD = "period"
    POSTAL_CODE = "postal_code"
    LATITUDE = "latitude"
    LONGITUDE = "longitude"
    ROLE = "role"
    UNIT_KIND = "unit_kind"
    CAUSE = "cause"
    SPLITS = "splits"


class Extras(StrEnum):
    """What a column outside the schema means."""

    CUSTOM_FIELDS = "custom_fields"
    METRICS = "metrics"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One column of an entity file."""

    name: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    max_length: int | None = None
    default: object = None
    #: Smallest value a number may take (``0``: no negatives), None for any.
    minimum: float | None = None
    #: The Salesforce API name of the field (Data Loader files), if any.
    salesforce: str | None = None


@dataclass(frozen=True, slots=True)
class EntitySchema:
    """The columns of one entity's files.

    ``key`` names the columns that identify a record within the file
    (duplicates are refused); ``noun`` is how messages name one record.
    """

    entity: str
    noun: str
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...]
    extras: Extras = Extras.REFUSE
    derived: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in file order."""
        return tuple(f.name for f in self.fields)

    @property
    def salesforce_names(self) -> dict[str, str]:
        """Salesforce API name -> field name, for the fields that have one."""
        return {f.salesforce: f.name for f in self.fields if f.salesforce}

    def field(self, name: str) -> FieldSpec:
        """Return the spec of column ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


K = FieldKind
F = FieldSpec

SCHEMAS: dict[str, EntitySchema] = {
    s.entity: s
    for s in (
        EntitySchema(
            "accounts",
            "account",
            (
                F("id", required=True, max_length=64, salesforce="Id"),
                F("name", required=True, max_length=255, salesforce="Name"),
                F("billing_street", max_length=255, salesforce="BillingStreet"),
                F("billing_city", max_length=100, salesforce="BillingCity"),
                F("billing_state", max_length=100, salesforce="BillingState"),
                F(
                    "billing_postal_code",
                    K.POSTAL_CODE,
                    max_length=20,
                    salesforce="BillingPostalCode",
                ),
                F("billing_country", max_length=100, salesforce="BillingCountry"),
                F("industry", max_length=100, salesforce="Industry"),
                F("annual_revenue", K.FLOAT, minimum=0, salesforce="AnnualRevenue"),
                F("employees", K.INT, minimum=0, salesforce="NumberOfEmployees"),
                F("latitude", K.LATITUDE, salesforce="BillingLatitude"),
                F("longitude", K.LONGITUDE, salesforce="BillingLongitude"),
                F(
                    "excluded_from_realign",
                    K.BOOL,
                    default=False,
                    salesforce="IsExcludedFromRealign",
                ),
                F("is_sample", K.BOOL, default=False),
            ),
            key=("id",),
            extras=Extras.CUSTOM_FIELDS,
            derived=("county_id", "zip_id", "placed_by"),
        ),
        EntitySchema(
            "reps",
            "rep",
            (
                F("id", required=True, max_length=64),
                F("name", required=True, max_length=200),
                F("email", max_length=255),
                F("home_lat", K.LATITUDE),
                F("home_lon", K.LONGITUDE),
                F("capacity", K.NONNEGATIVE),
                F("active", K.BOOL, default=True),
            ),
            key=("id",),
        ),
        EntitySchema(
            "units",
            "unit",
            (
                F("id", required=True, max_length=32),
                F("kind", K.UNIT_KIND, required=True),
                F("name", required=True, max_length=200),
                F("state", required=True, max_length=2),
                F("centroid_lat", K.LATITUDE),
                F("centroid_lon", K.LONGITUDE),
                F("parent_id", max_length=32),
            ),
            key=("kind", "id"),
            extras=Extras.METRICS,
        ),
        EntitySchema(
            "territories",
            "territory",
            (
                F("id", required=True, max_length=64),
                F("name", required=True, max_length=200),
                F("parent", max_length=64),
                F("type", max_length=200),
                F("model", max_length=200),
                F("description"),
            ),
            key=("model", "id"),
        ),
        EntitySchema(
            "assignments",
            "assignment",
            (
                F("account_id", required=True, max_length=64),
                F("territory_id", required=True, max_length=64),
                F("start_date", K.DATE),
                F("end_date", K.DATE),
                F("cause", K.CAUSE, default="manual"),
                F("source", max_length=128),
            ),
            key=("account_id", "territory_id"),
        ),
        EntitySchema(
            "memberships",
            "membership",
            (
                F("territory_id", required=True, max_length=64),
                F("rep_id", required=True, max_length=64),
                F("role", K.ROLE, default="owner"),
                F("start_date", K.DATE),
                F("end_date", K.DATE),
            ),
            key=("territory_id", "rep_id", "role", "start_date"),
        ),
        EntitySchema(
            "opportunities",
            "opportunity",
            (
                F("id", required=True, max_length=64),
                F("account_id", required=True, max_length=64),
                F("name", max_length=255, default=""),
                F("amount", K.FLOAT, required=True, minimum=0),
                F("stage", required=True, max_length=64),
                F("close_date", K.DATE),
                F("is_closed", K.BOOL, default=False),
                F("is_won", K.BOOL, default=False),
                F("territory_id", max_length=64),
                F("excluded_from_territory_assignment", K.BOOL, default=False),
                F("splits", K.SPLITS),
            ),
            key=("id",),
        ),
        EntitySchema(
            "sales",
            "sales row",
            (
                F("account_id", required=True, max_length=64),
                F("period", K.PERIOD, required=True),
                F("amount", K.FLOAT, required=True),
                F("is_sample", K.BOOL, default=False),
            ),
            key=("account_id", "period"),
        ),
        EntitySchema(
            "quotas",
            "quota",
            (
                F("territory_id", max_length=64),
                F("rep_id", max_length=64),
                F("period", K.PERIOD, required=True),
                F("amount", K.FLOAT, required=True, minimum=0),
            ),
            key=("territory_id", "rep_id", "period"),
        ),
    )
}

#: Entity names accepted by ``territory import`` and ``territory export``.
ENTITIES: tuple[str, ...] = tuple(SCHEMAS)


def schema_of(entity: str) -> EntitySchema:
    """Return the schema of ``entity`` (``accounts``, ``reps``, ...).

    Raises
    ------
    KeyError
        When ``entity`` is not one of :data:`ENTITIES`.
    """
    return SCHEMAS[entity]
