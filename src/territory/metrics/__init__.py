"""Pure NumPy measures of territories: balance, compactness, contiguity, load.

Every function here takes and returns plain arrays or small frozen
dataclasses, so services, reports and comparisons can reuse them. Nothing in
this package touches the store, the terminal or the domain objects.
"""

from territory.metrics.allocation import OwnerAssignment, allocate_quota, assign_owners
from territory.metrics.balance import (
    BalanceIndices,
    balance_indices,
    coefficient_of_variation,
    gini,
    max_min_ratio,
)
from territory.metrics.compactness import (
    diameter_km,
    haversine_km,
    inertia_km,
    polsby_popper,
)
from territory.metrics.contiguity import count_pieces, is_contiguous
from territory.metrics.hierarchy import Hierarchy, build_hierarchy
from territory.metrics.load import (
    Segment,
    SegmentRule,
    TravelPolicy,
    WorkloadModel,
    account_hours,
    default_workload_model,
    segment_of,
)
from territory.metrics.performance import (
    attainment,
    penetration,
    pipeline_coverage,
    quota_met,
    utilisation,
)
from territory.metrics.period import Grain, Period, parse_period, roll_up, within
from territory.metrics.potential import (
    PotentialFormula,
    account_potential,
    market_index,
)

__all__ = [
    "BalanceIndices",
    "OwnerAssignment",
    "PotentialFormula",
    "Segment",
    "SegmentRule",
    "TravelPolicy",
    "WorkloadModel",
    "account_hours",
    "account_potential",
    "allocate_quota",
    "assign_owners",
    "default_workload_model",
    "market_index",
    "quota_met",
    "segment_of",
    "within",
    "Grain",
    "Hierarchy",
    "Period",
    "attainment",
    "balance_indices",
    "build_hierarchy",
    "coefficient_of_variation",
    "count_pieces",
    "diameter_km",
    "gini",
    "haversine_km",
    "inertia_km",
    "is_contiguous",
    "max_min_ratio",
    "parse_period",
    "penetration",
    "pipeline_coverage",
    "polsby_popper",
    "roll_up",
    "utilisation",
]
