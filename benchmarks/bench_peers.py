"""Our design engine against GerryChain and PySAL spopt on real counties.

Usage::

    .venv/bin/python benchmarks/bench_peers.py [--db URL] [--case us30|se20]...
        [--time-limit S] [--seed N] [--no-write]

Peers are optional (``pip install -e .[bench]``): GerryChain (recursive
spanning-tree partition, then a ReCom chain) and spopt (AZP and max-p).

Cases, on the stored counties (queen adjacency, separate pieces bridged
through their closest pair of centroids for every method alike):

* ``us30`` — the 3,108 counties of the contiguous US plus DC, 30 territories,
  population ±5 %: ours, GerryChain recursive_tree_part and ReCom;
* ``se20`` — AL FL GA MS NC SC TN, 20 territories: ours and GerryChain on
  population ±5 %; ours on population and labour force ±5 % each; spopt AZP
  (20 regions, attributes = projected centroid x, y, i.e. a compactness
  objective) and max-p (floor: 95 % of the mean population per territory).
  AZP and max-p do not balance to a tolerance; they are compactness
  baselines.

For every method: time to the first plan that is contiguous and within ±5 %
on population (— if none), final time, worst deviation on population and on
labour force (both measured, whichever the method balanced), and the max and
median territory diameter in km (largest distance between two county
centroids of one territory, on the same Albers equal-area projection). Ratios
printed at the end: our time to feasible against GerryChain's, our max
diameter against each peer's, and against the proven floor under every plan
within ±5 % on population (:func:`territory.optimize.bounds.diameter_lower_bound`:
the territory holding some sparse county cannot be narrower, whichever
method draws it; AZP, which does not balance, can go below it). The table
goes into ``docs/benchmarks.md`` under ``## Peers on real counties``.

ReCom is a sampler, not an optimiser: we report the plan with the smallest
max diameter the chain visited within the same time budget as ours, which
flatters it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_design_real import (  # noqa: E402
    DEFAULT_DB,
    SOUTHEAST,
    contiguous_states,
    machine,
)

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Peers on real counties"
TOL = 0.05


@dataclass
class Case:
    """The same counties for every method."""

    name: str
    p: int
    ids: tuple[str, ...]
    xy: np.ndarray
    population: np.ndarray
    labor_force: np.ndarray
    edges: np.ndarray  # (n_edges, 2), bridges included
    problem: Any  # our DesignProblem (population only)
    problem_both: Any  # population and labour force


@dataclass
class Row:
    """One method on one case."""

    case: str
    method: str
    balanced_on: str
    first_feasible_s: float | None
    final_s: float
    p: int
    dev_population: float
    dev_labor_force: float
    contiguous: bool
    max_diam_km: float
    median_diam_km: float
    note: str = ""


def load_case(engine: Any, name: str) -> Case:
    """Read the counties of a case from the store through the design service."""
    from territory.optimize.contiguity import bridge_components
    from territory.services.design import DesignRequest, _prepare

    states = contiguous_states() if name == "us30" else SOUTHEAST
    p = 30 if name == "us30" else 20
    req = DesignRequest(
        model=f"peers-{name}",
        balance=(("population", TOL), ("labor_force", TOL)),
        n_territories=p,
        states=states,
        replace=True,
    )
    with engine.connect() as conn:
        prep = _prepare(conn, req, None, None)
    both = prep.problem
    bridging = bridge_components(both.adjacency, both.coords, None)
    adj = bridging.adjacency.tocoo()
    keep = adj.row < adj.col
    edges = np.column_stack([adj.row[keep], adj.col[keep]]).astype(np.int64)
    pop_only = dataclasses.replace(
        both,
        weights=both.weights[:, :1],
        tolerances=both.tolerances[:1],
        activity_names=both.activity_names[:1],
    )
    return Case(
        name=name,
        p=p,
        ids=prep.units.ids,
        xy=prep.units.xy_km,
        population=both.weights[:, 0].copy(),
        labor_force=both.weights[:, 1].copy(),
        edges=edges,
        problem=pop_only,
        problem_both=both,
    )


def measure(case: Case, labels: np.ndarray) -> dict[str, Any]:
    """Deviation on both activities, contiguity and diameters of a plan."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    labels = np.asarray(labels, dtype=np.int64)
    p = int(labels.max()) + 1
    out: dict[str, Any] = {"p": p}
    for key, w in (("population", case.population), ("labor_force", case.labor_force)):
        sums = np.bincount(labels, weights=w, minlength=p)
        out[key] = float(np.abs(sums / (w.sum() / p) - 1).max())
    e = case.edges
    same = labels[e[:, 0]] == labels[e[:, 1]]
    n = labels.size
    g = sp.coo_matrix(
        (np.ones(int(same.sum())), (e[same, 0], e[same, 1])), shape=(n, n)
    )
    n_comp, _ = connected_components(g, directed=False)
    out["contiguous"] = n_comp == p
    diam = []
    for k in range(p):
        pts = case.xy[labels == k]
        if len(pts) > 40:
            from scipy.spatial import ConvexHull

            pts = pts[ConvexHull(pts).vertices]
        d = pts[:, None, :] - pts[None, :, :]
        diam.append(float(np.sqrt((d * d).sum(-1)).max()) if len(pts) > 1 else 0.0)
    out["max_diam"] = max(diam)
    out["median_diam"] = float(np.median(diam))
    return out


def _row(
    case: Case,
    method: str,
    balanced: str,
    labels: np.ndarray,
    first: float | None,
    final: float,
    note: str = "",
) -> Row:
    m = measure(case, labels)
    return Row(
        case=case.name,
        method=method,
        balanced_on=balanced,
        first_feasible_s=first,
        final_s=final,
        p=m["p"],
        dev_population=m["population"],
        dev_labor_force=m["labor_force"],
        contiguous=m["contiguous"],
        max_diam_km=m["max_diam"],
        median_diam_km=m["median_diam"],
        note=note,
    )


def warm_up() -> float:
    """Load our compiled kernels before any timing; return the seconds it took.

    Like importing GerryChain or spopt (not timed either), this happens once
    per process; a design run does it on its first call.
    """
    from territory.optimize.compiled import wait_until_ready

    t0 = time.perf_counter()
    wait_until_ready(t0 + 600)
    return time.perf_counter() - t0


def run_ours(case: Case, both: bool, time_limit: float, seed: int) -> Row:
    """Our engine on the case's problem (population only, or both activities)."""
    from territory.optimize import DesignOptions, design

    problem = case.problem_both if both else case.problem
    first: list[float] = []
    t0 = time.perf_counter()

    def progress(best: float, imbalance: float, elapsed: float) -> None:
        if best < float("inf") and not first:
            first.append(time.perf_counter() - t0)

    res = design(
        problem,
        DesignOptions(
            n_territories=case.p, seed=seed, time_limit_s=time_limit, progress=progress
        ),
    )
    final = time.perf_counter() - t0
    # a proven infeasible request reports the plan within its widened
    # tolerances through progress: that is not a feasible plan
    feasible = res.status in ("feasible", "optimal")
    return _row(
        case,
        "territory (ours)",
        "population + labour force" if both else "population",
        res.labels,
        first[0] if first and feasible else None,
        final,
        f"status {res.status}",
    )


def _gerrychain_graph(case: Case) -> Any:
    import networkx as nx
    from gerrychain import Graph

    g = nx.Graph()
    for i in range(len(case.ids)):
        g.add_node(i, population=float(case.population[i]))
    g.add_edges_from((int(a), int(b)) for a, b in case.edges)
    return Graph.from_networkx(g)


def run_gerrychain(case: Case, time_limit: float, seed: int) -> list[Row]:
    """recursive_tree_part, then ReCom from it for the rest of the budget."""
    import random

    from gerrychain import MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import contiguous, within_percent_of_ideal_population
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally

    rng = random.Random(seed)
    t0 = time.perf_counter()
    graph = _gerrychain_graph(case)
    ideal = float(case.population.sum()) / case.p
    assignment = recursive_tree_part(
        graph, range(case.p), ideal, "population", TOL, rng=rng
    )
    first = time.perf_counter() - t0
    n = len(case.ids)

    def labels_of(assign: Any) -> np.ndarray:
        lab = np.zeros(n, dtype=np.int64)
        for node, part in dict(assign).items():
            lab[int(node)] = int(part)
        return lab

    start = labels_of(assignment)
    rows = [
        _row(
            case,
            "GerryChain recursive_tree_part",
            "population",
            start,
            first,
            first,
        )
    ]
    partition = Partition(
        graph, assignment, updaters={"population": Tally("population", "population")}
    )

    def proposal(part: Any, *, rng: Any = rng) -> Any:
        return recom(part, "population", ideal, TOL, rng=rng)

    chain = MarkovChain(
        proposal_fn=proposal,
        constraints=[contiguous, within_percent_of_ideal_population(partition, TOL)],
        acceptance_fn=always_accept,
        initial_partition=partition,
        total_steps=10**9,
        rng=rng,
    )
    best = start
    best_diam = measure(case, start)["max_diam"]
    steps = 0
    deadline = t0 + time_limit
    for state in chain:
        steps += 1
        lab = labels_of(state.assignment)
        d = measure(case, lab)["max_diam"]
        if d < best_diam:
            best, best_diam = lab, d
        if time.perf_counter() >= deadline:
            break
    rows.append(
        _row(
            case,
            "GerryChain ReCom (best of chain)",
            "population",
            best,
            first,
            time.perf_counter() - t0,
            f"{steps} steps",
        )
    )
    return rows


def _spopt_inputs(case: Case) -> tuple[Any, Any]:
    import geopandas as gpd
    from libpysal.weights import W

    nb: dict[int, list[int]] = {i: [] for i in range(len(case.ids))}
    for a, b in case.edges.tolist():
        nb[a].append(b)
        nb[b].append(a)
    w = W(nb, silence_warnings=True)
    gdf = gpd.GeoDataFrame(
        {
            "x": case.xy[:, 0],
            "y": case.xy[:, 1],
            "population": case.population,
        },
        geometry=gpd.points_from_xy(case.xy[:, 0], case.xy[:, 1]),
    )
    return gdf, w


def run_spopt(case: Case, seed: int) -> list[Row]:
    """AZP (p regions, compact on x, y) and max-p (population floor)."""
    from spopt.region import AZP, MaxPHeuristic

    gdf, w = _spopt_inputs(case)
    rows = []
    t0 = time.perf_counter()
    azp = AZP(gdf, w, ["x", "y"], n_clusters=case.p, random_state=seed)
    azp.solve()
    final = time.perf_counter() - t0
    lab = np.asarray(azp.labels_, dtype=np.int64)
    lab = np.unique(lab, return_inverse=True)[1].reshape(-1)
    m = measure(case, lab)
    rows.append(
        _row(
            case,
            "spopt AZP",
            "none (x, y compactness)",
            lab,
            final if m["population"] <= TOL and m["contiguous"] else None,
            final,
        )
    )
    np.random.seed(seed)  # max-p draws from NumPy's global generator
    t0 = time.perf_counter()
    floor = 0.95 * float(case.population.sum()) / case.p
    mp = MaxPHeuristic(gdf, w, ["x", "y"], "population", floor, top_n=2)
    mp.solve()
    final = time.perf_counter() - t0
    lab = np.asarray(mp.labels_, dtype=np.int64)
    lab = np.unique(lab, return_inverse=True)[1].reshape(-1)
    m = measure(case, lab)
    rows.append(
        _row(
            case,
            "spopt max-p",
            "population floor 95 % of mean",
            lab,
            final if m["population"] <= TOL and m["contiguous"] else None,
            final,
            f"{m['p']} regions",
        )
    )
    return rows


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def table(rows: list[Row]) -> str:
    """Markdown table of the rows."""
    head = (
        "| case | method | balanced on | p | first feasible s | final s | "
        "pop dev | labour dev | contiguous | max diam km | median diam km | note |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|\n"
    )
    return head + "".join(
        f"| {r.case} | {r.method} | {r.balanced_on} | {r.p} | "
        f"{_fmt(r.first_feasible_s)} | {r.final_s:.1f} | {r.dev_population:.2%} | "
        f"{r.dev_labor_force:.2%} | {'yes' if r.contiguous else 'no'} | "
        f"{r.max_diam_km:,.0f} | {r.median_diam_km:,.0f} | {r.note} |\n"
        for r in rows
    )


@dataclass
class Floor:
    """The proven floor under any plan's max diameter on a case."""

    case: str
    km: float
    unit_id: str
    partner_id: str  # "" when the unit alone proves it
    seconds: float


def floor_of(case: Case) -> Floor:
    """No plan within ±5 % on population has every territory narrower than this."""
    from territory.optimize import DesignOptions
    from territory.optimize.bounds import diameter_lower_bound

    t0 = time.perf_counter()
    problem = case.problem
    targets = DesignOptions(n_territories=case.p).targets(problem)
    got = diameter_lower_bound(problem, targets, problem.tolerances)
    partner = case.ids[got.partner] if got.partner >= 0 else ""
    seconds = time.perf_counter() - t0
    return Floor(case.name, got.value, case.ids[got.unit], partner, seconds)


def ratios(rows: list[Row], floors: dict[str, Floor] | None = None) -> str:
    """Our time to feasible against GerryChain; our max diameter against peers
    and against the proven floor."""
    lines = []
    for case in sorted({r.case for r in rows}):
        mine = [r for r in rows if r.case == case and r.method == "territory (ours)"]
        ours_pop = next((r for r in mine if r.balanced_on == "population"), None)
        if ours_pop is None:
            continue
        for r in rows:
            if r.case != case or r.method == "territory (ours)":
                continue
            ref = ours_pop
            parts = [f"{case}: ours (population) / {r.method}:"]
            if (
                r.method.startswith("GerryChain")
                and r.first_feasible_s
                and ref.first_feasible_s is not None
            ):
                parts.append(
                    f"time to feasible {ref.first_feasible_s:.2f} s / "
                    f"{r.first_feasible_s:.2f} s = "
                    f"{ref.first_feasible_s / r.first_feasible_s:.2f}"
                )
            parts.append(
                f"max diameter {ref.max_diam_km:,.0f} / {r.max_diam_km:,.0f} km = "
                f"{ref.max_diam_km / r.max_diam_km:.2f}"
            )
            lines.append("- " + " ".join(parts))
        fl = (floors or {}).get(case)
        if fl is not None:
            who = (
                f"counties {fl.unit_id} and {fl.partner_id} cannot both sit in "
                "narrower territories"
                if fl.partner_id
                else f"the territory of county {fl.unit_id} cannot be narrower"
            )
            lines.append(
                f"- {case}: ours (population) / proven floor for any plan within "
                f"±5 % on population: max diameter {ours_pop.max_diam_km:,.2f} / "
                f"{fl.km:,.2f} km = {ours_pop.max_diam_km / fl.km:.4f} ({who}; "
                f"{fl.seconds:.1f} s to prove)"
            )
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this script's section of docs/benchmarks.md (or append it)."""
    import re

    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = f"{SECTION}\n\n{text.strip()}\n\n"
    if pattern.search(doc):
        doc = pattern.sub(lambda _: block, doc)
    else:
        doc = doc.rstrip() + "\n\n" + block
    DOC.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table and the ratios, and record them."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("TERRITORY_BENCH_DB", DEFAULT_DB))
    ap.add_argument("--case", action="append", choices=["us30", "se20"])
    ap.add_argument("--time-limit", type=float, default=55.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--skip", action="append", default=[], help="gerrychain, spopt")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from territory.services.store import open_store

    engine = open_store(args.db)
    load_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    began = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    loaded_s = warm_up()
    rows: list[Row] = []
    missing: list[str] = []
    floors: dict[str, Floor] = {}
    for name in args.case or ["se20", "us30"]:
        case = load_case(engine, name)
        floors[name] = floor_of(case)
        rows.append(run_ours(case, False, args.time_limit, args.seed))
        print(table(rows[-1:]), flush=True)
        if name == "se20":
            rows.append(run_ours(case, True, args.time_limit, args.seed))
            print(table(rows[-1:]), flush=True)
        if "gerrychain" not in args.skip:
            try:
                rows += run_gerrychain(case, args.time_limit, args.seed)
                print(table(rows[-2:]), flush=True)
            except ImportError as exc:
                missing.append(f"gerrychain ({exc})")
        if name == "se20" and "spopt" not in args.skip:
            try:
                rows += run_spopt(case, args.seed)
                print(table(rows[-2:]), flush=True)
            except ImportError as exc:
                missing.append(f"spopt ({exc})")
    text = table(rows)
    rat = ratios(rows, floors)
    print(text)
    print(rat)
    if missing:
        print("not installed:", "; ".join(missing))
    if not args.no_write:
        write_section(
            f"Measured {began} (load average {load_start} at the start) on "
            f"{machine()} by `benchmarks/bench_peers.py` (seed {args.seed}, "
            f"{args.time_limit:g} s budget for ours and for ReCom). Our compiled "
            f"kernels were loaded before the timings ({loaded_s:.1f} s, once per "
            "process, as the peers' imports are).\n\n"
            + text
            + "\nRatios (below 1: ours is faster / more compact):\n\n"
            + rat
            + ("\n\nNot installed: " + "; ".join(missing) if missing else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
