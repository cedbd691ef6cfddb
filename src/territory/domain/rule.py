"""Assignment rules as data: rules, their items, links to territories, rule sets.

The words follow Salesforce Enterprise Territory Management: a rule
(``ObjectTerritory2AssignmentRule``) has numbered items
(``ObjectTerritory2AssignmentRuleItem``) and an optional boolean filter; a link
(``RuleTerritory2Association``) attaches it to a territory, and
``apply_to_children`` (``IsInherited``) makes every descendant inherit it.
Rules name account fields the Salesforce way (``Account.BillingState``,
``Account.Tier__c``) or ours (``billing_state``); :func:`resolve_field` maps
both to the same field. Parsing and evaluation live in ``territory.rules``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from territory.domain.territory import Territory, TerritoryType
from territory.errors import InputError

__all__ = [
    "SALESFORCE_ACCOUNT_FIELDS",
    "AssignmentRule",
    "RuleItem",
    "RuleLink",
    "RuleSet",
    "StoredIds",
    "resolve_field",
    "salesforce_field",
]

#: Salesforce Account API names and the account fields they resolve to.
SALESFORCE_ACCOUNT_FIELDS: Mapping[str, str] = {
    "Id": "id",
    "Name": "name",
    "BillingStreet": "billing_street",
    "BillingCity": "billing_city",
    "BillingState": "billing_state",
    "BillingPostalCode": "billing_postal_code",
    "BillingCountry": "billing_country",
    "Industry": "industry",
    "AnnualRevenue": "annual_revenue",
    "NumberOfEmployees": "employees",
    "BillingLatitude": "latitude",
    "BillingLongitude": "longitude",
}
_OUR_FIELDS = frozenset(SALESFORCE_ACCOUNT_FIELDS.values()) | {
    "county_id",
    "zip_id",
}
_TO_SALESFORCE = {v: k for k, v in SALESFORCE_ACCOUNT_FIELDS.items()}
_CUSTOM = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")


def resolve_field(name: str) -> str:
    """Return the account field a rule names, the Salesforce way or ours.

    Raises
    ------
    InputError
        When the name is neither a known account field nor a custom field
        ending in ``__c``.

    Examples
    --------
    >>> resolve_field("Account.BillingState"), resolve_field("billing_state")
    ('billing_state', 'billing_state')
    >>> resolve_field("Account.Tier__c")
    'Tier__c'
    """
    text = name.strip()
    bare = text[len("Account.") :] if text.lower().startswith("account.") else text
    if bare in SALESFORCE_ACCOUNT_FIELDS:
        return SALESFORCE_ACCOUNT_FIELDS[bare]
    if bare in _OUR_FIELDS or _CUSTOM.match(bare):
        return bare
    lowered = {k.lower(): v for k, v in SALESFORCE_ACCOUNT_FIELDS.items()}
    if bare.lower() in lowered:
        return lowered[bare.lower()]
    known = ", ".join(sorted(SALESFORCE_ACCOUNT_FIELDS))
    raise InputError(
        f"Rule field {name!r} is not an account field; use one of {known} "
        "(optionally as Account.<Name>), our snake_case names such as "
        "billing_state, or a custom field ending in __c.",
        code="rule_field_unknown",
        details={"field": name},
    )


def salesforce_field(name: str) -> str:
    """Return a rule field in Salesforce form (``Account.BillingState``).

    Examples
    --------
    >>> salesforce_field("billing_state"), salesforce_field("Tier__c")
    ('Account.BillingState', 'Account.Tier__c')
    """
    if name.lower().startswith("account."):
        return name
    resolved = resolve_field(name)
    return "Account." + _TO_SALESFORCE.get(resolved, resolved)


@dataclass(frozen=True, slots=True)
class RuleItem:
    """One numbered item of a rule, with the field named as written.

    ``operator`` is a Salesforce operator name such as ``equals``.
    """

    field: str
    operator: str
    value: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    """An assignment rule: items (numbered from 1) and an optional boolean filter."""

    id: str
    name: str
    items: tuple[RuleItem, ...]
    boolean_filter: str | None = None
    is_active: bool = True
    object_type: str = "Account"
    developer_name: str | None = None


@dataclass(frozen=True, slots=True)
class RuleLink:
    """A rule attached to a territory.

    ``apply_to_children`` makes every descendant inherit the rule.
    """

    rule_id: str
    territory_id: str
    apply_to_children: bool = False
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything the engine needs for one model.

    ``value_sets`` maps a value-set name (used by ``inTable``) to its values;
    ``type_developer_names`` keeps each type's Salesforce DeveloperName.
    """

    territories: tuple[Territory, ...]
    rules: tuple[AssignmentRule, ...]
    links: tuple[RuleLink, ...]
    types: tuple[TerritoryType, ...] = ()
    value_sets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    type_developer_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredIds:
    """Ids already in the store that an imported setup may name besides its own.

    ``territories`` are the model's territory ids, ``types`` every territory
    type id (types are store-wide). Rules are not here: a setup's items and
    links name rules of the same setup.
    """

    territories: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
