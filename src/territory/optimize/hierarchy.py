"""Hierarchical design: regions first, then territories inside each region."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from territory.errors import InputError
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import DesignResult
from territory.optimize.solve import design

__all__ = ["HierarchyResult", "design_hierarchy", "split_counts", "subproblem"]


@dataclass(frozen=True, eq=False)
class HierarchyResult:
    """Labels per level; ``levels[-1]`` are the territories.

    ``labels[i]`` is the ``(n,)`` label array of level ``i`` (level 0: the
    regions). ``parents[i]`` maps each group of level ``i + 1`` to its group
    of level ``i``. ``results`` keeps every design run, top level first.
    """

    labels: tuple[np.ndarray, ...]
    parents: tuple[np.ndarray, ...]
    results: tuple[DesignResult, ...]

    @property
    def territories(self) -> np.ndarray:
        """The territory of every unit (the last level)."""
        return self.labels[-1]


def split_counts(total: int, parts: int) -> np.ndarray:
    """Share ``total`` children as evenly as possible among ``parts`` parents."""
    base, extra = divmod(total, parts)
    return np.array([base + 1] * extra + [base] * (parts - extra), dtype=np.int64)


def subproblem(problem: DesignProblem, units: np.ndarray) -> DesignProblem:
    """The problem restricted to ``units`` (induced adjacency)."""
    units = np.asarray(units, dtype=np.int64)
    return DesignProblem(
        adjacency=problem.adjacency[units][:, units],
        weights=problem.weights[units],
        tolerances=problem.tolerances,
        coords=None if problem.coords is None else problem.coords[units],
        distances=None
        if problem.distances is None
        else problem.distances[np.ix_(units, units)],
        activity_names=problem.activity_names,
    )


def design_hierarchy(
    problem: DesignProblem, levels: Sequence[int], options: DesignOptions
) -> HierarchyResult:
    """Design ``levels`` (e.g. ``[4, 30]``: 4 regions holding 30 territories).

    Each level's count is the total at that level and must not decrease.
    A region holding ``c`` territories gets a target worth ``c`` territories,
    so territories are balanced against one global mean. The tolerances are
    split between the levels, ``(1 + t_upper) ** (levels - 1) * (1 + t_leaf)
    = 1 + t`` with ``t_upper = t / (2.5 (levels - 1))``, so every territory
    lands within ``t`` of the global mean. ``options`` applies
    to every run (its ``n_territories`` is ignored); the time limit is shared
    out by the number of runs. Locks, centres and the current plan are not
    supported here — pass them to :func:`design` level by level.
    """
    counts = [int(c) for c in levels]
    if (
        not counts
        or any(c < 1 for c in counts)
        or any(b < a for a, b in zip(counts, counts[1:], strict=False))
    ):
        raise InputError(
            f"levels must be non-decreasing positive counts, got {list(levels)}",
            code="bad_levels",
        )
    if (
        options.locked
        or options.centers is not None
        or options.current_labels is not None
    ):
        raise InputError(
            "hierarchical design does not take locks, centres or a current plan",
            code="bad_levels",
        )
    n = problem.n_units
    depth_count = len(counts)
    # children of every group, level by level, and the leaves under each group
    shares = [split_counts(counts[d + 1], counts[d]) for d in range(depth_count - 1)]
    leaves = [np.ones(counts[-1], dtype=np.int64)]
    for d in range(depth_count - 2, -1, -1):
        starts = np.r_[0, np.cumsum(shares[d])[:-1]]
        leaves.insert(0, np.add.reduceat(leaves[0], starts))
    runs = 1 + sum(counts[:-1])
    per_run = max(0.5, options.time_limit_s / runs)
    # split the tolerance so that a territory within its group's share stays
    # within the requested tolerance of the global mean:
    # (1 + t_upper) ** (levels - 1) * (1 + t_leaf) <= 1 + t
    tol = problem.tolerances
    tol_upper = tol / (2.5 * max(1, depth_count - 1))
    tol_leaf = (1 + tol) / (1 + tol_upper) ** (depth_count - 1) - 1

    def at_level(d: int, sub: DesignProblem) -> DesignProblem:
        t = tol_leaf if d == depth_count - 1 else tol_upper
        return dataclasses.replace(sub, tolerances=t)

    def weights_of(w: np.ndarray) -> np.ndarray | None:
        return None if np.all(w == w[0]) else w.astype(np.float64)

    top = design(
        at_level(0, problem),
        dataclasses.replace(
            options,
            n_territories=counts[0],
            time_limit_s=per_run,
            territory_weights=weights_of(leaves[0]),
        ),
    )
    labels: list[np.ndarray] = [top.labels]
    parents: list[np.ndarray] = []
    results: list[DesignResult] = [top]
    for depth in range(1, depth_count):
        above = labels[-1]
        share = shares[depth - 1]
        child = np.full(n, -1, dtype=np.int64)
        parent = np.repeat(np.arange(counts[depth - 1]), share)
        offset = 0
        for g in range(counts[depth - 1]):
            units = np.flatnonzero(above == g)
            k = int(share[g])
            if k == 1:
                child[units] = offset
                offset += k
                continue
            if units.size < k:
                raise InputError(
                    f"group {g} of level {depth - 1} has {units.size} units for {k} "
                    "groups below it — use fewer groups",
                    code="bad_levels",
                )
            run = design(
                at_level(depth, subproblem(problem, units)),
                dataclasses.replace(
                    options,
                    n_territories=k,
                    time_limit_s=per_run,
                    territory_weights=weights_of(leaves[depth][offset : offset + k]),
                ),
            )
            child[units] = offset + run.labels
            results.append(run)
            offset += k
        labels.append(child)
        parents.append(parent)
    return HierarchyResult(tuple(labels), tuple(parents), tuple(results))
