"""Real-data design targets of `territory design` (issue 3), measured end to end.

Usage::

    .venv/bin/python benchmarks/bench_design_real.py [--db URL] [--case a|b|c|d]...
        [--time-limit S] [--seed N] [--repeat N] [--no-write] [--prepare]

Cases:

a. the 3,108 counties of the contiguous US plus DC -> 30 territories on 2019
   population ±5 %, every territory contiguous (three island counties
   bridged), target < 60 s end to end with the command's default budget
   (``--time-limit 60`` bounds reading, search and saving);
b. seven Southeast states (AL FL GA MS NC SC TN) -> 20 territories on
   population ±5 % and labour force ±5 %, target < 60 s. The engine proves
   this request infeasible (Miami-Dade's territory must hold Collier and
   Monroe, whose labour force is +5.48 %); b' is the way through it names:
   labour force widened to what that territory needs;
c. the active STANDARD ZIP units with 1,000,000 sample accounts -> 500
   territories on account count ±5 %, target < 5 min;
d. 100 territories at ±5 % over the US: time to the diagnosis (which units
   make it impossible, and the provable lower bound), the tolerance reached,
   and the documented way through (--oversize own-territory, d').

The store must hold the counties and ZIP units of every state and the sample
accounts; ``--prepare`` loads them (``load_us`` for both levels, then
1,000,000 sample accounts with seed 0). Each case runs through the same
service as the CLI (``design_territories``): reading the store, solving and
saving the model, so the times include everything a user waits for. The
table is printed and written into ``docs/benchmarks.md`` under
``## Real-data design`` (with the machine and date), replacing that section.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Real-data design"
DEFAULT_DB = f"sqlite:///{ROOT / 'benchmarks' / 'out' / 'design_us.db'}"
SOUTHEAST = ("AL", "FL", "GA", "MS", "NC", "SC", "TN")
NON_CONTIGUOUS = ("AK", "HI")


def contiguous_states() -> tuple[str, ...]:
    """The 48 contiguous states and DC."""
    from territory.io.usdata import STATE_FIPS

    return tuple(sorted(s for s in STATE_FIPS.values() if s not in NON_CONTIGUOUS))


@dataclass
class Row:
    """One measured case."""

    case: str
    target: str
    n_units: int
    p: int
    status: str
    feasible: bool
    contiguous: bool
    worst: str
    max_diam_km: float
    median_diam_km: float
    first_feasible_s: float | None
    solve_s: float
    total_s: float
    note: str = ""
    message: str = ""


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    if not s:
        return 0.0
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _run(engine: Any, case: str, target: str, request: Any, note: str = "") -> Row:
    from territory.errors import ConvergenceError, InfeasibleError
    from territory.services.design import design_territories

    first: list[float] = []

    def progress(best: float, imbalance: float, elapsed: float) -> None:
        if best < float("inf") and not first:
            first.append(elapsed)

    t0 = time.perf_counter()
    try:
        report = design_territories(engine, request, actor="bench", progress=progress)
    except (ConvergenceError, InfeasibleError) as exc:
        reached = exc.details.get("reached", {})
        proven = isinstance(exc, InfeasibleError)
        stranded = exc.details.get("stranded_units", [])
        why = "; ".join(
            f"{s['unit']} stranded (closest: {'+'.join(s['closest'])}: "
            + ", ".join(f"{a} {d:+.2%}" for a, d in s["deviations"].items())
            + ")"
            for s in stranded
        )
        return Row(
            case=case,
            target=target,
            n_units=0,
            p=request.n_territories or 0,
            status=("infeasible (proven)" if proven else "not feasible")
            + f" ({exc.code})",
            feasible=False,
            contiguous=bool(exc.details.get("contiguous")),
            worst=", ".join(f"{a} ±{v:.2%}" for a, v in reached.items()),
            max_diam_km=0.0,
            median_diam_km=0.0,
            first_feasible_s=None,
            solve_s=float(exc.details.get("elapsed_s", 0.0)),
            total_s=time.perf_counter() - t0,
            note=" ".join(x for x in (note, why) if x),
            message=str(exc),
        )
    total = time.perf_counter() - t0
    diam = [t.diameter_km for t in report.territories]
    worst = ", ".join(
        f"{a} ±{report.max_abs_deviation[a]:.2%}" for a in report.activities
    )
    bridges = "; ".join(
        f"{report.unit_names.get(a, a)}–{report.unit_names.get(b, b)}"
        for a, b, _ in report.bridges
    )
    return Row(
        case=case,
        target=target,
        n_units=len(report.assignment),
        p=len(report.territories),
        status=report.status,
        feasible=report.status in ("feasible", "optimal"),
        contiguous=report.contiguous,
        worst=worst,
        max_diam_km=max(diam),
        median_diam_km=_median(diam),
        first_feasible_s=first[0] if first else None,
        solve_s=report.solve_s,
        total_s=total,
        note=(
            f"read {report.read_s:.1f} s, save {report.save_s:.1f} s. {note}"
            + (f" bridges: {bridges}" if bridges else "")
        ).strip(),
    )


def case_a(engine: Any, args: argparse.Namespace) -> list[Row]:
    from territory.services.design import DesignRequest

    req = DesignRequest(
        model="bench-a-us-30",
        balance=(("population", 0.05),),
        n_territories=30,
        states=contiguous_states(),
        time_limit_s=args.time_limit or 60.0,
        seed=args.seed,
        replace=True,
    )
    return [_run(engine, "a", "< 60 s", req)]


def case_b(engine: Any, args: argparse.Namespace) -> list[Row]:
    from territory.services.design import DesignRequest

    req = DesignRequest(
        model="bench-b-southeast-20",
        balance=(("population", 0.05), ("labor_force", 0.05)),
        n_territories=20,
        states=SOUTHEAST,
        time_limit_s=args.time_limit or 60.0,
        seed=args.seed,
        replace=True,
    )
    rows = [_run(engine, "b", "< 60 s", req)]
    wider = dataclasses.replace(
        req,
        model="bench-b-southeast-20-wider",
        balance=(("population", 0.05), ("labor_force", 0.055)),
    )
    rows.append(
        _run(
            engine,
            "b'",
            "way through: labor_force ±5.5 %",
            wider,
            note="the tolerance the diagnosis of b names",
        )
    )
    return rows


def case_c(engine: Any, args: argparse.Namespace) -> list[Row]:
    from territory.services.design import DesignRequest

    req = DesignRequest(
        model="bench-c-zip-500",
        balance=(("accounts", 0.05),),
        n_territories=500,
        level="zip",
        time_limit_s=args.time_limit or 290.0,
        seed=args.seed,
        replace=True,
    )
    return [_run(engine, "c", "< 300 s", req)]


def case_d(engine: Any, args: argparse.Namespace) -> list[Row]:
    from territory.errors import InfeasibleError
    from territory.services.design import DesignRequest, design_territories

    req = DesignRequest(
        model="bench-d-us-100",
        balance=(("population", 0.05),),
        n_territories=100,
        states=contiguous_states(),
        time_limit_s=args.time_limit or 60.0,
        seed=args.seed,
        replace=True,
    )
    said: list[float] = []
    t0 = time.perf_counter()

    def notify(message: str) -> None:
        said.append(time.perf_counter() - t0)
        if args.verbose:
            print(message, flush=True)

    rows: list[Row] = []
    try:
        design_territories(engine, req, actor="bench", notify=notify)
        rows.append(
            Row(
                "d",
                "diagnosis in seconds",
                0,
                100,
                "feasible?!",
                True,
                True,
                "",
                0,
                0,
                None,
                0,
                time.perf_counter() - t0,
            )
        )
    except InfeasibleError as exc:
        total = time.perf_counter() - t0
        reached = exc.details.get("reached", {})
        bound = exc.details.get("lower_bounds", {})
        over = exc.details.get("oversize_units", {})
        rows.append(
            Row(
                case="d",
                target="diagnosis within seconds",
                n_units=3108,
                p=100,
                status="infeasible (diagnosed)",
                feasible=False,
                contiguous=bool(exc.details.get("contiguous")),
                worst=", ".join(f"{a} ±{v:.2%}" for a, v in reached.items()),
                max_diam_km=0.0,
                median_diam_km=0.0,
                first_feasible_s=None,
                solve_s=exc.details.get("elapsed_s", 0.0),
                total_s=total,
                note=(
                    f"diagnosis printed after {said[0]:.1f} s, error after "
                    f"{total:.1f} s; lower bound "
                    + ", ".join(f"{a} ≥ {v:.2%}" for a, v in bound.items())
                    + f"; oversize units: {', '.join(over.get('population', [])[:8])}"
                ),
                message=str(exc),
            )
        )
    way = DesignRequest(
        model="bench-d-us-100-own",
        balance=(("population", 0.05),),
        n_territories=100,
        states=contiguous_states(),
        time_limit_s=args.time_limit or 60.0,
        seed=args.seed,
        replace=True,
        oversize="own-territory",
    )
    rows.append(
        _run(
            engine,
            "d'",
            "way through: --oversize own-territory",
            way,
            note="oversize units fill their own territory worth several reps.",
        )
    )
    return rows


CASES = {"a": case_a, "b": case_b, "c": case_c, "d": case_d}


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def table(rows: list[Row]) -> str:
    head = (
        "| case | target | units | p | status | contiguous | worst deviation | "
        "max / median diameter km | first feasible s | search s | total s | note |\n"
        "|---|---|---:|---:|---|---|---|---|---:|---:|---:|---|\n"
    )
    body = "".join(
        f"| {r.case} | {r.target} | {r.n_units:,} | {r.p} | {r.status} | "
        f"{'yes' if r.contiguous else 'no'} | {r.worst} | "
        f"{r.max_diam_km:,.0f} / {r.median_diam_km:,.0f} | "
        f"{_fmt(r.first_feasible_s)} | "
        f"{r.solve_s:.1f} | {r.total_s:.1f} | {r.note} |\n"
        for r in rows
    )
    return head + body


def machine() -> str:
    """One line about the machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores (shared with other jobs), Python "
        f"{platform.python_version()}, load average {load} (1/5/15 min) at the end"
    )


def write_section(text: str, cases: list[str]) -> None:
    """Write this run's block into the section of docs/benchmarks.md.

    Each set of cases has its own block between ``<!-- bench_design_real:
    CASES -->`` markers, so a run of case c leaves the block of a, b, d alone.
    A block is replaced in place, or added at the end of the section.
    """
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    key = ",".join(cases)
    start, end = (
        f"<!-- bench_design_real: {key} -->",
        f"<!-- /bench_design_real: {key} -->",
    )
    block = f"{start}\n{text.strip()}\n{end}\n"
    if start in doc and end in doc:
        i, j = doc.index(start), doc.index(end) + len(end) + 1
        doc = doc[:i] + block + doc[j:]
    else:
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
        found = pattern.search(doc)
        if found:
            body = found.group(0).rstrip() + "\n\n" + block + "\n"
            doc = doc[: found.start()] + body + doc[found.end() :]
        else:
            doc = doc.rstrip() + f"\n\n{SECTION}\n\n{block}\n"
    DOC.write_text(doc, encoding="utf-8")


def prepare(engine: Any) -> None:
    """Load every county and ZIP unit and 1,000,000 sample accounts."""
    from territory.services.geodata import generate_sample_accounts, load_us

    load_us(engine, level="county")
    load_us(engine, level="zip")
    generate_sample_accounts(engine, 1_000_000, seed=0)


def _median_row(rows: list[Row]) -> Row:
    """The run with the median total time, its note naming every run's total."""
    ordered = sorted(rows, key=lambda r: r.total_s)
    mid = ordered[(len(ordered) - 1) // 2]
    if len(rows) > 1:
        totals = ", ".join(f"{r.total_s:.1f}" for r in rows)
        mid = dataclasses.replace(
            mid, note=f"median of {len(rows)} runs (totals {totals} s). {mid.note}"
        )
    return mid


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases, print the table, and record it."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("TERRITORY_BENCH_DB", DEFAULT_DB))
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per case (median)")
    ap.add_argument("--verbose", action="store_true", help="print the diagnoses")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--prepare", action="store_true")
    args = ap.parse_args(argv)
    from territory.services.store import open_store

    engine = open_store(args.db)
    if args.prepare:
        prepare(engine)
    load_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    began = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows: list[Row] = []
    cases = args.case or sorted(CASES)
    for name in cases:
        runs: dict[str, list[Row]] = {}
        for _ in range(max(1, args.repeat)):
            for row in CASES[name](engine, args):
                runs.setdefault(row.case, []).append(row)
                if args.verbose and row.message:
                    print(row.message, flush=True)
        for group in runs.values():
            rows.append(_median_row(group))
            print(table(rows[-1:]), flush=True)
    text = table(rows)
    print(text)
    if not args.no_write:
        write_section(
            f"Measured {began} (load average {load_start} at the start) on "
            f"{machine()} by `benchmarks/bench_design_real.py "
            + " ".join(f"--case {c}" for c in cases)
            + (f" --repeat {args.repeat}" if args.repeat > 1 else "")
            + f"` (seed {args.seed}). Times include reading the store, the search "
            "and saving the model (the store holds 1,000,000 sample accounts, "
            "all assigned when a design covers their units).\n\n" + text,
            cases,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
