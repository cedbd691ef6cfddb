"""Structural checks of a rule set; the data classes live in ``domain.rule``."""

from __future__ import annotations

from collections import Counter

from territory.domain.rule import (
    SALESFORCE_ACCOUNT_FIELDS,
    AssignmentRule,
    RuleItem,
    RuleLink,
    RuleSet,
    resolve_field,
    salesforce_field,
)
from territory.domain.territory import check_hierarchy
from territory.errors import InputError, Issue, ValidationFailed
from territory.rules.boolean_filter import parse_filter
from territory.rules.criterion import parse_operator

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
    for dup in sorted(x for x, k in Counter(tids).items() if k > 1):
        issues.append(Issue(f"territory '{dup}' appears more than once", file=file))
    rids = [r.id for r in rule_set.rules]
    for dup in sorted(r for r, k in Counter(rids).items() if k > 1):
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
