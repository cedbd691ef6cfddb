"""Run the design engine on every shared benchmark instance and record the results.

Usage::

    .venv/bin/python benchmarks/bench_shared.py [--class dtdp-grid|dtdp-planar|
        commdis-n1000|commdis-n2500|commdis-n5000|commdis-n10000]...
        [--time-limit S] [--seed N] [--jobs J] [--no-write]

One run per instance. The default time limit is 60 s for n <= 2500 and 300 s
for larger instances (the targets of issue 3); ``--time-limit`` overrides it
for a shorter sweep, and the limit actually used is written with the results.
Each instance runs in its own process through ``territory bench solve``, so
``time_s`` includes loading the compiled search (compiled once, untimed,
before the sweep: a run that must compile still answers within its limit, but
with a weaker pure-Python plan). The per-instance and
per-class tables are printed and written into ``docs/benchmarks.md`` under
the section ``## Shared benchmark instances``, replacing the rows of the
classes that were run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(
    os.environ.get("TERRITORY_BENCHMARKS") or ROOT.parent / "shared" / "benchmarks"
)
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Shared benchmark instances"
CLASSES = (
    "dtdp-grid",
    "dtdp-planar",
    "commdis-n1000",
    "commdis-n2500",
    "commdis-n5000",
    "commdis-n10000",
)


def instances() -> list[tuple[str, Path, int]]:
    """Return ``(class, path, n)`` for every instance, in manifest order."""
    out: list[tuple[str, Path, int]] = []
    with open(BENCH / "dtdp" / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(
                (f"dtdp-{row['family']}", BENCH / "dtdp" / row["file"], int(row["n"]))
            )
    with open(BENCH / "commdis-dl" / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(
                (
                    f"commdis-n{row['n']}",
                    BENCH / "commdis-dl" / row["file"],
                    int(row["n"]),
                )
            )
    return out


def machine() -> str:
    """CPU model, core count and load average."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores (shared with other jobs), "
        f"load average {load} (1/5/15 min) at the end"
    )


def engine_revision() -> str:
    """The checkout's commit, marked when the engine has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "src/territory"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} with uncommitted engine changes" if dirty else rev


def run_one(path: Path, limit: float, seed: int) -> dict[str, object]:
    """Solve one instance in a fresh process; return its JSON record."""
    exe = Path(sys.executable).with_name("territory")
    cmd = [
        str(exe),
        "bench",
        "solve",
        str(path),
        "--time-limit",
        str(limit),
        "--seed",
        str(seed),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"instance": path.stem, "error": done.stderr.strip()[-500:]}
    record: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return record


def _status(record: dict[str, object]) -> str:
    """The engine's status; ``infeasible`` means it proved no plan exists."""
    status = str(record.get("status", "—"))
    return "proven infeasible" if status == "infeasible" else status


def table(rows: list[dict[str, object]], limits: dict[str, float]) -> tuple[str, str]:
    """Markdown tables per instance and per class."""
    per = [
        "| class | instance | n | p | limit s | feasible | contiguous | objective "
        "| imbalance | engine status | time s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_class: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_class.setdefault(str(r["class"]), []).append(r)
        if "error" in r:
            per.append(f"| {r['class']} | {r['instance']} | | | | error | | | | | |")
            continue
        per.append(
            f"| {r['class']} | {r['instance']} | {r['n']} | {r['p']} | "
            f"{limits[str(r['class'])]:g} | {'yes' if r['feasible'] else 'no'} | "
            f"{'yes' if r['contiguous'] else 'no'} | {float(r['objective']):.4f} | "
            f"{float(r['imbalance']):.4g} | {_status(r)} | {float(r['time_s']):.1f} |"
        )
    cls = [
        "| class | instances | limit s | feasible | proven infeasible | contiguous "
        "| mean objective | mean objective (feasible only) | mean time s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in CLASSES:
        rs = [r for r in by_class.get(name, []) if "error" not in r]
        if not rs:
            continue
        feas = [r for r in rs if r["feasible"]]
        mean = sum(float(r["objective"]) for r in rs) / len(rs)
        mean_f = (
            (sum(float(r["objective"]) for r in feas) / len(feas))
            if feas
            else float("nan")
        )
        cls.append(
            f"| {name} | {len(by_class[name])} | {limits[name]:g} | "
            f"{len(feas)}/{len(rs)} | "
            f"{sum(r.get('status') == 'infeasible' for r in rs)}/{len(rs)} | "
            f"{sum(bool(r['contiguous']) for r in rs)}/{len(rs)} | "
            f"{mean:.4f} | {mean_f:.4f} | "
            f"{sum(float(r['time_s']) for r in rs) / len(rs):.1f} |"
        )
    return "\n".join(cls), "\n".join(per)


def write_doc(block: str, run_classes: list[str]) -> None:
    """Replace this run's classes' block in docs/benchmarks.md (section kept)."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n"
        text += (
            "Produced by `benchmarks/bench_shared.py`: one run per instance of\n"
            "`../shared/benchmarks`, objective = largest territory diameter as the\n"
            "benchmark defines it, feasible = imbalance B < 1e-6, contiguity reported\n"
            "apart. Each block below is one run of the script for the classes named.\n"
        )
    key = ", ".join(run_classes)
    marker_start = f"<!-- bench_shared: {key} -->"
    marker_end = f"<!-- /bench_shared: {key} -->"
    new = f"{marker_start}\n{block}\n{marker_end}"
    pattern = re.compile(re.escape(marker_start) + r".*?" + re.escape(marker_end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: new, text)
    else:
        # insert at the end of our section: before the next '## ' heading or
        # the start marker of another script's section, whichever comes first
        # (a block put between a marker and its heading is lost when that
        # script rewrites its section)
        start = text.index(SECTION)
        after = re.compile(r"\n(## |<!-- bench_(?!shared)\w+:start -->)")
        found = after.search(text, start + len(SECTION))
        nxt = found.start() if found else -1
        if nxt < 0:
            text = text.rstrip("\n") + "\n\n" + new + "\n"
        else:
            text = text[:nxt].rstrip("\n") + "\n\n" + new + "\n" + text[nxt:]
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Run the sweep."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--class", dest="classes", action="append", choices=CLASSES)
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per instance (default: 60 for n <= 2500, else 300)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="instances solved at once (each uses one core)",
    )
    ap.add_argument(
        "--only",
        action="append",
        default=None,
        help="run just these instance names (within the classes)",
    )
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = ap.parse_args(argv)
    chosen = args.classes or list(CLASSES)
    todo = [(c, p, n) for c, p, n in instances() if c in chosen]
    if args.only:
        todo = [t for t in todo if t[1].stem in set(args.only)]
    limits: dict[str, float] = {}
    for c, _p, n in todo:
        limits[c] = (
            args.time_limit if args.time_limit else (60.0 if n <= 2500 else 300.0)
        )
    # Load (or, after a change of the engine, compile) the compiled kernels once
    # before timing: a run that has to compile them answers on time, but with
    # the pure-Python fallback plan, which is not what this sweep measures.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; from territory.optimize.compiled import wait_until_ready;"
            " wait_until_ready(time.perf_counter() + 3600)",
        ],
        check=True,
    )
    started = dt.datetime.now(dt.UTC)
    revision = engine_revision()

    def job(item: tuple[str, Path, int]) -> dict[str, object]:
        c, path, _n = item
        rec = run_one(path, limits[c], args.seed)
        rec["class"] = c
        line = json.dumps(rec)
        sys.stderr.write(line + "\n")
        return rec

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(job, todo))
    per_class, per_instance = table(rows, limits)
    head = (
        f"### Run of {started:%Y-%m-%d %H:%M} UTC — "
        f"classes {', '.join(sorted(limits))}\n\n"
        f"Engine: `{revision}`. Machine: {machine()}; {args.jobs} instance(s) at a "
        f"time; seed {args.seed}; "
        "time limit per instance: "
        + ", ".join(f"{c} {limits[c]:g} s" for c in sorted(limits))
        + ".\n"
    )
    block = (
        f"{head}\n{per_class}\n\n<details><summary>Per instance</summary>\n\n"
        f"{per_instance}\n\n</details>\n"
    )
    sys.stdout.write(per_class + "\n\n" + per_instance + "\n")
    if not args.no_write:
        write_doc(block, sorted(limits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
