"""Time loading every US county with adjacency into SQLite and PostgreSQL.

Runs ``services.geodata.load_us`` (all 3,142 counties, queen adjacency:
read the shipped files, build polygons and adjacency, write units, metrics,
sources and neighbour pairs in one transaction) three times per store and
reports the median, with the median of each step. Optionally also times a
ZIP-level load and sample-account generation.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--repeat 3] [--pg URL]
        [--zip] [--sample N] [--no-write]

The PostgreSQL run uses a private schema in the database at ``--pg``
(default ``TERRITORY_TEST_POSTGRES_URL`` or the local ``test`` database),
dropped afterwards. The result table is written into ``docs/benchmarks.md``
between this benchmark's markers; other sections are left alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from territory.services.geodata import generate_sample_accounts, load_us
from territory.storage.engine import make_engine, migrate

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START = "<!-- bench_load:start -->"
END = "<!-- bench_load:end -->"
PG_DEFAULT = os.environ.get(
    "TERRITORY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TARGET_S = 10.0


@contextmanager
def sqlite_store() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_store(url: str) -> Iterator[Engine]:
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Return wall seconds, CPU seconds of this process, and the result.

    CPU time shows the work when other jobs share the machine; for
    PostgreSQL it leaves out the server's share.
    """
    c0 = time.process_time()
    seconds, out = timed(fn)
    return seconds, time.process_time() - c0, out


def bench_store(
    name: str, engine: Engine, repeat: int, zip_level: bool, sample: int
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    runs: list[float] = []
    cpus: list[float] = []
    steps: dict[str, list[float]] = {}
    report = None
    for _ in range(repeat):
        seconds, cpu, report = timed_cpu(lambda: load_us(engine))
        runs.append(seconds)
        cpus.append(cpu)
        for step, s in report.timings_s.items():  # type: ignore[attr-defined]
            steps.setdefault(step, []).append(s)
    assert report is not None
    rows.append(
        {
            "store": name,
            "job": "load-us, 3,142 counties, queen",
            "units": report.n_units,  # type: ignore[attr-defined]
            "pairs": report.n_pairs,  # type: ignore[attr-defined]
            "median_s": statistics.median(runs),
            "cpu_s": statistics.median(cpus),
            "runs_s": runs,
            "steps": {k: statistics.median(v) for k, v in steps.items()},
        }
    )
    if zip_level:
        seconds, cpu, zr = timed_cpu(lambda: load_us(engine, level="zip"))
        rows.append(
            {
                "store": name,
                "job": "load-us --level zip, all states",
                "units": zr.n_units,  # type: ignore[attr-defined]
                "pairs": zr.n_pairs,  # type: ignore[attr-defined]
                "median_s": seconds,
                "cpu_s": cpu,
                "runs_s": [seconds],
                "steps": dict(zr.timings_s),  # type: ignore[attr-defined]
            }
        )
    if sample:
        seconds, cpu, sr = timed_cpu(
            lambda: generate_sample_accounts(engine, sample, seed=1)
        )
        rows.append(
            {
                "store": name,
                "job": f"sample-accounts --n {sample:,}",
                "units": sr.n_accounts,  # type: ignore[attr-defined]
                "pairs": sr.n_sales_rows + sr.n_opportunities,  # type: ignore[attr-defined]
                "median_s": seconds,
                "cpu_s": cpu,
                "runs_s": [seconds],
                "steps": {},
            }
        )
    return rows


def render(rows: list[dict[str, object]], repeat: int) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "## US data load (`benchmarks/bench_load.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average "
        f"{os.getloadavg()[0]:.1f} at the end); median of {repeat} runs for "
        f"the county load. Target: all 3,142 counties with adjacency in under "
        f"{TARGET_S:.0f} s. CPU is this process's CPU time (PostgreSQL's server "
        "share not included): on a busy machine it shows the work better than "
        "wall time.",
        "",
        "| store | job | units | pairs / rows | median (s) | CPU (s) | runs (s) "
        "| target |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        runs = ", ".join(f"{x:.2f}" for x in r["runs_s"])  # type: ignore[attr-defined]
        median = float(r["median_s"])  # type: ignore[arg-type]
        ok = (
            ("met" if median < TARGET_S else "MISSED")
            if "counties" in str(r["job"])
            else ""
        )
        lines.append(
            f"| {r['store']} | {r['job']} | {r['units']:,} | {r['pairs']:,} | "
            f"{median:.2f} | {float(r['cpu_s']):.2f} | {runs} | {ok} |"  # type: ignore[arg-type]
        )
    lines += ["", "Median seconds per step of the county load:", ""]
    county = [r for r in rows if "counties" in str(r["job"])]
    step_names = list(county[0]["steps"]) if county else []  # type: ignore[call-overload]
    lines.append("| step | " + " | ".join(str(r["store"]) for r in county) + " |")
    lines.append("|---|" + "---:|" * len(county))
    for step in step_names:
        cells = " | ".join(
            f"{r['steps'][step]:.2f}"  # type: ignore[index]
            for r in county
        )
        lines.append(f"| {step} | {cells} |")
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    block = f"{START}\n{section}{END}\n"
    if DOC.exists():
        doc = DOC.read_text(encoding="utf-8")
        if START in doc and END in doc:
            head, rest = doc.split(START, 1)
            _, tail = rest.split(END, 1)
            doc = head + block + tail.lstrip("\n")
        else:
            doc = doc.rstrip("\n") + "\n\n" + block
    else:
        doc = "# Benchmarks\n\n" + block
    DOC.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--zip", action="store_true", help="also a ZIP-level load")
    parser.add_argument("--sample", type=int, default=0, help="also N sample accounts")
    parser.add_argument("--no-write", action="store_true", help="do not edit docs")
    args = parser.parse_args(argv)

    rows: list[dict[str, object]] = []
    with sqlite_store() as engine:
        rows += bench_store("SQLite", engine, args.repeat, args.zip, args.sample)
    if not args.no_pg:
        with postgres_store(args.pg) as engine:
            rows += bench_store(
                "PostgreSQL", engine, args.repeat, args.zip, args.sample
            )
    section = render(rows, args.repeat)
    sys.stdout.write(section)
    if not args.no_write:
        write_section(section)
        sys.stdout.write(f"\nwritten to {DOC}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
