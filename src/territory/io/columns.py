"""Match a file's header to an entity's fields: our names, Salesforce's, customs.

A column names a field when it is the field's snake_case name or, for
accounts, its Salesforce API name (``BillingPostalCode``, as a Data Loader
export writes it), both compared without regard to case. One file may not
name a field twice, in either spelling.

Any other column of an accounts file is a custom field. A column ending in
``__c`` (a Salesforce custom field) keeps its API name. Custom field names
ignore case too: a column that matches a custom field already stored (``Tier__c``
for a stored ``tier__c``) takes the stored spelling, so one field never
becomes two. A column that is neither but reads like a known field, a typo
(``billing_postl_code``, by :func:`difflib.get_close_matches`) or a common
synonym (``zip``, ``lat``, ``state``), is refused with the field it probably
means, because storing it as a custom field would leave the account without
the value; ``…__c`` names and Salesforce's other standard Account fields
(``ShippingCity``, ``OwnerId``, ...) are never read as typos.

Entities without custom fields refuse unknown columns (with the same
suggestion); unit files read them as metrics.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from territory.errors import Issue
from territory.io.schema import EntitySchema, Extras

__all__ = [
    "SALESFORCE_OTHER_ACCOUNT_FIELDS",
    "TYPO_CUTOFF",
    "Header",
    "is_salesforce_custom",
    "resolve_header",
]

#: Similarity (difflib ratio of the names in lower case, without separators)
#: from which an unknown column is taken for a misspelt field.
TYPO_CUTOFF = 0.88

#: Standard Salesforce Account fields territory has no field for: a Data
#: Loader export carries them, and they are kept as custom fields under their
#: API names, never mistaken for typos (``ShippingCity`` is close to
#: ``BillingCity``, ``BillingStateCode`` to ``BillingState``).
SALESFORCE_OTHER_ACCOUNT_FIELDS = frozenset(
    {
        "AccountNumber",
        "AccountSource",
        "BillingAddress",
        "BillingCountryCode",
        "BillingGeocodeAccuracy",
        "BillingStateCode",
        "ChannelProgramLevelName",
        "ChannelProgramName",
        "CleanStatus",
        "CreatedById",
        "CreatedDate",
        "Description",
        "DunsNumber",
        "Fax",
        "IsCustomerPortal",
        "IsDeleted",
        "IsPartner",
        "Jigsaw",
        "JigsawCompanyId",
        "LastActivityDate",
        "LastModifiedById",
        "LastModifiedDate",
        "LastReferencedDate",
        "LastViewedDate",
        "MasterRecordId",
        "NaicsCode",
        "NaicsDesc",
        "OperatingHoursId",
        "OwnerId",
        "Ownership",
        "ParentId",
        "Phone",
        "PhotoUrl",
        "Rating",
        "RecordTypeId",
        "ShippingAddress",
        "ShippingCity",
        "ShippingCountry",
        "ShippingCountryCode",
        "ShippingGeocodeAccuracy",
        "ShippingLatitude",
        "ShippingLongitude",
        "ShippingPostalCode",
        "ShippingState",
        "ShippingStateCode",
        "ShippingStreet",
        "Sic",
        "SicDesc",
        "Site",
        "SystemModstamp",
        "TickerSymbol",
        "Tradestyle",
        "Type",
        "Website",
        "YearStarted",
    }
)

#: Column names that mean a field but are not its name: refused with the
#: field suggested, so the value is not stored as a custom field unseen.
_SYNONYMS = {
    "accounts": {
        "zip": "billing_postal_code",
        "zipcode": "billing_postal_code",
        "postcode": "billing_postal_code",
        "postalcode": "billing_postal_code",
        "street": "billing_street",
        "address": "billing_street",
        "city": "billing_city",
        "state": "billing_state",
        "country": "billing_country",
        "lat": "latitude",
        "lon": "longitude",
        "lng": "longitude",
        "long": "longitude",
    },
    "reps": {
        "lat": "home_lat",
        "latitude": "home_lat",
        "lon": "home_lon",
        "lng": "home_lon",
        "longitude": "home_lon",
    },
}

#: Common columns (lower case, without separators) that difflib finds close
#: to a field but that mean something else: kept as custom fields.
_NOT_TYPOS = frozenset(
    {"county", "countyname", "street2", "billingstreet2", "address2", "addressline2"}
)

_GEOMETRY = "geometry"
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def _squash(name: str) -> str:
    """Return ``name`` in lower case without separators (``BillingCity`` ->
    ``billingcity``, ``billing_city`` -> ``billingcity``)."""
    return _SEPARATORS.sub("", name.lower())


def is_salesforce_custom(name: str) -> bool:
    """Return whether ``name`` is a Salesforce custom field name (``Tier__c``).

    Examples
    --------
    >>> is_salesforce_custom("Tier__c"), is_salesforce_custom("tier")
    (True, False)
    """
    return len(name) > 3 and name.lower().endswith("__c")


@dataclass(frozen=True, slots=True)
class Header:
    """How a file's columns map to an entity's fields.

    ``names`` gives, for each file column, the name it goes by from here on
    (a field, a custom field in its stored spelling, a metric, or the
    column's own name when it is refused); ``extras`` lists the custom fields
    or metrics in file order; ``stored_spelling`` the custom columns renamed
    to a spelling already stored, as (written, stored); ``fatal`` the
    problems that refuse the file.
    """

    names: dict[str, str]
    extras: tuple[str, ...]
    stored_spelling: tuple[tuple[str, str], ...]
    fatal: tuple[Issue, ...]

    @property
    def written(self) -> dict[str, str]:
        """Name used -> the column as the file writes it, where they differ."""
        return {new: old for old, new in self.names.items() if new != old}


def _suggestion(column: str, schema: EntitySchema) -> str | None:
    """Return the field ``column`` probably means, as the file would spell it."""
    squashed = _squash(column)
    synonym = _SYNONYMS.get(schema.entity, {}).get(squashed)
    by_squash: dict[str, str] = {}
    for spec in schema.fields:
        by_squash.setdefault(_squash(spec.name), spec.name)
        if spec.salesforce:
            by_squash.setdefault(_squash(spec.salesforce), spec.name)
        if spec.name.startswith("billing_"):
            # ``postal_code`` for billing_postal_code, ``city`` for billing_city
            by_squash.setdefault(_squash(spec.name.removeprefix("billing_")), spec.name)
    field = synonym or by_squash.get(squashed)
    if field is None and squashed in _NOT_TYPOS:
        return None
    if field is None:
        close = difflib.get_close_matches(
            squashed, list(by_squash), n=1, cutoff=TYPO_CUTOFF
        )
        if not close:
            return None
        field = by_squash[close[0]]
    sf = schema.field(field).salesforce
    salesforce_style = "_" not in column and column[:1].isupper()
    return sf if salesforce_style and sf else field


def resolve_header(
    columns: Sequence[str],
    schema: EntitySchema,
    *,
    file: str,
    stored_custom: Iterable[str] = (),
) -> Header:
    """Map each of ``columns`` to a field, a custom field or a metric.

    ``stored_custom`` names the custom fields the store already holds; a
    column matching one of them, whatever its case, takes its spelling (the
    first in sorted order when the store holds several).
    """
    fields = {spec.name.lower(): spec.name for spec in schema.fields}
    salesforce = {sf.lower(): name for sf, name in schema.salesforce_names.items()}
    derived = {d.lower(): d for d in schema.derived}
    stored: dict[str, str] = {}
    for name in sorted(stored_custom):
        stored.setdefault(name.lower(), name)
    names: dict[str, str] = {}
    extras: list[str] = []
    renamed: list[tuple[str, str]] = []
    fatal: list[Issue] = []
    taken: dict[str, tuple[str, str]] = {}  # lower name -> (column, name)

    def claim(column: str, name: str, kind: str) -> bool:
        first = taken.get(name.lower())
        if first is None:
            taken[name.lower()] = (column, name)
            return True
        fatal.append(
            Issue(
                problem=f"columns '{first[0]}' and '{column}' both hold {kind} "
                f"{first[1]}",
                hint="keep one of them (names ignore case, and a Salesforce name "
                "such as BillingCity means the same field as billing_city)",
                file=file,
                row=1,
                field=column,
            )
        )
        return False

    # Columns spelt exactly as a field claim it first: with ``Id`` and ``id``,
    # ``id`` is the field and ``Id`` the column named twice.
    exact = set(fields.values()) | set(derived.values())
    for column in sorted(columns, key=lambda c: c not in exact):
        low = column.lower()
        if column == _GEOMETRY:
            names[column] = column
            continue
        field = None
        if not is_salesforce_custom(column):
            field = fields.get(low) or salesforce.get(low) or derived.get(low)
        if field is not None:
            names[column] = field if claim(column, field, "field") else column
            continue
        if schema.extras is Extras.REFUSE:
            names[column] = column
            guess = _suggestion(column, schema)
            fatal.append(
                Issue(
                    problem=f"unknown column '{column}'",
                    hint=(f"did you mean {guess}? " if guess else "")
                    + f"{schema.entity} files have the columns "
                    + ", ".join(schema.names)
                    + "; rename or remove it",
                    file=file,
                    row=1,
                    field=column,
                )
            )
            continue
        if schema.extras is Extras.METRICS:
            names[column] = column
            if claim(column, column, "metric"):
                extras.append(column)
            continue
        # A custom field.
        if '"' in column or "\\" in column:
            names[column] = column
            fatal.append(
                Issue(
                    problem=f"custom field name '{column}' holds a double quote or "
                    "a backslash",
                    hint="rename the column without them",
                    file=file,
                    row=1,
                    field=column,
                )
            )
            continue
        name = stored.get(low, column)
        if not claim(column, name, "custom field"):
            names[column] = column
            continue
        names[column] = name
        if name != column:
            renamed.append((column, name))
        elif not (
            low in stored
            or is_salesforce_custom(column)
            or column in SALESFORCE_OTHER_ACCOUNT_FIELDS
        ):
            guess = _suggestion(column, schema)
            if guess is not None:
                fatal.append(
                    Issue(
                        problem=f"unknown column '{column}'",
                        hint=f"did you mean {guess}? Rename the column; to keep "
                        f"it as a custom field instead, name it {column}__c",
                        file=file,
                        row=1,
                        field=column,
                    )
                )
                continue
        extras.append(name)
    order = {c: i for i, c in enumerate(columns)}
    return Header(
        names=dict(sorted(names.items(), key=lambda kv: order[kv[0]])),
        extras=tuple(extras),
        stored_spelling=tuple(renamed),
        fatal=tuple(fatal),
    )
