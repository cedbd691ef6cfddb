"""Matching a file's header to fields: our names, Salesforce's, customs, typos."""

from __future__ import annotations

import pytest

from territory.domain.rule import SALESFORCE_ACCOUNT_FIELDS
from territory.io.columns import resolve_header
from territory.io.schema import schema_of

SALESFORCE_HEADER = [
    "Id",
    "Name",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "Industry",
    "AnnualRevenue",
    "NumberOfEmployees",
    "Tier__c",
]


def _accounts(columns: list[str], stored: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return resolve_header(
        columns, schema_of("accounts"), file="a.csv", stored_custom=stored
    )


def test_salesforce_data_loader_names_are_the_account_fields() -> None:
    header = _accounts(SALESFORCE_HEADER)
    assert header.fatal == ()
    assert header.names == {
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
        "Tier__c": "Tier__c",
    }
    assert header.extras == ("Tier__c",)
    assert header.written["employees"] == "NumberOfEmployees"


def test_salesforce_names_agree_with_the_rule_fields() -> None:
    """Files and rules resolve every Salesforce name the rules know alike."""
    names = schema_of("accounts").salesforce_names
    for api_name, field in SALESFORCE_ACCOUNT_FIELDS.items():
        assert names[api_name] == field


def test_field_names_ignore_case() -> None:
    header = _accounts(["ID", "NAME", "billingpostalcode", "Latitude", "longitude"])
    assert header.fatal == ()
    assert list(header.names.values()) == [
        "id",
        "name",
        "billing_postal_code",
        "latitude",
        "longitude",
    ]


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        (["name", "id", "Id"], "columns 'id' and 'Id' both hold field id"),
        (
            ["id", "name", "billing_city", "BillingCity"],
            "columns 'billing_city' and 'BillingCity' both hold field billing_city",
        ),
        (
            ["id", "name", "tier__c", "Tier__c"],
            "columns 'tier__c' and 'Tier__c' both hold custom field tier__c",
        ),
    ],
)
def test_one_field_named_twice_is_refused(columns: list[str], problem: str) -> None:
    header = _accounts(columns)
    (issue,) = header.fatal
    assert (issue.file, issue.row, issue.field) == ("a.csv", 1, columns[-1])
    assert issue.problem == problem
    assert "keep one of them" in issue.hint


def test_custom_field_takes_the_stored_spelling() -> None:
    header = _accounts(["id", "name", "Tier__c", "SEGMENT"], stored=("tier__c",))
    assert header.fatal == ()
    assert header.extras == ("tier__c", "SEGMENT")
    assert header.stored_spelling == (("Tier__c", "tier__c"),)


def test_store_holding_two_spellings_keeps_the_first_in_sorted_order() -> None:
    header = _accounts(["id", "name", "TIER__C"], stored=("tier__c", "Tier__c"))
    assert header.extras == ("Tier__c",)  # "T" sorts before "t"


@pytest.mark.parametrize(
    ("column", "meant"),
    [
        ("billing_postl_code", "billing_postal_code"),
        ("BillingPostlCode", "BillingPostalCode"),  # answered in the file's style
        ("anual_revenue", "annual_revenue"),
        ("employes", "employees"),
        ("lattitude", "latitude"),
        ("postal_code", "billing_postal_code"),
        ("zip", "billing_postal_code"),
        ("lng", "longitude"),
        ("state", "billing_state"),
    ],
)
def test_column_close_to_a_field_is_refused_with_the_field(
    column: str, meant: str
) -> None:
    header = _accounts(["id", "name", column])
    (issue,) = header.fatal
    assert (issue.row, issue.field) == (1, column)
    assert issue.problem == f"unknown column '{column}'"
    assert issue.hint.startswith(f"did you mean {meant}? Rename the column")
    assert f"name it {column}__c" in issue.hint
    assert header.extras == ()


@pytest.mark.parametrize(
    "column",
    [
        "segment",
        "tier",
        "county",  # close to country, but a county name
        "ShippingCity",  # Salesforce standard field, close to BillingCity
        "BillingStateCode",
        "OwnerId",
        "billing_postl_code__c",  # explicitly custom
    ],
)
def test_other_columns_are_custom_fields(column: str) -> None:
    header = _accounts(["id", "name", column])
    assert header.fatal == ()
    assert header.extras == (column,)


def test_stored_custom_field_is_no_typo() -> None:
    """A custom field the store holds already is read back as it is."""
    header = _accounts(["id", "name", "billing_postl_code"], ("billing_postl_code",))
    assert header.fatal == ()
    assert header.extras == ("billing_postl_code",)


def test_unknown_column_of_a_strict_entity_suggests_the_field() -> None:
    header = resolve_header(["id", "name", "capacty"], schema_of("reps"), file="r.csv")
    (issue,) = header.fatal
    assert issue.problem == "unknown column 'capacty'"
    assert issue.hint.startswith("did you mean capacity? reps files have the columns")


@pytest.mark.parametrize("column", ['say "hi"', "back\\slash"])
def test_custom_field_name_with_a_quote_or_backslash_is_refused(column: str) -> None:
    (issue,) = _accounts(["id", "name", column]).fatal
    assert issue.problem == (
        f"custom field name '{column}' holds a double quote or a backslash"
    )
