"""Domain entities and their invariants, in the words of territory management."""

from territory.domain.account import ACCOUNT_FIELDS, Account, Placement
from territory.domain.assignment import AccountAssignment, Cause, UnitAssignment
from territory.domain.geo_unit import Contiguity, GeoUnit, UnitKind, check_lat_lon
from territory.domain.ids import (
    AccountId,
    ModelId,
    OpportunityId,
    RepId,
    RuleId,
    TerritoryId,
    TerritoryTypeId,
    UnitId,
)
from territory.domain.opportunity import (
    Opportunity,
    OpportunitySplit,
    Quota,
    SalesHistory,
)
from territory.domain.rep import Membership, Rep, Role
from territory.domain.territory import Territory, TerritoryType, check_hierarchy
from territory.domain.territory_model import (
    ModelState,
    TerritoryModel,
    check_transition,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "Account",
    "AccountAssignment",
    "AccountId",
    "Cause",
    "Contiguity",
    "GeoUnit",
    "Membership",
    "ModelId",
    "ModelState",
    "Opportunity",
    "OpportunityId",
    "OpportunitySplit",
    "Placement",
    "Quota",
    "Rep",
    "RepId",
    "Role",
    "RuleId",
    "SalesHistory",
    "Territory",
    "TerritoryId",
    "TerritoryModel",
    "TerritoryType",
    "TerritoryTypeId",
    "UnitAssignment",
    "UnitId",
    "UnitKind",
    "check_hierarchy",
    "check_lat_lon",
    "check_transition",
]
