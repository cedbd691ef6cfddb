"""The design problem and the options of one run, as plain arrays.

A :class:`DesignProblem` describes the units to partition: their adjacency
(CSR, symmetric), their activities ``weights`` of shape ``(n_units,
n_activities)``, one relative balance tolerance per activity, and either planar
coordinates (``coords``, e.g. km) or a dense matrix of pairwise
``distances``. :class:`DesignOptions` holds everything that varies per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp

from territory.errors import InputError

__all__ = ["DesignOptions", "DesignProblem", "ProgressCallback"]

ProgressCallback = Callable[[float, float, float], None]
"""Called as ``progress(best_objective, imbalance, elapsed_s)`` during a run."""

Objective = Literal["diameter", "moment", "pcenter"]
#: Largest instance ``method="exact"`` accepts.
EXACT_LIMIT_UNITS = 200


def _as_csr(adjacency: object, n: int) -> sp.csr_array:
    mat = sp.csr_array(adjacency, dtype=np.float64)
    if mat.shape != (n, n):
        raise InputError(
            f"adjacency has shape {mat.shape}, expected ({n}, {n}) to match the "
            "weights — give one row and one column per unit",
            code="bad_adjacency",
            details={"shape": list(mat.shape), "n_units": n},
        )
    mat = sp.csr_array(((mat + mat.T) != 0).astype(np.int8))
    mat.setdiag(0)
    mat.eliminate_zeros()
    mat.sort_indices()
    return mat


@dataclass(frozen=True, eq=False)
class DesignProblem:
    """Units to partition into territories.

    Parameters
    ----------
    adjacency
        ``(n, n)`` sparse or dense matrix; any non-zero means the two units
        touch. It is symmetrised, and the diagonal is dropped.
    weights
        ``(n, m)`` non-negative activities (population, accounts, workload...).
        A 1-D array is read as one activity.
    tolerances
        ``(m,)`` relative tolerance per activity: territory ``k`` is balanced on
        activity ``a`` when ``|w_a(k) - target_a(k)| <= tol_a * target_a(k)``.
    coords
        ``(n, 2)`` planar coordinates in a metric unit (km); distances are
        Euclidean. Either this or ``distances`` is required.
    distances
        ``(n, n)`` dense pairwise distances (e.g. shortest paths). Takes
        precedence over ``coords`` for the objective.
    activity_names
        Optional names used in messages, one per activity.
    """

    adjacency: sp.csr_array
    weights: np.ndarray
    tolerances: np.ndarray
    coords: np.ndarray | None = None
    distances: np.ndarray | None = None
    activity_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # C-contiguous float64, the one layout the compiled search is built for
        w = np.ascontiguousarray(self.weights, dtype=np.float64)
        if w.ndim == 1:
            w = np.ascontiguousarray(w[:, None])
        if w.ndim != 2 or w.shape[0] == 0:
            raise InputError(
                "weights must have shape (n_units, n_activities) with at least one "
                "unit",
                code="bad_weights",
                details={"shape": list(np.shape(self.weights))},
            )
        n, m = w.shape
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            bad = np.flatnonzero(~np.isfinite(w).all(axis=1) | (w < 0).any(axis=1))
            raise InputError(
                f"{bad.size} unit(s) have a negative or missing activity value "
                f"(first unit index {int(bad[0])}) — fix the values or set them to 0",
                code="bad_weights",
                details={"units": bad[:50].tolist()},
            )
        tol = np.broadcast_to(np.asarray(self.tolerances, dtype=np.float64), (m,))
        if np.any(tol < 0) or not np.all(np.isfinite(tol)):
            raise InputError(
                "tolerances must be finite and >= 0, one per activity",
                code="bad_tolerance",
                details={"tolerances": tol.tolist()},
            )
        coords = None
        if self.coords is not None:
            coords = np.ascontiguousarray(self.coords, dtype=np.float64)
            if coords.shape != (n, 2) or not np.all(np.isfinite(coords)):
                raise InputError(
                    f"coords must be a finite ({n}, 2) array of planar x, y",
                    code="bad_coords",
                    details={"shape": list(coords.shape)},
                )
        dist = None
        if self.distances is not None:
            dist = np.ascontiguousarray(self.distances, dtype=np.float64)
            if dist.shape != (n, n) or not np.all(np.isfinite(dist)):
                raise InputError(
                    f"distances must be a finite ({n}, {n}) matrix",
                    code="bad_distances",
                    details={"shape": list(dist.shape)},
                )
        if coords is None and dist is None:
            raise InputError(
                "the problem needs unit coordinates or a distance matrix to "
                "measure compactness — pass coords=(n, 2) or distances=(n, n)",
                code="missing_geometry",
            )
        names = tuple(self.activity_names) or tuple(f"activity_{a}" for a in range(m))
        if len(names) != m:
            raise InputError(
                f"{len(names)} activity names given for {m} activities",
                code="bad_weights",
            )
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "tolerances", np.array(tol))
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "distances", dist)
        object.__setattr__(self, "adjacency", _as_csr(self.adjacency, n))
        object.__setattr__(self, "activity_names", names)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return int(self.weights.shape[0])

    @property
    def n_activities(self) -> int:
        """Number of balanced activities."""
        return int(self.weights.shape[1])

    @classmethod
    def from_edges(
        cls,
        n_units: int,
        edges: Sequence[tuple[int, int]] | np.ndarray,
        weights: np.ndarray,
        tolerances: Sequence[float] | np.ndarray | float,
        *,
        coords: np.ndarray | None = None,
        distances: np.ndarray | None = None,
        activity_names: Sequence[str] = (),
    ) -> DesignProblem:
        """Build a problem from an edge list ``[(u, v), ...]`` of unit indices."""
        e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        if e.size and (e.min() < 0 or e.max() >= n_units):
            raise InputError(
                f"edge list names a unit outside 0..{n_units - 1}",
                code="bad_adjacency",
            )
        data = np.ones(e.shape[0], dtype=np.int8)
        adj = sp.csr_array((data, (e[:, 0], e[:, 1])), shape=(n_units, n_units))
        return cls(
            adjacency=adj,
            weights=weights,
            tolerances=np.asarray(tolerances, dtype=np.float64),
            coords=coords,
            distances=distances,
            activity_names=tuple(activity_names),
        )

    def distance(self, i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
        """Distance between units ``i`` and ``j`` (broadcasting)."""
        if self.distances is not None:
            return np.asarray(self.distances[i, j])
        assert self.coords is not None
        d = self.coords[i] - self.coords[j]
        return np.asarray(np.sqrt((d * d).sum(axis=-1)))


@dataclass(frozen=True)
class DesignOptions:
    """Everything one design run may vary.

    Parameters
    ----------
    n_territories
        Number of territories ``p``.
    objective
        ``diameter`` (largest distance between two units of one territory,
        maximised over territories; the default), ``pcenter`` (largest
        distance from a territory's centre unit to its units) or ``moment``
        (sum over territories of squared distances to the centre unit).
    seed
        Seed of the run; a fixed seed and ``max_iterations`` give byte-identical
        labels.
    time_limit_s
        Wall-clock budget; the best plan found so far is returned when it ends.
    max_iterations
        Optional budget of local-search moves (for reproducible runs).
    method
        ``auto`` uses the exact MIP up to ``exact_max_units`` units and the
        heuristic above; ``exact`` and ``heuristic`` force one.
    islands
        ``bridge`` (default) joins each separate component of the adjacency to
        the rest through its closest pair of units; ``exclude`` leaves the
        units outside the largest component unassigned (label -1). Both are
        reported in the result.
    contiguity
        Whether every territory must be one connected piece.
    centers
        One unit index per territory (``-1``: free) that the territory must
        contain and grows around.
    locked
        ``{unit_index: territory}`` pins.
    current_labels
        The existing plan, ``(n,)`` territory per unit (``-1``: unassigned);
        the run starts from it and reports moved units.
    max_disruption
        Largest share of each activity's total that may change territory.
    max_disruption_per_territory
        Largest share of each territory's current activity that may leave it.
    territory_weights
        ``(p,)`` target multipliers: territory ``k`` aims at
        ``total * w_k / sum(w)`` (a territory worth 3 reps has weight 3).
    progress
        Callback ``(best_objective, imbalance, elapsed_s)``.
    exact_max_units
        Largest instance ``auto`` sends to the MIP.
    tie_break
        ``moment`` (default): among plans with the same objective, prefer the
        one whose territories are most compact overall (the smallest sum over
        territories of squared distances to their centroid), and make every
        new best plan as compact as that allows; ``none`` searches the
        objective alone. Not used by the ``moment`` objective.
    stop_when_stalled
        Stop before the time limit once the best plan has not improved for
        this share of the time spent so far (and at least 5 s): 0.5 after
        40 s stops at the earliest 20 s after the last improvement. ``None``
        (default) searches the whole budget. Ignored with
        ``max_iterations``, which must give the same plan on every machine.
    """

    n_territories: int
    objective: Objective = "diameter"
    seed: int | np.random.Generator | None = 0
    time_limit_s: float = 60.0
    max_iterations: int | None = None
    method: Literal["auto", "heuristic", "exact"] = "auto"
    islands: Literal["bridge", "exclude"] = "bridge"
    contiguity: bool = True
    centers: Sequence[int] | None = None
    locked: Mapping[int, int] | None = None
    current_labels: np.ndarray | None = None
    max_disruption: float | None = None
    max_disruption_per_territory: float | None = None
    territory_weights: Sequence[float] | np.ndarray | None = None
    progress: ProgressCallback | None = field(default=None, compare=False)
    exact_max_units: int = 16
    tie_break: Literal["moment", "none"] = "moment"
    stop_when_stalled: float | None = None

    def validate(self, problem: DesignProblem) -> None:
        """Raise :class:`~territory.errors.InputError` if the options do not fit."""
        n, p = problem.n_units, self.n_territories
        if p < 1 or p > n:
            raise InputError(
                f"cannot make {p} territories from {n} units — choose between 1 "
                f"and {n}",
                code="bad_territory_count",
                details={"n_territories": p, "n_units": n},
            )
        if self.objective not in ("diameter", "moment", "pcenter"):
            raise InputError(
                f"unknown objective {self.objective!r} — use diameter, moment "
                "or pcenter",
                code="bad_objective",
            )
        if self.time_limit_s <= 0:
            raise InputError("time_limit_s must be > 0", code="bad_time_limit")
        if self.method not in ("auto", "exact", "heuristic"):
            raise InputError(
                f"unknown method {self.method!r} — use auto, exact or heuristic",
                code="bad_method",
            )
        if self.method == "exact" and n > EXACT_LIMIT_UNITS:
            raise InputError(
                f"the exact MIP is for small instances (at most {EXACT_LIMIT_UNITS} "
                f"units; its diameter rows grow as units squared times territories), "
                f"and this one has {n} units — use method auto or heuristic",
                code="bad_method",
                details={"n_units": n, "limit": EXACT_LIMIT_UNITS},
            )
        if self.tie_break not in ("moment", "none"):
            raise InputError(
                f"unknown tie_break {self.tie_break!r} — use moment or none",
                code="bad_objective",
            )
        if self.stop_when_stalled is not None and self.stop_when_stalled <= 0:
            raise InputError(
                "stop_when_stalled must be a positive share of the time spent",
                code="bad_time_limit",
            )
        if self.centers is not None:
            c = np.asarray(self.centers, dtype=np.int64)
            if c.shape != (p,) or np.any(c >= n) or np.any(c < -1):
                raise InputError(
                    f"centers must give one unit index (or -1) for each of the {p} "
                    "territories",
                    code="bad_centers",
                    details={"centers": c.tolist()},
                )
            used = c[c >= 0]
            if np.unique(used).size != used.size:
                raise InputError(
                    "two territories share one centre unit — give each its own",
                    code="bad_centers",
                    details={"centers": c.tolist()},
                )
        for unit, terr in (self.locked or {}).items():
            if not (0 <= int(unit) < n) or not (0 <= int(terr) < p):
                raise InputError(
                    f"locked unit {unit} -> territory {terr} is out of range "
                    f"(units 0..{n - 1}, territories 0..{p - 1})",
                    code="bad_lock",
                    details={"unit": int(unit), "territory": int(terr)},
                )
        if self.centers is not None and self.locked:
            for k, c in enumerate(np.asarray(self.centers)):
                if c >= 0 and int(self.locked.get(int(c), k)) != k:
                    raise InputError(
                        f"unit {int(c)} is the centre of territory {k} but locked "
                        f"to territory {self.locked[int(c)]}",
                        code="bad_lock",
                    )
        if self.current_labels is not None:
            cur = np.asarray(self.current_labels)
            if cur.shape != (n,) or np.any(cur >= p) or np.any(cur < -1):
                raise InputError(
                    f"current_labels must be ({n},) territory indices in -1..{p - 1}",
                    code="bad_current_labels",
                )
        for name in ("max_disruption", "max_disruption_per_territory"):
            val = getattr(self, name)
            if val is not None:
                if not 0 <= val <= 1:
                    raise InputError(
                        f"{name} must be a share in [0, 1]", code="bad_disruption"
                    )
                if self.current_labels is None:
                    raise InputError(
                        f"{name} needs current_labels, the plan to measure "
                        "disruption against",
                        code="bad_disruption",
                    )
        if self.territory_weights is not None:
            tw = np.asarray(self.territory_weights, dtype=np.float64)
            if tw.shape != (p,) or np.any(tw <= 0):
                raise InputError(
                    f"territory_weights must be {p} positive multipliers",
                    code="bad_territory_weights",
                    details={"territory_weights": tw.tolist()},
                )

    def targets(self, problem: DesignProblem) -> np.ndarray:
        """Return the ``(p, m)`` target activity of every territory."""
        p = self.n_territories
        total = problem.weights.sum(axis=0)
        if self.territory_weights is None:
            share = np.full(p, 1.0 / p)
        else:
            tw = np.asarray(self.territory_weights, dtype=np.float64)
            share = tw / tw.sum()
        return np.asarray(share[:, None] * total[None, :])
