"""Domain invariants: ids, coordinates, hierarchy, lifecycle, splits."""

from __future__ import annotations

import pytest

from territory.domain import (
    Account,
    AccountId,
    GeoUnit,
    Membership,
    ModelState,
    OpportunitySplit,
    Quota,
    Territory,
    TerritoryModel,
    UnitId,
    UnitKind,
    check_hierarchy,
    check_transition,
)
from territory.domain.ids import ModelId, OpportunityId, RepId, TerritoryId
from territory.domain.opportunity import Opportunity
from territory.errors import Conflict, InputError


def test_postal_code_must_stay_text() -> None:
    acct = Account(id=AccountId("A1"), name="x", billing_postal_code="02134")
    assert acct.billing_postal_code == "02134"
    with pytest.raises(InputError, match="postal code must be text") as ei:
        Account(id=AccountId("A2"), name="x", billing_postal_code=2134)  # type: ignore[arg-type]
    assert ei.value.code == "postal_code_type"


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (91.0, 0.0, "bad_latitude"),
        (-33.0, 200.0, "bad_longitude"),
        (float("nan"), 0.0, "bad_latitude"),
    ],
)
def test_coordinates_out_of_range_are_rejected(
    lat: float, lon: float, code: str
) -> None:
    with pytest.raises(InputError) as ei:
        Account(id=AccountId("A1"), name="x", latitude=lat, longitude=lon)
    assert ei.value.code == code


def test_partial_coordinates_are_rejected() -> None:
    with pytest.raises(InputError, match="only one of latitude and longitude"):
        Account(id=AccountId("A1"), name="x", latitude=33.0)


def test_geo_unit_id_keeps_leading_zero() -> None:
    u = GeoUnit(
        id=UnitId("01001"),
        kind=UnitKind.COUNTY,
        name="Autauga",
        state="AL",
        centroid_lat=32.5,
        centroid_lon=-86.6,
    )
    assert u.id == "01001"


def test_hierarchy_accepts_tree_and_names_missing_parent() -> None:
    check_hierarchy({"R": None, "D": "R", "T": "D"})
    with pytest.raises(InputError, match="names parent 'X'") as ei:
        check_hierarchy({"R": None, "T": "X"})
    assert ei.value.details == {"territory": "T", "parent": "X"}


def test_hierarchy_cycle_is_named() -> None:
    with pytest.raises(InputError, match="cycle: A -> C -> B -> A") as ei:
        check_hierarchy({"A": "C", "B": "A", "C": "B"})
    assert ei.value.code == "territory_cycle"


def test_territory_cannot_parent_itself() -> None:
    with pytest.raises(InputError, match="names itself as its parent"):
        Territory(
            id=TerritoryId("T"),
            model_id=ModelId("m"),
            name="T",
            parent_id=TerritoryId("T"),
        )


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (ModelState.PLANNING, ModelState.ACTIVE, True),
        (ModelState.PLANNING, ModelState.ARCHIVED, True),
        (ModelState.ACTIVE, ModelState.ARCHIVED, True),
        (ModelState.ACTIVE, ModelState.ACTIVE, False),
        (ModelState.ARCHIVED, ModelState.ACTIVE, False),
        (ModelState.ARCHIVED, ModelState.PLANNING, False),
        (ModelState.ACTIVE, ModelState.PLANNING, False),
    ],
)
def test_model_transitions(current: ModelState, target: ModelState, ok: bool) -> None:
    if ok:
        check_transition("m", current, target)
    else:
        with pytest.raises(Conflict):
            check_transition("m", current, target)


def test_model_needs_a_name() -> None:
    with pytest.raises(InputError, match="non-empty name"):
        TerritoryModel(id=ModelId("m"), name="  ")


def test_membership_dates_must_be_ordered() -> None:
    from datetime import date

    with pytest.raises(InputError, match="ends .* before it starts"):
        Membership(
            model_id=ModelId("m"),
            territory_id=TerritoryId("T"),
            rep_id=RepId("R"),
            start_date=date(2027, 2, 1),
            end_date=date(2027, 1, 1),
        )


def test_splits_cannot_exceed_100_percent() -> None:
    with pytest.raises(InputError, match="add up to 110"):
        Opportunity(
            id=OpportunityId("O"),
            account_id=AccountId("A"),
            amount=1.0,
            stage="Open",
            splits=(
                OpportunitySplit(RepId("a"), 60.0),
                OpportunitySplit(RepId("b"), 50.0),
            ),
        )


def test_quota_has_exactly_one_owner() -> None:
    with pytest.raises(InputError, match="exactly one territory or one rep"):
        Quota(model_id=ModelId("m"), period="2027", amount=1.0)


@pytest.mark.parametrize(
    ("salesforce", "ours"),
    [
        ("Account.BillingState", "billing_state"),
        ("Account.BillingPostalCode", "billing_postal_code"),
        ("Account.NumberOfEmployees", "employees"),
        ("Account.BillingLatitude", "latitude"),
        ("Account.BillingLongitude", "longitude"),
        ("Account.Tier__c", "Tier__c"),
    ],
)
def test_rule_fields_resolve_both_ways(salesforce: str, ours: str) -> None:
    from territory.domain.rule import resolve_field, salesforce_field

    assert resolve_field(salesforce) == ours
    assert salesforce_field(ours) == salesforce


@pytest.mark.parametrize(
    ("state", "says"),
    [(ModelState.ACTIVE, "the active model"), (ModelState.ARCHIVED, "archived")],
)
def test_model_transition_to_its_own_state_says_nothing_changes(
    state: ModelState, says: str
) -> None:
    with pytest.raises(Conflict) as ei:
        check_transition("FY27", state, state)
    assert ei.value.message == f"Model 'FY27' is already {says}; nothing to change."
    assert ei.value.code == "model_state_unchanged"
