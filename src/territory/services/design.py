"""Design territories on the store's units and save them as a planning model.

One call, :func:`design_territories`, does the whole use case:

1. **load** the units of one level (counties, ZIPs or accounts) in the chosen
   states, their activities, adjacency and planar locations
   (:mod:`territory.services.design_inputs`);
2. **encode** them into a :class:`~territory.optimize.DesignProblem` through
   one :class:`~territory.services.encoding.Encoding`, with the fixed
   centres, locked units and current plan (``from_model``) as indices;
3. **diagnose** balance at once: units too big for the tolerance are named,
   with the provable lower bound, before any search starts;
4. **solve** with :func:`territory.optimize.design` (or, for ``levels``,
   regions first and then territories inside each region);
5. **decode** the labels (every unit exactly once) and **save** in one
   transaction: a new ``planning`` model, its territories, unit assignments
   and account assignments (cause ``design``, source = the design run id),
   the ``design_run`` row and the audit rows. Accounts with a manual
   assignment in the base model, and accounts excluded from realignment, keep
   what they had.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    String,
    and_,
    delete,
    func,
    insert,
    literal,
    select,
)

from territory.domain import ModelState
from territory.errors import (
    Conflict,
    ConvergenceError,
    InfeasibleError,
    InputError,
    InternalError,
)
from territory.io.usdata import parse_states
from territory.metrics.contiguity import is_contiguous
from territory.optimize import (
    DesignOptions,
    DesignProblem,
    DesignResult,
    design,
    diagnose_balance,
    measure,
    plan_oversize_units,
)
from territory.optimize.contiguity import bridge_components
from territory.optimize.pieces import explain_cut_off
from territory.optimize.problem import EXACT_LIMIT_UNITS
from territory.services.design_carry import (
    carry_hierarchy,
    carry_memberships,
    carry_overlay_assignments,
    carry_overlay_territories,
    overlay_territories,
)
from territory.services.design_inputs import (
    EARTH_RADIUS_KM,
    UnitAdjacency,
    Units,
    read_activities,
    read_centers_file,
    read_lock_file,
    read_unit_adjacency,
    read_units,
)
from territory.services.design_locks import refuse_overfull_locks
from territory.services.encoding import Encoding
from territory.services.models import create_model_in, resolve_model
from territory.services.workload import load_workload_config
from territory.storage.audit import AuditEntry, record
from territory.storage.bulk import insert_columns
from territory.storage.repositories.model import CLONED_TABLES, ModelRepository
from territory.storage.tables import (
    account,
    account_assignment,
    audit_log,
    design_run,
    quota,
    territory,
    territory_model,
    unit_assignment,
)

__all__ = [
    "DesignReport",
    "DesignRequest",
    "TerritorySummary",
    "design_territories",
    "parse_balance",
]

log = logging.getLogger(__name__)

#: ``notify(message)``: what the run found out before the search ends.
Notify = Callable[[str], None]
#: ``progress(best_objective, imbalance, elapsed_s)`` during the search.
Progress = Callable[[float, float, float], None]

_OVERSIZE = ("refuse", "own-territory")


def parse_balance(
    items: Sequence[str], option: str = "--balance"
) -> tuple[tuple[str, float], ...]:
    """Parse ``["population=0.05", ...]`` into ``(("population", 0.05), ...)``.

    Raises
    ------
    InputError
        When an item is not ``name=number`` or a name repeats.
    """
    out: list[tuple[str, float]] = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number) or number < 0:
            raise InputError(
                f"{option} {item!r} is not NAME=NUMBER with a number >= 0, e.g. "
                f"{option} population=0.05.",
                code="bad_option",
                details={"option": option, "value": item},
            )
        if any(n == name for n, _ in out):
            raise InputError(
                f"{option} names '{name}' twice; give each activity once.",
                code="bad_option",
                details={"option": option, "value": item},
            )
        out.append((name, number))
    return tuple(out)


@dataclass(frozen=True)
class DesignRequest:
    """Everything the user asked of one design run.

    ``balance`` pairs each activity with its relative tolerance (0.05 =
    ±5 %). Either ``n_territories``, ``capacity`` (activity per territory,
    e.g. ``(("population", 11e6),)``) or ``from_model`` fixes the number of
    territories; ``levels = (regions, territories)`` designs regions first.
    ``oversize="own-territory"`` gives each unit too big for the tolerance a
    territory of its own that counts as several reps' worth.
    ``workload_file`` is the YAML file that overrides the workload and
    potential defaults for the ``potential`` and ``workload`` activities.
    """

    model: str
    balance: tuple[tuple[str, float], ...]
    n_territories: int | None = None
    states: tuple[str, ...] | None = None
    level: str = "county"
    contiguity: str = "queen"
    objective: str = "diameter"
    centers_file: Path | None = None
    lock_file: Path | None = None
    from_model: str | None = None
    max_disruption: float | None = None
    max_disruption_per_territory: float | None = None
    levels: tuple[int, int] | None = None
    capacity: tuple[tuple[str, float], ...] = ()
    islands: str = "bridge"
    oversize: str = "refuse"
    seed: int = 0
    time_limit_s: float = 60.0
    max_iterations: int | None = None
    method: str = "auto"
    replace: bool = False
    description: str = ""
    workload_file: Path | None = None

    def parameters(self) -> dict[str, Any]:
        """Return the request as a JSON-friendly mapping (stored on the run)."""
        out = dataclasses.asdict(self)
        for key in ("centers_file", "lock_file", "workload_file"):
            if out[key] is not None:
                out[key] = str(out[key])
        out["balance"] = dict(self.balance)
        out["capacity"] = dict(self.capacity)
        out["states"] = list(self.states) if self.states else None
        out["levels"] = list(self.levels) if self.levels else None
        return out


@dataclass(frozen=True)
class TerritorySummary:
    """One saved territory: its units, activities and shape.

    ``values``, ``targets`` and ``deviations`` are keyed by activity;
    ``deviations`` are relative (0.031 = +3.1 %). ``reps`` is how many reps'
    worth the territory counts for (1 unless an oversize unit fills it).
    """

    id: str
    name: str
    parent_id: str | None
    n_units: int
    values: dict[str, float]
    targets: dict[str, float]
    deviations: dict[str, float]
    diameter_km: float
    contiguous: bool
    reps: int = 1
    n_moved_units: int = 0
    n_accounts: int = 0


@dataclass(frozen=True)
class DesignReport:
    """What a design run did, in the store's ids.

    ``assignment`` maps every unit id to its territory id (units left out
    with ``islands="exclude"`` are in ``excluded`` instead). ``bridges`` are
    the ``(unit, unit, km)`` links added to join separate pieces;
    ``merged_locations`` the groups of units that share a location.
    ``moved_units`` lists, per territory, the units that joined it from
    another territory of the ``from`` model.
    """

    model_id: str
    model_name: str
    run_id: str
    level: str
    status: str
    objective_name: str
    objective: float
    activities: tuple[str, ...]
    tolerances: tuple[float, ...]
    territories: tuple[TerritorySummary, ...]
    regions: tuple[TerritorySummary, ...]
    assignment: dict[str, str]
    unit_names: dict[str, str]
    bridges: tuple[tuple[str, str, float], ...]
    excluded: tuple[str, ...]
    merged_locations: tuple[tuple[str, ...], ...]
    moved_units: dict[str, tuple[str, ...]]
    oversize: tuple[tuple[str, int], ...]
    adjacency_source: str
    n_accounts_designed: int
    n_accounts_kept: int
    n_accounts_outside: int
    notes: dict[str, int]
    diagnosis: str | None
    solve_s: float
    elapsed_s: float
    trace: tuple[tuple[float, float, float], ...] = ()
    max_abs_deviation: dict[str, float] = field(default_factory=dict)
    states: tuple[str, ...] = ()
    read_s: float = 0.0
    save_s: float = 0.0

    @property
    def contiguous(self) -> bool:
        """True when every territory is one connected piece."""
        return all(t.contiguous for t in self.territories)

    @property
    def max_diameter_km(self) -> float:
        """The widest territory's diameter."""
        return max((t.diameter_km for t in self.territories), default=0.0)


# --------------------------------------------------------------------- checks


def _check_request(req: DesignRequest) -> None:
    if not req.model.strip():
        raise InputError("Name the new model with --model NAME.", code="model_name")
    if not req.balance:
        raise InputError(
            "Say what to balance, e.g. --balance population=0.05.",
            code="no_balance",
        )
    if req.oversize not in _OVERSIZE:
        raise InputError(
            f"--oversize {req.oversize!r} is not known; use refuse or own-territory.",
            code="bad_option",
        )
    if req.method not in ("auto", "exact", "heuristic"):
        raise InputError(
            f"--method {req.method!r} is not known; use auto, exact or heuristic.",
            code="bad_option",
        )
    if req.islands not in ("bridge", "exclude"):
        raise InputError(
            f"--islands {req.islands!r} is not known; use bridge or exclude.",
            code="bad_option",
        )
    sizes = [req.n_territories is not None, bool(req.capacity), req.levels is not None]
    if sum(sizes) > 1 and not (
        req.levels is not None and req.n_territories in (None, req.levels[1])
    ):
        raise InputError(
            "Give the number of territories one way: --territories, --capacity or "
            "--levels.",
            code="bad_option",
        )
    if req.n_territories is not None and req.n_territories < 1:
        raise InputError("--territories must be at least 1.", code="bad_option")
    if req.levels is not None:
        r, p = req.levels
        if r < 1 or p < r:
            raise InputError(
                f"--levels {r},{p} needs 1 <= regions <= territories, e.g. --levels "
                "4,30.",
                code="bad_option",
            )
        if (
            req.centers_file
            or req.lock_file
            or req.from_model
            or (req.islands != "bridge")
        ):
            raise InputError(
                "--levels cannot be combined with --centers, --lock, --from or "
                "--islands exclude yet; design regions and territories in one level "
                "instead.",
                code="bad_option",
            )
    if (
        req.max_disruption is not None or req.max_disruption_per_territory is not None
    ) and req.from_model is None:
        raise InputError(
            "--max-disruption measures change against a current plan; name it with "
            "--from MODEL.",
            code="bad_option",
        )
    if req.oversize == "own-territory" and (
        req.centers_file or req.lock_file or req.from_model or req.levels
    ):
        raise InputError(
            "--oversize own-territory cannot be combined with --centers, --lock, "
            "--from or --levels yet.",
            code="bad_option",
        )


def _check_model_name(conn: Connection, req: DesignRequest) -> Any:
    existing = ModelRepository(conn).get_by_name(req.model.strip())
    if existing is None:
        return None
    if not req.replace:
        raise Conflict(
            f"A territory model named '{req.model}' already exists; choose another "
            "--model name, or add --replace to design it anew.",
            code="model_exists",
            details={"model": req.model},
        )
    if existing.state is not ModelState.PLANNING:
        raise Conflict(
            f"Model '{req.model}' is {existing.state.value}; only a planning model "
            "can be replaced. Clone it or pick another name.",
            code="model_not_planning",
            details={"model": req.model, "state": existing.state.value},
        )
    if req.from_model is not None and req.from_model.strip() in (
        existing.name,
        existing.id,
    ):
        raise InputError(
            f"--from {req.from_model} is the model being replaced; design into a new "
            "--model name instead.",
            code="bad_option",
        )
    return existing


# ------------------------------------------------------------------- encoding


def _haversine_km(
    lat: float, lon: float, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    p1, p2 = math.radians(lat), np.radians(lats)
    dphi = p2 - p1
    dl = np.radians(lons - lon)
    h = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, h))))


#: A snapped centre is "far" beyond this many km, or beyond its unit's reach.
FAR_CENTRE_MIN_KM = 25.0


def _unit_reach_km(units: Units, pairs: npt.NDArray[np.int64], u: int) -> float:
    """How far a point may lie from unit ``u``'s centroid and still be in it.

    The largest distance from ``u``'s centroid to a neighbouring unit's
    centroid (a point farther away than every neighbour's centroid is not
    inside ``u``), and at least :data:`FAR_CENTRE_MIN_KM`.
    """
    nbrs = np.concatenate(
        [pairs[pairs[:, 0] == u, 1], pairs[pairs[:, 1] == u, 0]]
    ).astype(np.int64)
    if nbrs.size == 0:
        return FAR_CENTRE_MIN_KM
    d = _haversine_km(
        float(units.lat[u]), float(units.lon[u]), units.lat[nbrs], units.lon[nbrs]
    )
    return max(FAR_CENTRE_MIN_KM, float(d.max()))


@dataclass
class _Current:
    territory_ids: list[str]
    names: dict[str, str]
    assignment: dict[str, str]


def _read_current(conn: Connection, name: str, units: Units) -> _Current:
    model = resolve_model(conn, name)
    if units.level == "account":
        rows = conn.execute(
            select(account_assignment.c.account_id, account_assignment.c.territory_id)
            .where(account_assignment.c.model_id == model.id)
            .order_by(
                account_assignment.c.account_id, account_assignment.c.territory_id
            )
        ).all()
    else:
        rows = conn.execute(
            select(unit_assignment.c.unit_id, unit_assignment.c.territory_id).where(
                unit_assignment.c.model_id == model.id,
                unit_assignment.c.unit_kind == units.level,
            )
        ).all()
    assignment: dict[str, str] = {}
    for u, t in rows:
        assignment.setdefault(str(u), str(t))
    if not assignment:
        raise InputError(
            f"Model '{model.name}' assigns no {units.level} units, so it cannot be "
            f"the current plan; design it at its own level or pick another --from.",
            code="from_model_empty",
            details={"model": model.name, "level": units.level},
        )
    names = dict(
        conn.execute(
            select(territory.c.id, territory.c.name).where(
                territory.c.model_id == model.id
            )
        ).all()
    )
    used = sorted({t for u, t in assignment.items() if u in set(units.ids)})
    return _Current(used, names, assignment)


def _territory_ids(p: int, named: Sequence[str], prefix: str = "T") -> list[str]:
    if len(named) > p:
        raise InputError(
            f"{len(named)} territories are named (by --from, --centers or --lock) "
            f"but only {p} are asked for; ask for at least {len(named)} with "
            "--territories.",
            code="too_many_named_territories",
            details={"named": list(named)},
        )
    taken = set(named)
    out = list(named)
    width = max(2, len(str(p)))
    k = 1
    while len(out) < p:
        cand = f"{prefix}{k:0{width}d}"
        if cand not in taken:
            out.append(cand)
            taken.add(cand)
        k += 1
    return out


def _sized(
    req: DesignRequest, names: Sequence[str], weights: npt.NDArray[np.float64]
) -> int | None:
    if req.levels is not None:
        return req.levels[1]
    if req.n_territories is not None:
        return req.n_territories
    if req.capacity:
        p = 1
        for metric, cap in req.capacity:
            if metric not in names:
                raise InputError(
                    f"--capacity {metric}={cap:g} names an activity that is not "
                    f"balanced; add --balance {metric}=TOL or size on one of "
                    f"{', '.join(names)}.",
                    code="bad_option",
                )
            if cap <= 0:
                raise InputError("--capacity must be > 0.", code="bad_option")
            total = float(weights[:, list(names).index(metric)].sum())
            p = max(p, math.ceil(total / cap - 1e-9))
        return p
    return None


# ---------------------------------------------------------------- diagnosis


def _describe_units(
    units: Units,
    idx: Sequence[int],
    w: npt.NDArray[np.float64],
    target: float,
    limit: int = 10,
) -> str:
    parts = []
    for u in list(idx)[:limit]:
        st = f", {units.state[u]}" if units.state[u] else ""
        parts.append(
            f"{units.names[u]}{st} ({units.ids[u]}: {w[u]:,.0f} = "
            f"{w[u] / target:.2f}x the target)"
        )
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return "; ".join(parts) + more


def _diagnosis_text(
    problem: DesignProblem,
    options: DesignOptions,
    units: Units,
    diag: Any,
    targets: npt.NDArray[np.float64],
) -> str:
    lines = []
    cap = targets.max(axis=0)
    for a, big in sorted(diag.oversize_units.items()):
        name = problem.activity_names[a]
        lines.append(
            f"{name} ±{problem.tolerances[a]:.2%} is impossible with "
            f"{options.n_territories} territories: {len(big)} unit(s) alone exceed "
            f"the target of {cap[a]:,.0f} per territory by more than the "
            "tolerance — "
            f"{_describe_units(units, big, problem.weights[:, a], cap[a])}. "
            f"Provable lower bound on the {name} tolerance: "
            f"{diag.lower_bounds[a]:.2%} (largest unit / target - 1)."
        )
    lines += _stranded_text(problem, units, diag)
    return "\n".join(lines)


def _cut_off_text(problem: DesignProblem, units: Units, piece: Any) -> str:
    """Why a piece of the map behind one unit leaves no contiguous plan."""
    names = problem.activity_names
    limits = ", ".join(
        f"{n} ±{t:.2%}" for n, t in zip(names, problem.tolerances, strict=True)
    )
    u = piece.unit
    st = f", {units.state[u]}" if units.state[u] else ""
    who = f"{units.names[u]}{st} ({units.ids[u]})"
    shares = ", ".join(f"{n} {x:.1%}" for n, x in zip(names, piece.shares, strict=True))
    return (
        f"No contiguous plan meets {limits}: {who} alone joins {len(piece.units):,} "
        f"units to the rest of the map, and they hold {shares} of a territory's "
        f"target. {explain_cut_off(piece.whole, who)}"
    )


def _stranded_text(problem: DesignProblem, units: Units, diag: Any) -> list[str]:
    """One line per unit that no territory can hold within every tolerance."""
    names = problem.activity_names
    tol = problem.tolerances
    limits = ", ".join(f"{n} ±{t:.2%}" for n, t in zip(names, tol, strict=True))
    lines = []
    for s in getattr(diag, "stranded", ()):
        u = s.unit
        st = f", {units.state[u]}" if units.state[u] else ""
        who = f"{units.names[u]}{st} ({units.ids[u]})"
        if s.closest:
            shape = ", ".join(units.names[x] for x in s.closest)
            devs = ", ".join(
                f"{n} {d:+.2%}" for n, d in zip(names, s.deviations, strict=True)
            )
            miss = max(abs(d) - t for d, t in zip(s.deviations, tol, strict=True))
            closest = (
                f"the closest is {shape} with {devs}, {miss:.2%} beyond the "
                "tolerance (every other one misses by more)"
                if miss <= 0.25 * float(tol.min()) + 1e-12
                else f"the closest is {shape} with {devs}"
            )
        else:
            closest = (
                "every one of them cuts off neighbours too small to be a territory "
                "of their own"
            )
        lines.append(
            f"No plan meets {limits}: {who} cannot be in any balanced territory. "
            f"Its neighbourhood allows {s.shapes:,} connected territories around "
            f"it and none is within every tolerance; {closest}."
        )
    return lines


# -------------------------------------------------------------------- solving


def _solve_levels(
    problem: DesignProblem,
    options: DesignOptions,
    regions: int,
    progress: Progress | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[int], float]:
    """Regions first, then territories inside each region.

    Returns the territory labels, the region labels, the number of
    territories per region and the seconds spent. The tolerances are split so
    that a territory within its region's share stays within the requested
    tolerance of the overall mean: ``(1 + t_r) (1 + t_t) <= 1 + t``.
    """
    started = time.perf_counter()
    p = options.n_territories
    per_region = [p // regions + (1 if r < p % regions else 0) for r in range(regions)]
    tol = problem.tolerances
    tol_r = tol / 2.5
    tol_t = (1 + tol) / (1 + tol_r) - 1
    region_problem = dataclasses.replace(problem, tolerances=tol_r)
    budget = options.time_limit_s
    region_opts = dataclasses.replace(
        options,
        n_territories=regions,
        territory_weights=np.array(per_region, dtype=np.float64)
        if len(set(per_region)) > 1
        else None,
        time_limit_s=max(1.0, 0.3 * budget),
        progress=progress,
    )
    res = design(region_problem, region_opts)
    if res.status not in ("feasible", "optimal"):
        limits = ", ".join(
            f"{n} ±{t:.2%}" for n, t in zip(problem.activity_names, tol_r, strict=True)
        )
        raise ConvergenceError(
            f"No plan of {regions} regions within the region tolerances "
            f"({limits}) "
            f"was found in {region_opts.time_limit_s:.0f} s; give more --time-limit, "
            "fewer regions, or wider tolerances.",
            code="regions_not_found",
            details={"violations": [v.as_dict() for v in res.violations[:20]]},
        )
    region_of = res.labels.copy()
    labels = np.full(problem.n_units, -1, dtype=np.int64)
    offset = 0
    remaining = max(1.0, budget - (time.perf_counter() - started))
    adj = problem.adjacency
    for r in range(regions):
        idx = np.flatnonzero(region_of == r)
        q = per_region[r]
        if q == 1:
            labels[idx] = offset
            offset += 1
            continue
        sub = DesignProblem(
            adjacency=adj[idx][:, idx],
            weights=problem.weights[idx],
            tolerances=tol_t,
            coords=None if problem.coords is None else problem.coords[idx],
            activity_names=problem.activity_names,
        )
        share = remaining * idx.size / max(1, int((region_of >= r).sum()))
        sub_opts = dataclasses.replace(
            options,
            n_territories=q,
            seed=(int(options.seed) if isinstance(options.seed, int) else 0) + r + 1,
            time_limit_s=max(1.0, share),
            progress=progress,
        )
        sres = design(sub, sub_opts)
        remaining = max(1.0, budget - (time.perf_counter() - started))
        if np.any(sres.labels < 0):
            raise InternalError(
                "A region's design left units unassigned.", code="decode_mismatch"
            )
        labels[idx] = sres.labels + offset
        offset += q
    return labels, region_of, per_region, time.perf_counter() - started


def _result_of(
    problem: DesignProblem,
    options: DesignOptions,
    labels: npt.NDArray[np.int64],
    elapsed_s: float,
) -> DesignResult:
    got = measure(problem, options, labels)
    violations = got["violations"]
    return DesignResult(
        labels=labels,
        status="time_limit" if violations else "feasible",
        objective=float(got["objective"]),  # type: ignore[arg-type]
        objective_name=options.objective,
        values=got["values"],  # type: ignore[arg-type]
        targets=got["targets"],  # type: ignore[arg-type]
        deviations=got["deviations"],  # type: ignore[arg-type]
        territory_cost=got["territory_cost"],  # type: ignore[arg-type]
        contiguous=got["contiguous"],  # type: ignore[arg-type]
        imbalance=float(got["imbalance"]),  # type: ignore[arg-type]
        violations=violations,  # type: ignore[arg-type]
        method="hierarchical",
        elapsed_s=elapsed_s,
    )


def _carried_region_rows(
    region_names: dict[str, str],
    parent_of: dict[str, str],
    territory_ids: list[str],
    labels: npt.NDArray[np.int64],
    result: DesignResult,
    xy: npt.NDArray[np.float64],
    adjacency: sp.csr_array,
    activities: tuple[str, ...],
) -> list[TerritorySummary]:
    """Summarise the regions a redesign carries over from its base plan.

    A region is the parent of designed territories; its values and targets
    are those of its territories summed, its diameter and contiguity those
    of its units. ``labels`` has shape ``(n_units,)`` (territory index, -1
    for a unit left out).
    """
    region_ids = sorted({parent_of[t] for t in territory_ids if t in parent_of})
    if not region_ids:
        return []
    index = {r: j for j, r in enumerate(region_ids)}
    of_territory = np.array(
        [index.get(parent_of.get(t, ""), -1) for t in territory_ids], dtype=np.int64
    )
    region_labels = np.where(labels >= 0, of_territory[np.maximum(labels, 0)], -1)
    diam = _diameters_km(xy, region_labels, len(region_ids))
    if result.bridges:
        # islands joined to the mainland by the design count as joined
        a, b = np.array(result.bridges, dtype=np.int64).T
        n = adjacency.shape[0]
        links = sp.csr_array((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), (n, n))
        adjacency = sp.csr_array(adjacency + links)
    whole = is_contiguous(adjacency, region_labels, len(region_ids))
    rows = []
    for j, rid in enumerate(region_ids):
        members = np.flatnonzero(of_territory == j)
        vals = result.values[members].sum(axis=0)
        tgts = result.targets[members].sum(axis=0)
        rows.append(
            TerritorySummary(
                id=rid,
                name=region_names.get(rid, rid),
                parent_id=None,
                n_units=int((region_labels == j).sum()),
                values={n: float(vals[a]) for a, n in enumerate(activities)},
                targets={n: float(tgts[a]) for a, n in enumerate(activities)},
                deviations={
                    n: float(vals[a] / tgts[a] - 1) if tgts[a] > 0 else 0.0
                    for a, n in enumerate(activities)
                },
                diameter_km=float(diam[j]),
                contiguous=bool(whole[j]),
                reps=int(members.size),
            )
        )
    return rows


def _diameters_km(
    xy: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], p: int
) -> npt.NDArray[np.float64]:
    from scipy.spatial import ConvexHull, QhullError

    out = np.zeros(p)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels[labels >= 0], minlength=p)
    starts = np.concatenate([[0], np.cumsum(counts)])
    skip = int((labels < 0).sum())
    for k in range(p):
        idx = order[skip + starts[k] : skip + starts[k + 1]]
        pts = xy[idx]
        if len(pts) < 2:
            continue
        if len(pts) > 32:
            with contextlib.suppress(QhullError):
                pts = pts[ConvexHull(pts).vertices]
        d = pts[:, None, :] - pts[None, :, :]
        out[k] = float(np.sqrt((d * d).sum(-1)).max())
    return out


# --------------------------------------------------------------------- saving


#: Seconds of search a run gets even when reading and saving take the budget.
MIN_SEARCH_S = 1.0
#: The search stops once the best plan has not improved for this share of
#: the time spent (and at least 5 s).
STALL_SHARE = 0.5
#: Expected saving time: fixed, per account (its assignment and audit row),
#: per account of a replaced model (deleted first), per unit. SQLite on a
#: shared 2-core machine, about 1.5x what benchmarks/bench_design_real.py
#: measured at load 1-3, so that a busier machine still finishes in time.
SAVE_S = (0.5, 12e-6, 5e-6, 2e-4)


def _save_estimate_s(conn: Connection, prep: _Prepared) -> float:
    """Seconds the save of this design is expected to take."""
    fixed, per_account, per_replaced, per_unit = SAVE_S
    n_accounts = int(
        conn.execute(select(func.count()).select_from(account)).scalar_one()
    )
    # a replaced model's rows are deleted first (counted as one per account)
    replaced = n_accounts if prep.replaced is not None else 0
    return (
        fixed
        + per_account * n_accounts
        + per_replaced * replaced
        + per_unit * prep.problem.n_units
    )


@contextlib.contextmanager
def _big_page_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a 256 MB page cache while a design is saved.

    Writing a million account assignments and their audit rows updates big
    B-trees; SQLite's default 2 MB cache would reread their pages from disk.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    (old,) = conn.exec_driver_sql("PRAGMA cache_size").one()
    conn.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(old)}")


def _delete_model(conn: Connection, model: Any, actor: str, run_id: str) -> None:
    for table in (*reversed(CLONED_TABLES), quota):
        conn.execute(delete(table).where(table.c.model_id == model.id))
    conn.execute(delete(design_run).where(design_run.c.model_id == model.id))
    conn.execute(delete(territory_model).where(territory_model.c.id == model.id))
    record(
        conn,
        AuditEntry(
            entity="model",
            entity_id=model.id,
            model_id=model.id,
            action="delete",
            old_value={"name": model.name, "state": model.state.value},
            new_value=None,
            cause="design",
            source=run_id,
        ),
        actor=actor,
    )


def _kept_assignments(conn: Connection, model_id: str | None) -> pl.DataFrame:
    """Rows of ``model_id`` that a design leaves alone: manual or excluded."""
    a, acc = account_assignment, account
    # the few excluded accounts as a subquery, not a join per assignment row
    excluded = select(acc.c.id).where(acc.c.excluded_from_realign.is_(True))
    rows = (
        []
        if model_id is None
        else conn.execute(
            select(
                a.c.account_id,
                a.c.territory_id,
                a.c.cause,
                a.c.source,
                a.c.start_date,
                a.c.end_date,
            )
            .where(
                a.c.model_id == model_id,
                (a.c.cause == "manual") | a.c.account_id.in_(excluded),
            )
            .order_by(a.c.account_id, a.c.territory_id)
        ).all()
    )
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "territory_id": [r[1] for r in rows],
            "cause": [r[2] for r in rows],
            "source": [r[3] for r in rows],
            "start_date": [r[4] for r in rows],
            "end_date": [r[5] for r in rows],
        },
        schema={
            "account_id": pl.String,
            "territory_id": pl.String,
            "cause": pl.String,
            "source": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )


def _audit_rows(
    conn: Connection,
    *,
    actor: str,
    at: datetime,
    entity: str,
    model_id: str,
    ids: list[str],
    territories: list[str],
    run_id: str,
) -> None:
    if not ids:
        return
    insert_columns(
        conn,
        audit_log,
        {
            "at": at,
            "actor": actor,
            "entity": entity,
            "entity_id": ids,
            "model_id": model_id,
            "action": "insert",
            "old_value": None,
            "new_value": [{"territory_id": t} for t in territories],
            "cause": "design",
            "source": run_id,
        },
    )


def _account_frame(conn: Connection, level: str) -> pl.DataFrame:
    col = {"county": account.c.county_id, "zip": account.c.zip_id}.get(
        level, account.c.id
    )
    rows = conn.execute(
        select(account.c.id, col, account.c.excluded_from_realign)
    ).all()
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "unit_id": [r[1] for r in rows],
            "excluded": [bool(r[2]) for r in rows],
        },
        schema={"account_id": pl.String, "unit_id": pl.String, "excluded": pl.Boolean},
    )


def _assign_accounts_in_store(
    conn: Connection,
    model_id: str,
    level: str,
    run_id: str,
    actor: str,
    now: datetime,
    *,
    any_kept: bool = True,
) -> tuple[int, int]:
    """Assign every free account to its unit's territory inside the database.

    One ``INSERT ... SELECT`` joins the accounts to the unit assignments just
    written, so a million accounts never travel through Python; accounts
    excluded from realignment, or already holding a kept row, are skipped
    (``any_kept=False`` says the model has no kept row yet, which spares the
    check). The rows go in in key order, so the indexes grow at their end.
    The audit rows are written the same way. Returns ``(designed, outside)``:
    accounts assigned, and free accounts whose unit is not in the design.
    """
    a, ua, aa = account, unit_assignment, account_assignment
    kept = aa.alias("kept")
    col = a.c.county_id if level == "county" else a.c.zip_id
    is_kept = (
        select(kept.c.account_id)
        .where(kept.c.model_id == model_id, kept.c.account_id == a.c.id)
        .exists()
    )
    free: ColumnElement[bool] = a.c.excluded_from_realign.is_(False)
    if any_kept:
        free = free & ~is_kept
    sel = (
        select(
            literal(model_id, String),
            a.c.id,
            ua.c.territory_id,
            literal("design", String),
            literal(run_id, String),
        )
        .select_from(
            a.join(
                ua,
                and_(
                    ua.c.model_id == model_id,
                    ua.c.unit_kind == level,
                    ua.c.unit_id == col,
                ),
            )
        )
        .where(free)
        .order_by(a.c.id)
    )
    # count the free accounts before the design rows make them look kept
    n_free = int(
        conn.execute(select(func.count()).select_from(a).where(free)).scalar_one()
    )
    done = conn.execute(
        insert(aa).from_select(
            ["model_id", "account_id", "territory_id", "cause", "source"], sel
        )
    )
    mine = and_(
        aa.c.model_id == model_id, aa.c.source == run_id, aa.c.cause == "design"
    )
    designed = int(done.rowcount)
    if designed < 0:  # a driver that does not count the rows of INSERT ... SELECT
        designed = int(conn.execute(select(func.count()).where(mine)).scalar_one())
    json_of = (
        func.json_object if conn.dialect.name == "sqlite" else func.json_build_object
    )
    audit_sel = select(
        literal(now, DateTime(timezone=True)),
        literal(actor, String),
        literal("account_assignment", String),
        aa.c.account_id,
        literal(model_id, String),
        literal("insert", String),
        json_of("territory_id", aa.c.territory_id),
        literal("design", String),
        literal(run_id, String),
    ).where(mine)
    conn.execute(
        insert(audit_log).from_select(
            [
                "at",
                "actor",
                "entity",
                "entity_id",
                "model_id",
                "action",
                "new_value",
                "cause",
                "source",
            ],
            audit_sel,
        )
    )
    return designed, n_free - designed


def _assign_accounts_directly(
    conn: Connection,
    model_id: str,
    assignment: dict[str, str],
    kept: pl.DataFrame,
    run_id: str,
    actor: str,
    now: datetime,
) -> tuple[int, int]:
    """Account-level design: each designed account is its own unit."""
    accounts = _account_frame(conn, "account")
    kept_ids = kept["account_id"].to_list()
    free = accounts.filter(~pl.col("excluded") & ~pl.col("account_id").is_in(kept_ids))
    ids = [u for u in free["account_id"].to_list() if u in assignment]
    ids.sort()
    terrs = [assignment[u] for u in ids]
    if ids:
        insert_columns(
            conn,
            account_assignment,
            {
                "model_id": model_id,
                "account_id": ids,
                "territory_id": terrs,
                "cause": "design",
                "source": run_id,
            },
        )
        _audit_rows(
            conn,
            actor=actor,
            at=now,
            entity="account_assignment",
            model_id=model_id,
            ids=ids,
            territories=terrs,
            run_id=run_id,
        )
    return len(ids), free.height - len(ids)


# ------------------------------------------------------------------ use case


@dataclass
class _Prepared:
    units: Units
    adjacency: UnitAdjacency
    problem: DesignProblem
    options: DesignOptions
    encoding: Encoding
    territory_names: dict[str, str]
    notes: dict[str, int]
    replaced: Any
    kept_source: str | None
    oversize: tuple[tuple[int, int], ...]
    diagnosis: str | None
    levels: tuple[int, int] | None


def _prepare(
    conn: Connection,
    req: DesignRequest,
    notify: Notify | None,
    progress: Progress | None,
) -> _Prepared:
    replaced = _check_model_name(conn, req)
    states = parse_states(list(req.states)) if req.states else None
    units = read_units(conn, req.level, states)
    names = tuple(n for n, _ in req.balance)
    weights, notes = read_activities(
        conn, units, names, load_workload_config(req.workload_file)
    )
    notes = {**units.left_out, **notes}
    adjacency = read_unit_adjacency(conn, units, req.contiguity)
    if adjacency.merged_locations:
        notes["units sharing a location with another unit (merged for adjacency)"] = (
            sum(len(g) for g in adjacency.merged_locations)
        )
    current = _read_current(conn, req.from_model, units) if req.from_model else None
    p = _sized(req, names, weights)
    if p is None:
        p = len(current.territory_ids) if current is not None else None
    if p is None:
        raise InputError(
            "Say how many territories to make: --territories P, --capacity "
            "METRIC=VALUE, or --levels REGIONS,TERRITORIES.",
            code="no_territory_count",
        )
    n = len(units.ids)
    if p > n:
        raise InputError(
            f"Cannot make {p} territories from {n} {units.level} units; ask for at "
            f"most {n}, or design at a finer --level.",
            code="bad_territory_count",
            details={"n_territories": p, "n_units": n},
        )
    if req.method == "exact" and n > EXACT_LIMIT_UNITS:
        raise InputError(
            f"--method exact solves a MIP whose rows grow as units squared times "
            f"territories: it takes at most {EXACT_LIMIT_UNITS} units, and "
            f"{n} {units.level} units are being designed. Use --method auto (or "
            "heuristic), or fewer --states.",
            code="bad_option",
            details={"n_units": n, "limit": EXACT_LIMIT_UNITS},
        )
    centers = read_centers_file(req.centers_file) if req.centers_file else []
    locks = read_lock_file(req.lock_file) if req.lock_file else []
    named: list[str] = list(current.territory_ids) if current else []
    for c in centers:
        if c.territory not in named:
            named.append(c.territory)
    for _, _, t in locks:
        if t not in named:
            named.append(t)
    if req.levels is not None:
        tids = _territory_ids(p, named)
    else:
        tids = _territory_ids(p, named)
    encoding = Encoding(units.ids, tuple(tids))
    tnames = {t: (current.names.get(t, t) if current else t) for t in tids}

    centre_idx: list[int] | None = None
    far: list[str] = []
    if centers:
        centre_idx = [-1] * p
        for c in centers:
            k = encoding.territory_index(c.territory)
            if c.unit_id is not None:
                if not encoding.has_unit(c.unit_id):
                    raise InputError(
                        f"{req.centers_file}, row {c.row}: unit '{c.unit_id}' is not "
                        f"one of the {n} {units.level} units being designed.",
                        code="bad_centers",
                        details={"row": c.row, "unit": c.unit_id},
                    )
                centre_idx[k] = encoding.unit_index(c.unit_id)
            else:
                assert c.lat is not None and c.lon is not None
                d = _haversine_km(c.lat, c.lon, units.lat, units.lon)
                centre_idx[k] = int(np.argmin(d))
                u = centre_idx[k]
                reach = _unit_reach_km(units, adjacency.pairs, u)
                if float(d[u]) > reach:
                    far.append(
                        f"{c.territory} (row {c.row}, {c.lat:g}, {c.lon:g}) is "
                        f"{float(d[u]):,.0f} km from the nearest unit, "
                        f"{units.names[u]} ({units.ids[u]}), farther than that "
                        f"unit's neighbours ({reach:,.0f} km)"
                    )
        if far:
            warning = (
                f"{len(far)} centre(s) of {req.centers_file} lie outside the designed "
                "units and were snapped to the nearest one: " + "; ".join(far) + ". "
                "Check their coordinates and --states, or give them as "
                "territory,unit_id."
            )
            log.warning("%s", warning)
            if notify is not None:
                notify(f"Warning: {warning}")
            notes[
                "centres far from every designed unit, snapped to the nearest: "
                + "; ".join(far)
            ] = len(far)
        used = [u for u in centre_idx if u >= 0]
        if len(set(used)) != len(used):
            dup = sorted({units.ids[u] for u in used if used.count(u) > 1})
            raise InputError(
                f"Two territories in {req.centers_file} have their centre in the "
                f"same unit ({', '.join(dup)}); move one of the centres.",
                code="bad_centers",
                details={"units": dup},
            )
    locked: dict[int, int] | None = None
    if locks:
        locked = {}
        for row, lock_unit, lock_territory in locks:
            if not encoding.has_unit(lock_unit):
                raise InputError(
                    f"{req.lock_file}, row {row}: unit '{lock_unit}' is not one of "
                    f"the {n} {units.level} units being designed.",
                    code="bad_lock",
                    details={"row": row, "unit": lock_unit},
                )
            locked[encoding.unit_index(lock_unit)] = encoding.territory_index(
                lock_territory
            )
        if centre_idx is not None:
            for k, c_unit in enumerate(centre_idx):
                if c_unit >= 0 and locked.get(c_unit, k) != k:
                    raise InputError(
                        f"Unit '{units.ids[c_unit]}' is the centre of territory "
                        f"'{tids[k]}' but locked to '{tids[locked[c_unit]]}'; fix "
                        "one of "
                        "the two files.",
                        code="bad_lock",
                    )
    current_labels = (
        encoding.encode_labels(current.assignment) if current is not None else None
    )
    problem = DesignProblem.from_edges(
        n,
        adjacency.pairs,
        weights,
        [t for _, t in req.balance],
        coords=units.xy_km,
        activity_names=names,
    )
    options = DesignOptions(
        n_territories=p,
        objective=req.objective,  # type: ignore[arg-type]
        seed=req.seed,
        time_limit_s=req.time_limit_s,
        max_iterations=req.max_iterations,
        method=req.method,  # type: ignore[arg-type]
        islands=req.islands,  # type: ignore[arg-type]
        contiguity=req.contiguity != "none",
        centers=centre_idx,
        locked=locked,
        current_labels=current_labels,
        max_disruption=req.max_disruption,
        max_disruption_per_territory=req.max_disruption_per_territory,
        progress=progress,
    )
    options.validate(problem)
    refuse_overfull_locks(problem, options, units, tids, req.lock_file)

    # balance diagnosis, before any search
    oversize: tuple[tuple[int, int], ...] = ()
    diag_text: str | None = None
    diag = diagnose_balance(problem, options)
    if diag is not None:
        diag_text = _diagnosis_text(
            problem, options, units, diag, options.targets(problem)
        )
        if req.oversize == "own-territory":
            a = min(diag.oversize_units)
            try:
                plan = plan_oversize_units(problem, options, activity=a)
            except ValueError as exc:
                raise InfeasibleError(
                    f"{diag_text}\nThe oversize units need more reps than the {p} "
                    "asked for; ask for more territories.",
                    code="infeasible_balance",
                ) from exc
            options = plan.options
            oversize = tuple(zip(plan.units, plan.reps, strict=True))
            tids = _territory_ids(options.n_territories, [])
            encoding = Encoding(units.ids, tuple(tids))
            tnames = {t: t for t in tids}
            members = plan.members or tuple((u,) for u in plan.units)
            for (big_unit, reps), tid in zip(oversize, tids, strict=False):
                tnames[tid] = f"{tid} ({units.names[big_unit]}, {reps} reps)"

            def way(u: int, r: int, group: tuple[int, ...]) -> str:
                who = f"{units.names[u]} ({units.ids[u]})"
                if len(group) == 1:
                    return f"{who} fills a territory of its own worth {r} reps"
                others = ", ".join(units.names[x] for x in group if x != u)
                return (
                    f"{who} fits no one-rep territory, so it anchors one worth {r} "
                    f"reps with {others}"
                )

            msg = (
                f"{diag_text}\nWay through (--oversize own-territory): "
                + "; ".join(
                    way(u, r, g) for (u, r), g in zip(oversize, members, strict=True)
                )
                + f". {options.n_territories} territories for {p} reps, balanced "
                "per rep."
            )
            diag_text = msg
            rest = diagnose_balance(problem, options)
            if rest is not None:
                diag_text += "\n" + _diagnosis_text(
                    problem, options, units, rest, options.targets(problem)
                )
        if notify is not None:
            notify(diag_text)
    return _Prepared(
        units=units,
        adjacency=adjacency,
        problem=problem,
        options=options,
        encoding=encoding,
        territory_names=tnames,
        notes=notes,
        replaced=replaced,
        kept_source=None,
        oversize=oversize,
        diagnosis=diag_text,
        levels=req.levels,
    )


def _raise_unfeasible(
    prep: _Prepared, result: DesignResult, req: DesignRequest
) -> None:
    names = prep.problem.activity_names
    reached = np.abs(result.deviations).max(axis=0)
    reached_txt = ", ".join(
        f"{n} ±{r:.2%}" for n, r in zip(names, reached, strict=True)
    )
    details: dict[str, Any] = {
        "status": result.status,
        "reached": {n: float(r) for n, r in zip(names, reached, strict=True)},
        "contiguous": bool(result.contiguous.all()),
        "violations": [v.as_dict() for v in result.violations[:50]],
        "elapsed_s": result.elapsed_s,
    }
    if result.diagnosis is not None or (
        prep.diagnosis is not None and not prep.oversize
    ):
        diag = result.diagnosis
        text = [prep.diagnosis] if prep.diagnosis else []
        if diag is not None:
            details["oversize_units"] = {
                names[a]: [prep.units.ids[u] for u in us]
                for a, us in diag.oversize_units.items()
            }
            details["lower_bounds"] = {
                n: float(b) for n, b in zip(names, diag.lower_bounds, strict=True)
            }
            details["stranded_units"] = [
                {
                    "unit": prep.units.ids[s.unit],
                    "closest": [prep.units.ids[x] for x in s.closest],
                    "deviations": dict(zip(names, s.deviations, strict=True)),
                    "territories_checked": s.shapes,
                }
                for s in diag.stranded
            ]
            text += _stranded_text(prep.problem, prep.units, diag)
            if diag.cut_off is not None:
                piece = diag.cut_off
                details["cut_off"] = {
                    "unit": prep.units.ids[piece.unit],
                    "units": [prep.units.ids[x] for x in piece.units],
                    "shares": dict(zip(names, piece.shares, strict=True)),
                    "whole_territories": list(piece.whole),
                }
                text.append(_cut_off_text(prep.problem, prep.units, piece))
        tids = prep.encoding.territory_ids
        per_rep = "".join(
            f"\n  {prep.territory_names[tids[k]]}: "
            + ", ".join(
                f"{n} {result.deviations[k, a]:+.2%}" for a, n in enumerate(names)
            )
            + f" of {r} reps' worth"
            for k, (_, r) in enumerate(prep.oversize)
        )
        if per_rep:
            per_rep = "\nEach oversize unit's territory, per rep:" + per_rep
        if prep.oversize:
            ways = (
                "Ways through: ask for fewer territories (fewer reps), or widen "
                "the tolerances to what was reached."
            )
        elif diag is not None and diag.cut_off is not None:
            ways = (
                "Ways through: --contiguity none lets a territory reach into the "
                "cut-off units as well as around them; or widen the tolerances to "
                "what was reached; or ask for another number of territories."
            )
        elif diag is not None and diag.stranded and not diag.oversize_units:
            need = np.array(prep.problem.tolerances, dtype=float)
            for st in diag.stranded:
                need = np.maximum(need, np.abs(np.array(st.deviations)))
            wider = ", ".join(
                f"--balance {n}={math.ceil(t * 1000) / 1000:g}"
                for n, t, t0 in zip(names, need, prep.problem.tolerances, strict=True)
                if t > t0 + 1e-12
            )
            ways = (
                f"Ways through: widen the tolerance as far as the closest "
                f"territory needs ({wider}), or ask for another number of "
                "territories."
            )
        else:
            ways = (
                "Ways through: --oversize own-territory gives each oversize unit "
                "a territory of its own that counts as several reps (balanced per "
                "rep); or ask for fewer territories; or widen the tolerance to at "
                "least the lower bound."
            )
        raise InfeasibleError(
            "\n".join(text) + f"\nTolerance reached by the best plan: {reached_txt} "
            f"(contiguous: {'yes' if result.contiguous.all() else 'no'})."
            + per_rep
            + f"\n{ways} Nothing was saved.",
            code="infeasible_balance",
            details=details,
        )
    tids = prep.encoding.territory_ids

    def named(v: Any) -> str:
        # the engine numbers territories from 0; say the ids users see
        k = v.territory
        if k is None or not 0 <= k < len(tids):
            return str(v.message)
        return str(v.message).replace(f"territory {k} ", f"territory {tids[k]} ", 1)

    shown = "; ".join(named(v) for v in result.violations[:5])
    if result.status == "infeasible":
        raise InfeasibleError(
            "No plan can meet every constraint (the exact search proved it on these "
            f"{prep.problem.n_units} units): the best plan misses by {shown}. Widen "
            "the tolerances, ask for another number of territories, or loosen the "
            "locks, centres or disruption limits. Nothing was saved.",
            code="infeasible",
            details=details,
        )
    more = (
        f" (and {len(result.violations) - 5} more)"
        if len(result.violations) > 5
        else ""
    )
    budget_hit = (
        req.max_iterations is not None and result.iterations >= req.max_iterations
    )
    searched = (
        f"in {req.max_iterations:,} search moves"
        if budget_hit
        else f"in {req.time_limit_s:g} s"
    )
    more_search = "--max-iterations" if budget_hit else "--time-limit"
    raise ConvergenceError(
        f"No plan meeting every constraint was found {searched}: "
        f"{shown}{more}. Best reached: {reached_txt}. Give more {more_search}, "
        "widen the tolerances, or relax --max-disruption. Nothing was saved.",
        code="design_not_feasible",
        details=details,
    )


def design_territories(
    engine: Engine,
    request: DesignRequest,
    *,
    actor: str,
    notify: Notify | None = None,
    progress: Progress | None = None,
) -> DesignReport:
    """Design territories on the stored units and save them as a planning model.

    Raises
    ------
    InputError
        When an option, a file or a name is wrong (see the message).
    Conflict
        When the model exists and ``replace`` is not set, or it is not in
        planning; or a kept manual assignment points at a territory the new
        design does not have.
    InfeasibleError
        When a unit is too big for a tolerance (the message names the units,
        the provable lower bound and the tolerance reached).
    ConvergenceError
        When no plan meeting every constraint was found in the time limit.
    """
    started = time.perf_counter()
    _check_request(request)
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        prep = _prepare(conn, request, notify, progress)
        save_estimate = _save_estimate_s(conn, prep)
    problem, options = prep.problem, prep.options
    # --time-limit bounds the whole run: the search gets what reading left,
    # less the expected save, and stops early once it no longer improves
    search_s = request.time_limit_s - (time.perf_counter() - started) - save_estimate
    options = dataclasses.replace(
        options,
        time_limit_s=max(MIN_SEARCH_S, search_s),
        stop_when_stalled=STALL_SHARE if request.max_iterations is None else None,
    )

    solve_started = time.perf_counter()
    region_labels: npt.NDArray[np.int64] | None = None
    per_region: list[int] = []
    if prep.levels is not None:
        # join separate pieces once, so regions and the territories inside them
        # see the same bridges
        bridging = bridge_components(problem.adjacency, problem.coords, None)
        joined = dataclasses.replace(problem, adjacency=bridging.adjacency)
        labels, region_labels, per_region, spent = _solve_levels(
            joined, options, prep.levels[0], progress
        )
        result = dataclasses.replace(
            _result_of(joined, options, labels, spent), bridges=bridging.bridges
        )
    else:
        result = design(problem, options)
    solve_s = time.perf_counter() - solve_started
    if result.status not in ("feasible", "optimal"):
        _raise_unfeasible(prep, result, request)

    enc = prep.encoding
    labels = np.asarray(result.labels, dtype=np.int64)
    assignment = enc.decode(labels)
    excluded = tuple(enc.unit_ids[i] for i in np.flatnonzero(labels < 0))
    if len(assignment) + len(excluded) != enc.n_units:
        raise InternalError(
            "A unit came back twice or not at all.", code="decode_mismatch"
        )
    p = enc.n_territories
    xy = prep.units.xy_km
    diam = _diameters_km(xy, labels, p)
    names = problem.activity_names
    reps = np.ones(p, dtype=np.int64)
    for k, (_, r) in enumerate(prep.oversize):
        reps[k] = r
    n_units_per = np.bincount(labels[labels >= 0], minlength=p)
    moved = {
        enc.territory_ids[k]: tuple(enc.unit_ids[u] for u in us)
        for k, us in result.moved_units.items()
    }

    # hierarchy: regions as parent territories
    region_rows: list[TerritorySummary] = []
    parent_of: dict[str, str] = {}
    if region_labels is not None:
        assert prep.levels is not None
        n_regions = prep.levels[0]
        width = max(2, len(str(n_regions)))
        rids = [f"R{r + 1:0{width}d}" for r in range(n_regions)]
        offset = 0
        rvals = np.zeros((n_regions, problem.n_activities))
        np.add.at(rvals, region_labels, problem.weights)
        total = problem.weights.sum(axis=0)
        rdiam = _diameters_km(xy, region_labels, n_regions)
        for r in range(n_regions):
            for k in range(offset, offset + per_region[r]):
                parent_of[enc.territory_ids[k]] = rids[r]
            offset += per_region[r]
            tgt = total * per_region[r] / p
            region_rows.append(
                TerritorySummary(
                    id=rids[r],
                    name=f"Region {r + 1}",
                    parent_id=None,
                    n_units=int((region_labels == r).sum()),
                    values={n: float(rvals[r, a]) for a, n in enumerate(names)},
                    targets={n: float(tgt[a]) for a, n in enumerate(names)},
                    deviations={
                        n: float(rvals[r, a] / tgt[a] - 1) if tgt[a] > 0 else 0.0
                        for a, n in enumerate(names)
                    },
                    diameter_km=float(rdiam[r]),
                    contiguous=True,
                    reps=per_region[r],
                )
            )

    now = datetime.now(UTC)
    save_started = time.perf_counter()
    kept_n = designed_n = outside_n = 0
    acc_per_terr: dict[str, int] = {}
    with engine.begin() as conn, _big_page_cache(conn):
        base_id: str | None = None
        if request.from_model is not None:
            base_id = resolve_model(conn, request.from_model).id
        elif prep.replaced is not None:
            base_id = prep.replaced.id
        kept = _kept_assignments(conn, base_id)
        if prep.replaced is not None:
            # re-check inside the write transaction
            _delete_model(conn, prep.replaced, actor, run_id)
        model = create_model_in(
            conn,
            request.model,
            description=request.description
            or f"Designed by {run_id}: {p} territories on "
            + ", ".join(f"{n} ±{t:.0%}" for n, t in request.balance),
            actor=actor,
        )
        tids = list(enc.territory_ids)
        overlays: tuple[str, ...] = ()
        if request.from_model is not None and base_id is not None:
            overlays = overlay_territories(conn, base_id, tids)
        orphan = sorted(set(kept["territory_id"].to_list()) - set(tids) - set(overlays))
        if orphan:
            raise Conflict(
                f"{kept.filter(pl.col('territory_id').is_in(orphan)).height} manual "
                f"or excluded account assignment(s) point at territories the new "
                f"design lacks ({', '.join(orphan[:10])}); design with --from the "
                "model that has them, or reassign those accounts first.",
                code="kept_assignments_orphaned",
                details={"territories": orphan},
            )
        carrying = request.from_model is not None and base_id is not None
        carried_regions: list[TerritorySummary] = []
        if carrying and not region_rows:
            assert base_id is not None
            carried = carry_hierarchy(conn, base_id, tids)
            parent_of.update(carried.parent_of)
            if carried.ancestors:
                conn.execute(
                    insert(territory),
                    [{**a, "model_id": model.id} for a in carried.ancestors],
                )
            # the carried parents are the new plan's regions: the design
            # table and map show them as a --levels design does
            carried_regions = _carried_region_rows(
                {str(a["id"]): str(a["name"]) for a in carried.ancestors},
                parent_of,
                tids,
                labels,
                result,
                xy,
                problem.adjacency,
                names,
            )
        all_ids = [r.id for r in region_rows] + tids
        attrs: list[dict[str, Any]] = [
            {
                "level": "region",
                "reps": r.reps,
                "design_run": run_id,
                **{f"{n}": r.values[n] for n in names},
            }
            for r in region_rows
        ] + [
            {
                "level": "territory",
                "reps": int(reps[k]),
                "design_run": run_id,
                "diameter_km": float(diam[k]),
                **{f"{n}": float(result.values[k, a]) for a, n in enumerate(names)},
            }
            for k in range(p)
        ]
        insert_columns(
            conn,
            territory,
            {
                "model_id": model.id,
                "id": all_ids,
                "name": [r.name for r in region_rows]
                + [prep.territory_names[t] for t in tids],
                "type_id": None,
                "parent_id": [None] * len(region_rows)
                + [parent_of.get(t) for t in tids],
                "description": "",
                "is_catch_all": False,
                "attributes": attrs,
            },
        )
        region_rows += carried_regions
        carried_ov = (
            carry_overlay_territories(conn, base_id, model.id, overlays)
            if base_id is not None
            else None
        )
        n_members = (
            carry_memberships(conn, base_id, model.id, actor=actor, run_id=run_id)
            if carrying and base_id is not None
            else 0
        )
        unit_list = list(assignment)
        terr_list = [assignment[u] for u in unit_list]
        if prep.units.level != "account":
            insert_columns(
                conn,
                unit_assignment,
                {
                    "model_id": model.id,
                    "unit_kind": prep.units.level,
                    "unit_id": unit_list,
                    "territory_id": terr_list,
                    "cause": "design",
                    "source": run_id,
                },
            )
            _audit_rows(
                conn,
                actor=actor,
                at=now,
                entity="unit_assignment",
                model_id=model.id,
                ids=[f"{prep.units.level}:{u}" for u in unit_list],
                territories=terr_list,
                run_id=run_id,
            )
        # accounts follow their units
        if kept.height:
            insert_columns(
                conn,
                account_assignment,
                {
                    "model_id": model.id,
                    **{c: kept[c] for c in kept.columns},
                },
            )
            record(
                conn,
                AuditEntry(
                    entity="account_assignment",
                    entity_id=f"{kept.height} kept",
                    model_id=model.id,
                    action="insert",
                    old_value={"model_id": base_id},
                    new_value={"kept": kept.height},
                    cause="design",
                    source=run_id,
                ),
                actor=actor,
            )
        if prep.units.level == "account":
            designed_n, outside_n = _assign_accounts_directly(
                conn, model.id, assignment, kept, run_id, actor, now
            )
        else:
            designed_n, outside_n = _assign_accounts_in_store(
                conn,
                model.id,
                prep.units.level,
                run_id,
                actor,
                now,
                any_kept=kept.height > 0,
            )
        n_overlay_accounts = (
            carry_overlay_assignments(
                conn, base_id, model.id, overlays, actor=actor, run_id=run_id, at=now
            )
            if base_id is not None
            else 0
        )
        kept_n = kept.height
        acc_per_terr = {
            str(t): int(c)
            for t, c in conn.execute(
                select(account_assignment.c.territory_id, func.count())
                .where(account_assignment.c.model_id == model.id)
                .group_by(account_assignment.c.territory_id)
            ).all()
        }
        # a region holds the accounts of its territories
        region_rows = [
            dataclasses.replace(
                r,
                n_accounts=sum(
                    acc_per_terr.get(t, 0) for t in tids if parent_of.get(t) == r.id
                ),
            )
            for r in region_rows
        ]

        summaries = tuple(
            TerritorySummary(
                id=tids[k],
                name=prep.territory_names[tids[k]],
                parent_id=parent_of.get(tids[k]),
                n_units=int(n_units_per[k]),
                values={n: float(result.values[k, a]) for a, n in enumerate(names)},
                targets={n: float(result.targets[k, a]) for a, n in enumerate(names)},
                deviations={
                    n: float(result.deviations[k, a]) for a, n in enumerate(names)
                },
                diameter_km=float(diam[k]),
                contiguous=bool(result.contiguous[k]),
                reps=int(reps[k]),
                n_moved_units=len(moved.get(tids[k], ())),
                n_accounts=int(acc_per_terr.get(tids[k], 0)),
            )
            for k in range(p)
        )
        bridges = tuple(
            (
                enc.unit_ids[a],
                enc.unit_ids[b],
                float(np.hypot(*(xy[a] - xy[b]))),
            )
            for a, b in result.bridges
        )
        max_dev = {
            n: float(np.abs(result.deviations[:, a]).max()) for a, n in enumerate(names)
        }
        summary = {
            "status": result.status,
            "objective_name": result.objective_name,
            "objective": result.objective,
            "max_diameter_km": float(diam.max()) if p else 0.0,
            "max_abs_deviation": max_dev,
            "contiguous": bool(result.contiguous.all()),
            "n_units": enc.n_units,
            "n_territories": p,
            "bridges": [list(b) for b in bridges],
            "excluded": list(excluded),
            "merged_locations": [
                list(g) for g in prep.adjacency.merged_locations[:200]
            ],
            "moved_units": {t: len(v) for t, v in moved.items()},
            "oversize": [[prep.units.ids[u], r] for u, r in prep.oversize],
            "diagnosis": prep.diagnosis,
            "accounts": {
                "designed": designed_n,
                "kept": kept_n,
                "outside": outside_n,
            },
            "notes": prep.notes,
            "iterations": result.iterations,
            "solve_s": solve_s,
            "method": result.method,
        }
        conn.execute(
            design_run.insert(),
            [
                {
                    "id": run_id,
                    "model_id": model.id,
                    "created_at": now,
                    "status": result.status,
                    "objective": result.objective,
                    "parameters": request.parameters(),
                    "result": summary,
                }
            ],
        )
        record(
            conn,
            AuditEntry(
                entity="design_run",
                entity_id=run_id,
                model_id=model.id,
                action="insert",
                old_value=None,
                new_value={
                    "status": result.status,
                    "territories": p,
                    "units": len(assignment),
                    "accounts": designed_n,
                },
                cause="design",
                source=run_id,
            ),
            actor=actor,
        )
    return DesignReport(
        model_id=model.id,
        model_name=model.name,
        run_id=run_id,
        level=prep.units.level,
        status=result.status,
        objective_name=result.objective_name,
        objective=result.objective,
        activities=names,
        tolerances=tuple(float(t) for t in problem.tolerances),
        territories=summaries,
        regions=tuple(region_rows),
        assignment=assignment,
        unit_names=dict(zip(prep.units.ids, prep.units.names, strict=True)),
        bridges=bridges,
        excluded=excluded,
        merged_locations=prep.adjacency.merged_locations,
        moved_units=moved,
        oversize=tuple((prep.units.ids[u], r) for u, r in prep.oversize),
        adjacency_source=prep.adjacency.source,
        n_accounts_designed=designed_n,
        n_accounts_kept=kept_n,
        n_accounts_outside=outside_n,
        notes={
            **prep.notes,
            **(
                {"memberships carried over from the base model": n_members}
                if n_members
                else {}
            ),
            **(
                {
                    "overlay territories carried over from the base model "
                    f"({', '.join(carried_ov.territories[:5])}"
                    + (" ..." if len(carried_ov.territories) > 5 else "")
                    + f"), with {len(carried_ov.rules)} "
                    + ("rule" if len(carried_ov.rules) == 1 else "rules")
                    + " and "
                    f"{n_overlay_accounts:,} account assignments": len(
                        carried_ov.territories
                    )
                }
                if carried_ov is not None and carried_ov.territories
                else {}
            ),
        },
        diagnosis=prep.diagnosis,
        solve_s=solve_s,
        elapsed_s=time.perf_counter() - started,
        trace=tuple((t.elapsed_s, t.objective, t.imbalance) for t in result.trace),
        max_abs_deviation=max_dev,
        states=tuple(sorted({s for s in prep.units.state if s})),
        read_s=solve_started - started,
        save_s=time.perf_counter() - save_started,
    )
