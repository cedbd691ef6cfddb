"""Assignment rules with Salesforce ETM semantics: parse, evaluate, explain, lint."""

from territory.rules.account_table import AccountTable, NumberColumn, TextColumn
from territory.rules.boolean_filter import FilterNode, parse_filter
from territory.rules.criterion import (
    CompiledCriterion,
    Criterion,
    FieldKind,
    Operator,
    compile_criterion,
    normalise_text,
    parse_operator,
    split_values,
    zip5,
)
from territory.rules.engine import Evaluation, RuleEngine
from territory.rules.explain import (
    AccountExplanation,
    ItemOutcome,
    RuleOutcome,
    StoredAssociation,
    TerritoryOutcome,
    explain,
)
from territory.rules.lint import LintFinding, lint
from territory.rules.opportunity import (
    OpportunityTerritory,
    choose_opportunity_territory,
)
from territory.rules.ruleset import (
    AssignmentRule,
    RuleItem,
    RuleLink,
    RuleSet,
    check_rule_set,
    resolve_field,
    salesforce_field,
)

__all__ = [
    "AccountExplanation",
    "AccountTable",
    "AssignmentRule",
    "CompiledCriterion",
    "Criterion",
    "Evaluation",
    "FieldKind",
    "FilterNode",
    "ItemOutcome",
    "LintFinding",
    "NumberColumn",
    "Operator",
    "OpportunityTerritory",
    "RuleEngine",
    "RuleItem",
    "RuleLink",
    "RuleOutcome",
    "RuleSet",
    "StoredAssociation",
    "TerritoryOutcome",
    "TextColumn",
    "check_rule_set",
    "choose_opportunity_territory",
    "compile_criterion",
    "explain",
    "lint",
    "normalise_text",
    "parse_filter",
    "parse_operator",
    "resolve_field",
    "salesforce_field",
    "split_values",
    "zip5",
]
