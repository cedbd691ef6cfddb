"""The design engine: balanced, contiguous, compact territories from arrays.

It speaks arrays only: a :class:`DesignProblem` (CSR adjacency, activity
weights, tolerances, coordinates or distances) and :class:`DesignOptions` in,
a :class:`DesignResult` with ``labels`` of shape ``(n_units,)`` out. See
``docs/design-engine.md``.
"""

from territory.optimize.diagnose import (
    OversizePlan,
    diagnose_balance,
    plan_oversize_units,
)
from territory.optimize.evaluate import measure
from territory.optimize.problem import DesignOptions, DesignProblem, ProgressCallback
from territory.optimize.result import (
    DesignResult,
    InfeasibilityDiagnosis,
    TracePoint,
    Violation,
)
from territory.optimize.solve import design

__all__ = [
    "DesignOptions",
    "DesignProblem",
    "DesignResult",
    "InfeasibilityDiagnosis",
    "OversizePlan",
    "ProgressCallback",
    "TracePoint",
    "Violation",
    "design",
    "diagnose_balance",
    "measure",
    "plan_oversize_units",
]
