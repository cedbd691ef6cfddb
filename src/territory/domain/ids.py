"""Distinct id types, so an account id is never passed where a territory id goes."""

from __future__ import annotations

from typing import NewType

__all__ = [
    "AccountId",
    "ModelId",
    "OpportunityId",
    "RepId",
    "RuleId",
    "TerritoryId",
    "TerritoryTypeId",
    "UnitId",
]

ModelId = NewType("ModelId", str)
TerritoryId = NewType("TerritoryId", str)
TerritoryTypeId = NewType("TerritoryTypeId", str)
UnitId = NewType("UnitId", str)
AccountId = NewType("AccountId", str)
RepId = NewType("RepId", str)
RuleId = NewType("RuleId", str)
OpportunityId = NewType("OpportunityId", str)
