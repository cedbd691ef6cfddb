"""Time importing 1,000,000 accounts from CSV into SQLite and PostgreSQL.

Each run imports a synthetic accounts CSV end to end with
``services.importing.import_file``: read the file as text, type and validate
every row (vectorised), place each account (by its coordinates, or by its
ZIP code for the fifth without coordinates), and write them in one
transaction (``executemany`` on SQLite, ``COPY`` on PostgreSQL), commit
included. The store holds the ZIP units first (as after ``territory data
load-us --level zip``), so placement reads the ZIP directory from the store.

Side by side, the same pipeline and a naive ORM insert (``csv.DictReader``,
one mapped object per row, ``session.add``, one commit) import the first
100,000 rows; the report gives the ratio of their rates.

Usage::

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--repeat 3]
        [--orm-rows 100000] [--pg URL] [--no-write]

The PostgreSQL runs use a private schema at ``--pg`` (default
``TERRITORY_TEST_POSTGRES_URL`` or the local ``test`` database), dropped
afterwards. The result table is written into ``docs/benchmarks.md`` between
this benchmark's markers; other sections are left alone.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Engine, text
from sqlalchemy.orm import DeclarativeBase, Session

from territory.services.importing import import_file
from territory.storage.bulk import insert_columns
from territory.storage.engine import make_engine, migrate
from territory.storage.tables import account, geo_unit

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START = "<!-- bench_import:start -->"
END = "<!-- bench_import:end -->"
PG_DEFAULT = os.environ.get(
    "TERRITORY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TARGET_ROWS_PER_S = 100_000
INDUSTRIES = (
    "Technology",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Finance",
    "Energy",
    "Education",
    "Logistics",
)


# ------------------------------------------------------------------- stores


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


# --------------------------------------------------------------------- data


def zip_units() -> pl.DataFrame:
    """Return the packaged ZIP directory's ZIPs that have a centroid."""
    from territory.io.usdata import read_zip_directory

    return (
        read_zip_directory()
        .filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
        .select("zip", "lat", "lon", "state", "city", "county_fips")
    )


def load_zip_units(engine: Engine, zips: pl.DataFrame) -> None:
    with engine.begin() as conn:
        insert_columns(
            conn,
            geo_unit,
            {
                "kind": "zip",
                "id": zips.get_column("zip"),
                "name": zips.get_column("city"),
                "state": zips.get_column("state").str.slice(0, 2),
                "parent_id": zips.get_column("county_fips"),
                "centroid_lat": zips.get_column("lat"),
                "centroid_lon": zips.get_column("lon"),
            },
        )


def write_accounts_csv(path: Path, n_rows: int, zips: pl.DataFrame, seed: int) -> None:
    """Write ``n_rows`` synthetic accounts at real ZIP codes (seeded)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, zips.height, n_rows)
    z = zips[pick]
    ids = rng.permutation(n_rows)
    has_coords = rng.random(n_rows) < 0.8
    jitter_lat = rng.normal(0.0, 0.02, n_rows)
    jitter_lon = rng.normal(0.0, 0.02, n_rows)
    lat = np.clip(z.get_column("lat").to_numpy() + jitter_lat, -90, 90)
    lon = np.clip(z.get_column("lon").to_numpy() + jitter_lon, -180, 180)
    frame = pl.DataFrame(
        {
            "id": [f"ACC-{i:07d}" for i in ids],
            "name": [f"Sample Account {i}" for i in ids],
            "billing_street": [
                f"{n} Main Street" for n in rng.integers(1, 9999, n_rows)
            ],
            "billing_city": z.get_column("city"),
            "billing_state": z.get_column("state"),
            "billing_postal_code": z.get_column("zip"),
            "billing_country": "US",
            "industry": np.asarray(INDUSTRIES)[
                rng.integers(0, len(INDUSTRIES), n_rows)
            ],
            "annual_revenue": np.round(rng.lognormal(14, 1.5, n_rows), 2),
            "employees": rng.integers(1, 50_000, n_rows),
            "latitude": np.where(has_coords, np.round(lat, 6), np.nan),
            "longitude": np.where(has_coords, np.round(lon, 6), np.nan),
            "excluded_from_realign": rng.random(n_rows) < 0.05,
            "segment": np.asarray(["SMB", "Mid-Market", "Enterprise"])[
                rng.integers(0, 3, n_rows)
            ],
        }
    ).with_columns(pl.col("latitude", "longitude").fill_nan(None))
    frame.write_csv(path)


# ---------------------------------------------------------------- ORM naive


class _Base(DeclarativeBase):
    pass


class _AccountRow(_Base):
    __table__ = account


_FLOATS = ("annual_revenue", "latitude", "longitude")


def orm_insert(engine: Engine, path: Path) -> int:
    """Insert the file one ORM object per row: the naive baseline."""
    now = datetime.now(UTC)
    n = 0
    with path.open(encoding="utf-8", newline="") as f, Session(engine) as session:
        for rec in csv.DictReader(f):
            obj = _AccountRow(
                id=rec["id"],
                name=rec["name"],
                billing_street=rec["billing_street"] or None,
                billing_city=rec["billing_city"] or None,
                billing_state=rec["billing_state"] or None,
                billing_postal_code=rec["billing_postal_code"] or None,
                billing_country=rec["billing_country"] or None,
                industry=rec["industry"] or None,
                annual_revenue=(
                    float(rec["annual_revenue"]) if rec["annual_revenue"] else None
                ),
                employees=int(rec["employees"]) if rec["employees"] else None,
                latitude=float(rec["latitude"]) if rec["latitude"] else None,
                longitude=float(rec["longitude"]) if rec["longitude"] else None,
                excluded_from_realign=rec["excluded_from_realign"] == "true",
                placed_by="unplaced",
                custom_fields={"segment": rec["segment"]},
                created_at=now,
                updated_at=now,
            )
            session.add(obj)
            n += 1
        session.commit()
    return n


# -------------------------------------------------------------------- bench


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Return wall seconds, this process's CPU seconds (all threads) and result."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench_store(
    name: str,
    store: Callable[[], AbstractContextManager[Engine]],
    big: Path,
    small: Path,
    zips: pl.DataFrame,
    repeat: int,
) -> dict[str, object]:
    times: list[float] = []
    cpu_times: list[float] = []
    placement: dict[str, int] = {}
    for i in range(repeat):
        with store() as engine:
            load_zip_units(engine, zips)
            seconds, cpu, report = timed_cpu(
                lambda engine=engine: import_file(
                    engine, "accounts", big, actor="bench"
                )
            )
            times.append(seconds)
            cpu_times.append(cpu)
            placement = dict(report.placement)  # type: ignore[attr-defined]
            assert report.rows_imported == report.rows_read  # type: ignore[attr-defined]
            sys.stdout.write(
                f"  {name} run {i + 1}: {seconds:.2f} s wall, {cpu:.2f} s CPU "
                f"(load {os.getloadavg()[0]:.1f})\n"
            )
            sys.stdout.flush()
    with store() as engine:
        load_zip_units(engine, zips)
        small_s, _ = timed(
            lambda: import_file(engine, "accounts", small, actor="bench")
        )
    with store() as engine:
        orm_s, n_orm = timed(lambda: orm_insert(engine, small))
    n_big = pl.scan_csv(big).select(pl.len()).collect().item()
    n_small = int(n_orm)  # type: ignore[call-overload]
    median = statistics.median(times)
    return {
        "store": name,
        "rows": n_big,
        "median_s": median,
        "runs": times,
        "cpu_s": statistics.median(cpu_times),
        "rows_per_s": n_big / median,
        "small_rows": n_small,
        "small_s": small_s,
        "orm_s": orm_s,
        "ratio": (n_small / small_s) / (n_small / orm_s),
        "placement": placement,
    }


def render(rows: list[dict[str, object]], repeat: int) -> str:
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Account import (`benchmarks/bench_import.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load:.1f} at "
        "the end).",
        "",
        f"Import of {rows[0]['rows']:,} synthetic accounts from CSV, end to end "
        "(read as text, vectorised validation, placement, one-transaction write, "
        f"commit), median of {repeat} runs on a fresh store holding the ZIP "
        f"units; target {TARGET_ROWS_PER_S:,} rows/s. The ORM baseline inserts "
        f"the first {rows[0]['small_rows']:,} rows one mapped object per row; "
        "the ratio compares rates on those rows.",
        "",
        "| store | rows | median s | rows/s | target met | runs (s) | "
        "client CPU s | 100k rows: import s | 100k rows: naive ORM s | speed-up |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        runs = ", ".join(f"{t:.2f}" for t in r["runs"])  # type: ignore[attr-defined]
        met = "yes" if float(r["rows_per_s"]) >= TARGET_ROWS_PER_S else "no"  # type: ignore[arg-type]
        lines.append(
            f"| {r['store']} | {r['rows']:,} | {r['median_s']:.2f} | "
            f"{r['rows_per_s']:,.0f} | {met} | {runs} | {r['cpu_s']:.2f} | "
            f"{r['small_s']:.2f} | "
            f"{r['orm_s']:.2f} | {r['ratio']:.1f}x |"
        )
    placement = rows[0]["placement"]
    lines += [
        "",
        "Placement of the 1M accounts: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(placement.items()))  # type: ignore[attr-defined]
        + ".",
        "",
        "*client CPU s* is the median CPU time of the importing process (all "
        "its threads): on SQLite it is the whole cost of the import, so it "
        "shows the rate an idle machine reaches when other work shares the "
        "CPUs; on PostgreSQL the server's own work is not in it.",
        "",
    ]
    return "\n".join(lines)


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
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--seed", type=int, default=20270101)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    zips = zip_units()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "accounts.csv"
        small = Path(tmp) / "accounts_small.csv"
        write_accounts_csv(big, args.rows, zips, args.seed)
        pl.read_csv(big, infer_schema=False).head(args.orm_rows).write_csv(small)
        sys.stdout.write(
            f"{args.rows:,} accounts, {big.stat().st_size / 1e6:.0f} MB of CSV\n"
        )
        stores = {
            "SQLite": sqlite_store,
            "PostgreSQL": lambda: postgres_store(args.pg),
        }
        wanted = {s.strip().lower() for s in args.stores.split(",")}
        for name, store in stores.items():
            if name.lower() not in wanted:
                continue
            rows.append(bench_store(name, store, big, small, zips, args.repeat))
    section = render(rows, args.repeat)
    sys.stdout.write("\n" + section)
    if not args.no_write:
        write_section(section)
        sys.stdout.write(f"\nwritten to {DOC}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
