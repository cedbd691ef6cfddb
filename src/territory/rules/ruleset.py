"""Assignment rules, their links to territories, and the rule set of a model.

The words follow Salesforce Enterprise Territory Management: a rule
(``ObjectTerritory2AssignmentRule``) has numbered items
(``ObjectTerritory2AssignmentRuleItem``) and an optional boolean filter; a link
(``RuleTerritory2Association``) attaches it to a territory, and
``apply_to_children`` (``IsInherited``) makes every descendant inherit it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from territory.domain.territory import Territory, TerritoryType, check_hierarchy
from territory.errors import InputError, Issue, ValidationFailed
from territory.rules.boolean_filter import parse_filter
from territory.rules.criterion import Operator, parse_operator

__all__ = [
    "SALESFORCE_ACCOUNT_FIELDS",
    "AssignmentRule",
    "RuleItem",
    "RuleLink",
    "RuleSet",
    "check_rule_set",
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
}
_OUR_FIELDS = frozenset(SALESFORCE_ACCOUNT_FIELDS.values()) | {
    "latitude",
    "longitude",
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
    """One numbered item of a rule, with the field named as written."""

    field: str
    operator: Operator
    value: str | None = None


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


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything the engine needs for one model.

    ``value_sets`` maps a value-set name (used by ``inTable``) to its values.
    """

    territories: tuple[Territory, ...]
    rules: tuple[AssignmentRule, ...]
    links: tuple[RuleLink, ...]
    types: tuple[TerritoryType, ...] = ()
    value_sets: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _rule_issues(rule: AssignmentRule, file: str | None) -> list[Issue]:
    issues: list[Issue] = []
    if not rule.items:
        issues.append(
            Issue(
                f"rule '{rule.id}' has no items",
                "add at least one item or delete the rule",
                file=file,
            )
        )
        return issues
    for n, item in enumerate(rule.items, start=1):
        try:
            resolve_field(item.field)
            parse_operator(item.operator)
        except InputError as exc:
            issues.append(Issue(f"rule '{rule.id}' item {n}: {exc.message}", file=file))
    try:
        parse_filter(rule.boolean_filter, len(rule.items), rule.id)
    except InputError as exc:
        issues.append(Issue(exc.message, file=file))
    return issues


def check_rule_set(rule_set: RuleSet, file: str | None = None) -> None:
    """Check a rule set's structure; collect every problem before failing.

    Raises
    ------
    ValidationFailed
        Listing duplicate ids, links to unknown rules or territories,
        hierarchy cycles, more than one catch-all territory, duplicate type
        priorities, unknown territory types and bad items or filters.
    """
    issues: list[Issue] = []
    tids: list[str] = [t.id for t in rule_set.territories]
    for dup in sorted({x for x in tids if tids.count(x) > 1}):
        issues.append(Issue(f"territory '{dup}' appears more than once", file=file))
    rids = [r.id for r in rule_set.rules]
    for dup in sorted({r for r in rids if rids.count(r) > 1}):
        issues.append(Issue(f"rule '{dup}' appears more than once", file=file))
    known_t, known_r = set(tids), set(rids)
    for link in rule_set.links:
        if link.rule_id not in known_r:
            issues.append(
                Issue(
                    f"a link names rule '{link.rule_id}', which does not exist",
                    "import the rule or remove the link",
                    file=file,
                )
            )
        if link.territory_id not in known_t:
            issues.append(
                Issue(
                    f"rule '{link.rule_id}' is linked to territory "
                    f"'{link.territory_id}', which does not exist",
                    "import the territory or remove the link",
                    file=file,
                )
            )
    try:
        check_hierarchy({t.id: t.parent_id for t in rule_set.territories})
    except InputError as exc:
        issues.append(Issue(exc.message, file=file))
    catch_all = sorted(t.id for t in rule_set.territories if t.is_catch_all)
    if len(catch_all) > 1:
        issues.append(
            Issue(
                f"territories {', '.join(catch_all)} are all marked catch-all",
                "mark at most one catch-all territory per model",
                file=file,
            )
        )
    priorities: dict[int, str] = {}
    for tt in rule_set.types:
        if tt.priority in priorities:
            issues.append(
                Issue(
                    f"territory types '{priorities[tt.priority]}' and '{tt.id}' "
                    f"share priority {tt.priority}",
                    "give every territory type its own priority",
                    file=file,
                )
            )
        priorities[tt.priority] = tt.id
    type_ids = {tt.id for tt in rule_set.types}
    if rule_set.types:
        for t in rule_set.territories:
            if t.type_id is not None and t.type_id not in type_ids:
                issues.append(
                    Issue(
                        f"territory '{t.id}' has type '{t.type_id}', which "
                        "does not exist",
                        "import the territory type or fix the type id",
                        file=file,
                    )
                )
    for rule in rule_set.rules:
        issues.extend(_rule_issues(rule, file))
    if issues:
        raise ValidationFailed(
            f"The rule set has {len(issues)} problem{'s' if len(issues) > 1 else ''}; "
            "fix them and import again.",
            issues,
            code="rule_set_invalid",
        )
