"""What a design run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "DesignResult",
    "InfeasibilityDiagnosis",
    "StrandedUnit",
    "TracePoint",
    "Violation",
]

Status = Literal["optimal", "feasible", "infeasible", "time_limit"]


@dataclass(frozen=True)
class Violation:
    """One violated constraint.

    ``kind`` is ``balance`` (``territory``, ``activity``, ``amount`` = relative
    deviation beyond the tolerance), ``contiguity`` (``amount`` = number of
    extra pieces), ``disruption`` (``amount`` = share moved beyond the limit),
    ``lock`` or ``center``. ``units`` names the units involved, if any.
    """

    kind: str
    amount: float
    territory: int | None = None
    activity: int | None = None
    units: tuple[int, ...] = ()
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly mapping."""
        return {
            "kind": self.kind,
            "amount": self.amount,
            "territory": self.territory,
            "activity": self.activity,
            "units": list(self.units),
            "message": self.message,
        }


@dataclass(frozen=True)
class StrandedUnit:
    """A unit that no territory can hold within every tolerance (proven).

    Every connected set of units around ``unit`` that stays within the
    largest target was checked (``shapes`` of them): none is within every
    tolerance without cutting off a piece of the map too small to be a
    territory. ``closest`` is the shape that misses least, with its
    ``deviations`` (value / target - 1, one per activity).
    """

    unit: int
    closest: tuple[int, ...]
    deviations: tuple[float, ...]
    shapes: int

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly mapping."""
        return {
            "unit": self.unit,
            "closest": list(self.closest),
            "deviations": list(self.deviations),
            "shapes": self.shapes,
        }


@dataclass(frozen=True)
class CutOffPiece:
    """A piece of the map behind one unit that no contiguous plan can balance.

    ``units`` are cut off from the rest of the map by ``unit`` (removing it
    disconnects them); ``shares`` are their activity totals over a
    territory's target, one per activity. ``whole`` lists the numbers of
    whole territories those totals would allow inside the piece (the rest
    joining the territory of ``unit``); for each, no split of the piece is
    both balanced and connected (proven by a MIP).
    """

    unit: int
    units: tuple[int, ...]
    shares: tuple[float, ...]
    whole: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly mapping."""
        return {
            "unit": self.unit,
            "units": list(self.units),
            "shares": list(self.shares),
            "whole": list(self.whole),
        }


@dataclass(frozen=True)
class InfeasibilityDiagnosis:
    """Why the balance tolerances cannot all hold.

    ``oversize_units[a]`` lists the units whose activity ``a`` alone exceeds
    the largest territory target times ``1 + tol``. ``lower_bounds[a]`` is the
    provable smallest tolerance any plan can reach on activity ``a``
    (largest unit / target - 1, or 0); ``reached[a]`` is the worst deviation of
    the returned plan. ``stranded`` lists units that fit the targets but that
    no territory can hold within every tolerance, given their neighbours.
    ``cut_off`` is a piece of the map behind one unit that no contiguous
    plan can balance.
    """

    oversize_units: dict[int, tuple[int, ...]]
    lower_bounds: np.ndarray
    reached: np.ndarray
    message: str
    stranded: tuple[StrandedUnit, ...] = ()
    cut_off: CutOffPiece | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly mapping."""
        return {
            "oversize_units": {str(a): list(u) for a, u in self.oversize_units.items()},
            "lower_bounds": self.lower_bounds.tolist(),
            "reached": self.reached.tolist(),
            "message": self.message,
            "stranded": [s.as_dict() for s in self.stranded],
            "cut_off": None if self.cut_off is None else self.cut_off.as_dict(),
        }


@dataclass(frozen=True)
class TracePoint:
    """One improvement of the best plan during the run."""

    elapsed_s: float
    objective: float
    imbalance: float


@dataclass(frozen=True, eq=False)
class DesignResult:
    """The plan and everything measured about it.

    ``labels[u]`` is the territory of unit ``u`` (``-1`` only for units left
    out with ``islands="exclude"``, listed in ``excluded``). ``values`` and
    ``targets`` are ``(p, m)``; ``deviations = values / targets - 1``.
    ``territory_cost`` is each territory's diameter (or radius, or moment);
    ``objective`` aggregates it (max, or sum for ``moment``). ``imbalance`` is
    the sum over territories and activities of the deviation beyond the
    tolerance. ``gap`` and ``lower_bound`` come from the exact mode.
    """

    labels: np.ndarray
    status: Status
    objective: float
    objective_name: str
    values: np.ndarray
    targets: np.ndarray
    deviations: np.ndarray
    territory_cost: np.ndarray
    contiguous: np.ndarray
    imbalance: float
    violations: tuple[Violation, ...] = ()
    bridges: tuple[tuple[int, int], ...] = ()
    excluded: tuple[int, ...] = ()
    moved_units: dict[int, tuple[int, ...]] = field(default_factory=dict)
    diagnosis: InfeasibilityDiagnosis | None = None
    gap: float | None = None
    lower_bound: float | None = None
    method: str = "heuristic"
    iterations: int = 0
    elapsed_s: float = 0.0
    trace: tuple[TracePoint, ...] = ()

    @property
    def feasible(self) -> bool:
        """True when no constraint is violated."""
        return not self.violations

    @property
    def n_territories(self) -> int:
        """Number of territories."""
        return int(self.values.shape[0])

    def summary(self) -> dict[str, Any]:
        """Return the headline numbers as a JSON-friendly mapping."""
        return {
            "status": self.status,
            "objective": self.objective,
            "objective_name": self.objective_name,
            "imbalance": self.imbalance,
            "max_abs_deviation": np.abs(self.deviations).max(axis=0).tolist(),
            "contiguous": bool(self.contiguous.all()),
            "violations": [v.as_dict() for v in self.violations],
            "bridges": [list(b) for b in self.bridges],
            "excluded": list(self.excluded),
            "moved_units": {str(k): len(v) for k, v in self.moved_units.items()},
            "gap": self.gap,
            "method": self.method,
            "elapsed_s": self.elapsed_s,
            "diagnosis": None if self.diagnosis is None else self.diagnosis.as_dict(),
        }
