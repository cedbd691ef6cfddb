"""`design(problem, options)`: the one entry point of the design engine."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from territory.errors import InputError
from territory.optimize.contiguity import bridge_components, components
from territory.optimize.diagnose import diagnose_balance, diagnose_neighbourhoods
from territory.optimize.evaluate import measure
from territory.optimize.heuristic import run_heuristic, violation
from territory.optimize.pieces import diagnose_pieces
from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import DesignResult, InfeasibilityDiagnosis, TracePoint

__all__ = ["design"]

log = logging.getLogger(__name__)

#: ``method="auto"``: instances up to this many units get a feasibility proof
#: by the MIP (no objective) before the heuristic searches.
PROVE_MAX_UNITS = 40
#: The proof's time cap: this share of the time limit, at most PROVE_MAX_S.
PROVE_SHARE = 0.25
PROVE_MAX_S = 10.0
#: After a proof of infeasibility, the search for the least violating plan.
AFTER_PROOF_S = 2.0
#: The search for a piece of the map that cannot be balanced: this share of
#: the time limit, at most PIECES_MAX_S.
PIECES_SHARE = 0.05
PIECES_MAX_S = 2.0


def design(problem: DesignProblem, options: DesignOptions) -> DesignResult:
    """Partition the units of ``problem`` into ``options.n_territories`` territories.

    Feasibility comes first (every activity within its tolerance, every
    territory contiguous, locks, centres and disruption limits kept), then
    the objective is minimised until ``time_limit_s`` (or
    ``max_iterations``). Small instances (``method="exact"``, or ``auto`` up
    to ``exact_max_units`` units) go to the MIP, which proves optimality.

    Never raises for an infeasible request: the result has status
    ``infeasible`` (proven, with a ``diagnosis`` naming the units at fault) or
    ``time_limit`` (no feasible plan found in time), and its ``violations``
    say by how much each constraint is missed.
    """
    options.validate(problem)
    started = time.perf_counter()
    p = options.n_territories
    n = problem.n_units

    # separate pieces of the adjacency: bridge them or leave them out
    bridges: tuple[tuple[int, int], ...] = ()
    excluded: tuple[int, ...] = ()
    adjacency = problem.adjacency
    active = np.ones(n, dtype=bool)
    n_comp, comp = components(adjacency)
    if n_comp > 1:
        if options.islands == "bridge":
            bridging = bridge_components(adjacency, problem.coords, problem.distances)
            adjacency = bridging.adjacency
            bridges = bridging.bridges
            log.info("bridged %d separate pieces: %s", len(bridges), bridges)
        else:
            main = int(np.argmax(np.bincount(comp)))
            active = comp == main
            excluded = tuple(int(u) for u in np.flatnonzero(~active))
            pinned = set(excluded) & (
                set((options.locked or {}).keys())
                | {int(c) for c in (options.centers or []) if c >= 0}
            )
            if pinned:
                raise InputError(
                    f"units {sorted(pinned)} are locked or centres but lie outside the "
                    "largest component, which islands='exclude' leaves out — use "
                    "islands='bridge' or unlock them",
                    code="bad_lock",
                    details={"units": sorted(pinned)},
                )
            if int(active.sum()) < p:
                raise InputError(
                    f"only {int(active.sum())} units remain after excluding islands, "
                    f"fewer than {p} territories",
                    code="bad_territory_count",
                )
    solved = (
        problem
        if adjacency is problem.adjacency
        else dataclasses.replace(problem, adjacency=adjacency)
    )
    weights_active = np.where(active[:, None], problem.weights, 0.0)
    targets = DesignOptions.targets(
        options, dataclasses.replace(solved, weights=weights_active)
    )

    diagnosis = diagnose_balance(solved, options, targets)
    use_exact = options.method == "exact" or (
        options.method == "auto"
        and int(active.sum()) <= options.exact_max_units
        and not excluded
    )
    tolerances = problem.tolerances.copy()
    if diagnosis is not None:
        log.warning("%s", diagnosis.message)
        # search for the best plan the units allow: widen to the provable bound
        tolerances = np.maximum(tolerances, diagnosis.lower_bounds + 1e-6)
    elif not excluded and not use_exact:
        # big units whose neighbourhood leaves no balanced territory (the MIP
        # proves infeasibility itself)
        diagnosis = diagnose_neighbourhoods(
            solved, options, targets, budget_s=min(2.0, 0.1 * options.time_limit_s)
        )
        if diagnosis is not None:
            log.warning("%s", diagnosis.message)
            for s in diagnosis.stranded:
                tolerances = np.maximum(tolerances, np.abs(s.deviations) + 1e-6)
        else:
            # a piece of the map behind one unit that cannot be balanced (sparse
            # maps): the search still looks for the least violating plan
            diagnosis = diagnose_pieces(
                solved,
                options,
                targets,
                budget_s=min(PIECES_MAX_S, PIECES_SHARE * options.time_limit_s),
            )
            if diagnosis is not None:
                log.warning("%s", diagnosis.message)

    if use_exact:
        from territory.optimize.exact import solve_exact

        return solve_exact(
            solved,
            options,
            targets=targets,
            bridges=bridges,
            diagnosis=diagnosis,
            started=started,
        )

    # small instances: the MIP without objective says at once whether any
    # plan exists, so that a search that finds none is not mistaken for one
    # that ran out of time
    verdict, proof_plan = "unknown", None
    if (
        options.method == "auto"
        and diagnosis is None
        and not excluded
        and n <= PROVE_MAX_UNITS
    ):
        from territory.optimize.exact import prove_feasibility

        verdict, proof_plan = prove_feasibility(
            solved,
            options,
            targets,
            min(PROVE_MAX_S, PROVE_SHARE * options.time_limit_s),
        )
        log.info("feasibility proof on %d units: %s", n, verdict)
    deadline = None
    if verdict == "infeasible":
        # the plan only shows how close the units allow: a short search
        left = options.time_limit_s - (time.perf_counter() - started)
        deadline = time.perf_counter() + max(0.05, min(AFTER_PROOF_S, left))

    # a diagnosed request cannot be met: stop at the first plan within the
    # widened tolerances, which shows the tolerance the units allow
    labels, iterations, trace = run_heuristic(
        solved,
        options,
        targets,
        tolerances,
        active,
        started,
        stop_at_feasible=diagnosis is not None,
        deadline=deadline,
    )
    result = finish(
        solved,
        options,
        labels,
        targets=targets,
        bridges=bridges,
        excluded=excluded,
        diagnosis=diagnosis,
        method="heuristic",
        iterations=iterations,
        trace=trace,
        started=started,
        status="infeasible" if verdict == "infeasible" else None,
    )
    if result.status == "time_limit" and proof_plan is not None:
        # the search missed a plan the MIP found: return that one
        result = finish(
            solved,
            options,
            proof_plan,
            targets=targets,
            bridges=bridges,
            method="exact",
            iterations=iterations,
            trace=trace,
            started=started,
        )
    return result


def finish(
    problem: DesignProblem,
    options: DesignOptions,
    labels: np.ndarray,
    *,
    targets: np.ndarray,
    bridges: tuple[tuple[int, int], ...] = (),
    excluded: tuple[int, ...] = (),
    diagnosis: InfeasibilityDiagnosis | None = None,
    method: str = "heuristic",
    iterations: int = 0,
    trace: tuple[TracePoint, ...] = (),
    started: float | None = None,
    status: str | None = None,
    gap: float | None = None,
    lower_bound: float | None = None,
) -> DesignResult:
    """Measure ``labels`` and wrap them in a :class:`DesignResult`."""
    got = measure(problem, options, labels, targets=targets)
    violations = got["violations"]
    if diagnosis is not None:
        reached = np.abs(np.asarray(got["deviations"])).max(axis=0)
        diagnosis = dataclasses.replace(diagnosis, reached=reached)
        diagnosis = dataclasses.replace(
            diagnosis,
            message=diagnosis.message
            + "\nReached: "
            + ", ".join(
                f"{problem.activity_names[a]} ±{reached[a]:.2%}"
                for a in range(problem.n_activities)
            ),
        )
    if status is None:
        if diagnosis is not None:
            status = "infeasible"
        elif violations:
            status = "time_limit"
        else:
            status = "feasible"
    moved: dict[int, tuple[int, ...]] = {}
    if options.current_labels is not None:
        cur = np.asarray(options.current_labels)
        for k in range(options.n_territories):
            units = np.flatnonzero((labels == k) & (cur != k) & (cur >= 0))
            if units.size:
                moved[k] = tuple(int(u) for u in units)
    return DesignResult(
        labels=np.asarray(labels, dtype=np.int64),
        status=status,  # type: ignore[arg-type]
        objective=float(got["objective"]),  # type: ignore[arg-type]
        objective_name=options.objective,
        values=got["values"],  # type: ignore[arg-type]
        targets=got["targets"],  # type: ignore[arg-type]
        deviations=got["deviations"],  # type: ignore[arg-type]
        territory_cost=got["territory_cost"],  # type: ignore[arg-type]
        contiguous=got["contiguous"],  # type: ignore[arg-type]
        imbalance=float(got["imbalance"]),  # type: ignore[arg-type]
        violations=violations,  # type: ignore[arg-type]
        bridges=bridges,
        excluded=excluded,
        moved_units=moved,
        diagnosis=diagnosis,
        gap=gap,
        lower_bound=lower_bound,
        method=method,
        iterations=iterations,
        elapsed_s=0.0 if started is None else time.perf_counter() - started,
        trace=trace,
    )


_heuristic = run_heuristic
_violation = violation
