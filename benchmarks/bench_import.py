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

After each run the store holds the whole file; then a second file of
100,000 of those accounts, changed (new names, revenues and segments), is
imported into it: the upsert path, which finds the stored accounts among a
million and updates them (``--upsert-rows``, 0 to skip).

Besides wall time each run records the CPU time of this process and, when
the PostgreSQL server runs on this machine, of the backend serving the
import (from ``/proc``): on a machine shared with other work the wall time
follows the load, the CPU time much less.

Usage::

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--repeat 3]
        [--orm-rows 100000] [--upsert-rows 100000] [--pg URL] [--no-write]

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
from sqlalchemy import Engine, event, text
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


def county_units() -> pl.DataFrame:
    """Return the 3,142 US counties with their polygons as WKB."""
    import shapely

    from territory.io.usdata import read_counties

    counties = read_counties()
    return counties.frame.select(
        "id", "name", "state", "centroid_lat", "centroid_lon"
    ).with_columns(
        pl.Series(
            "geometry",
            [bytes(b) for b in shapely.to_wkb(counties.geometries)],
            dtype=pl.Binary,
        )
    )


def load_county_units(engine: Engine, counties: pl.DataFrame) -> None:
    """Store the county polygons, as ``territory data load-us`` does."""
    with engine.begin() as conn:
        insert_columns(
            conn,
            geo_unit,
            {"kind": "county"} | {c: counties.get_column(c) for c in counties.columns},
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


def write_changed_accounts_csv(big: Path, path: Path, n_rows: int, seed: int) -> int:
    """Write ``n_rows`` accounts of ``big`` with changed names, revenue, segment.

    Every other column is as in ``big``, so their placement and checks are
    the same; returns the rows written.
    """
    frame = pl.read_csv(big, infer_schema=False)
    rng = np.random.default_rng(seed + 1)
    n = min(n_rows, frame.height)
    picked = frame[np.sort(rng.choice(frame.height, n, replace=False))]
    picked.with_columns(
        (pl.col("name") + " (renamed)").alias("name"),
        pl.Series("annual_revenue", np.round(rng.lognormal(14, 1.5, n), 2)).cast(
            pl.String
        ),
        pl.Series(
            "segment",
            np.asarray(["SMB", "Mid-Market", "Enterprise"])[rng.integers(0, 3, n)],
        ),
    ).write_csv(path)
    return n


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


def _process_cpu_s(pid: int) -> float | None:
    """Return user + system CPU seconds of a local process, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU seconds the PostgreSQL backends serving ``engine`` spend.

    Every connection the engine checks out reports its backend's process id;
    when the server runs on this machine (``/proc`` shows the process) its
    CPU time is read before and after. ``seconds`` is None otherwise, and
    always on SQLite, whose work is all in the client process.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.start: dict[int, float] = {}
        self.ok = engine.dialect.name == "postgresql"

    def _checkout(self, dbapi_conn, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        pid = int(dbapi_conn.info.backend_pid)
        if pid not in self.start:
            cpu = _process_cpu_s(pid)
            if cpu is None:
                self.ok = False
            self.start[pid] = cpu or 0.0

    def __enter__(self) -> ServerCpu:
        if self.ok:
            event.listen(self.engine, "checkout", self._checkout)
            # The pooled connection the import will use, measured from here.
            with self.engine.connect():
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine.dialect.name == "postgresql":
            event.remove(self.engine, "checkout", self._checkout)
        self.end = {pid: _process_cpu_s(pid) for pid in self.start}

    @property
    def seconds(self) -> float | None:
        if not self.ok or any(v is None for v in self.end.values()):
            return None
        return sum(float(self.end[p]) - s for p, s in self.start.items())  # type: ignore[arg-type]


def _import(engine: Engine, path: Path) -> tuple[float, float, float | None, object]:
    """Import ``path`` as the CLI does; return wall, client CPU, server CPU, report."""
    with ServerCpu(engine) as server:
        seconds, cpu, report = timed_cpu(
            lambda: import_file(engine, "accounts", path, actor="bench")
        )
    return seconds, cpu, server.seconds, report


def _median_or_none(values: list[float | None]) -> float | None:
    if any(v is None for v in values):
        return None
    return statistics.median(float(v) for v in values)  # type: ignore[arg-type]


def bench_store(
    name: str,
    store: Callable[[], AbstractContextManager[Engine]],
    big: Path,
    small: Path,
    zips: pl.DataFrame,
    repeat: int,
    counties: pl.DataFrame | None,
    changed: Path | None = None,
) -> dict[str, object]:
    times: list[float] = []
    cpu_times: list[float] = []
    server_times: list[float | None] = []
    loads: list[float] = []
    up_times: list[float] = []
    up_cpu: list[float] = []
    up_server: list[float | None] = []
    n_up = 0
    placement: dict[str, int] = {}
    n_big = 0
    for i in range(repeat):
        with store() as engine:
            load_zip_units(engine, zips)
            seconds, cpu, server, report = _import(engine, big)
            times.append(seconds)
            cpu_times.append(cpu)
            server_times.append(server)
            loads.append(os.getloadavg()[0])
            placement = dict(report.placement)  # type: ignore[attr-defined]
            n_big = int(report.rows_read)  # type: ignore[attr-defined]
            assert report.rows_imported == n_big  # type: ignore[attr-defined]
            on_server = "" if server is None else f" + {server:.2f} s server CPU"
            sys.stdout.write(
                f"  {name} run {i + 1}: {seconds:.2f} s wall, {cpu:.2f} s client "
                f"CPU{on_server} (load {loads[-1]:.1f})\n"
            )
            if changed is not None:
                u_s, u_cpu, u_server, u_report = _import(engine, changed)
                n_up = int(u_report.rows_updated)  # type: ignore[attr-defined]
                assert n_up == u_report.rows_read  # type: ignore[attr-defined]
                up_times.append(u_s)
                up_cpu.append(u_cpu)
                up_server.append(u_server)
                on_server = (
                    "" if u_server is None else f" + {u_server:.2f} s server CPU"
                )
                sys.stdout.write(
                    f"  {name} run {i + 1}, {n_up:,} changed accounts again: "
                    f"{u_s:.2f} s wall, {u_cpu:.2f} s client CPU{on_server} "
                    f"(load {os.getloadavg()[0]:.1f})\n"
                )
            sys.stdout.flush()
    # The same service and the naive ORM insert on the same smaller file, one
    # after the other: their ratio is what the load cannot skew much.
    with store() as engine:
        load_zip_units(engine, zips)
        small_s, small_cpu, small_server, _ = _import(engine, small)
    with store() as engine, ServerCpu(engine) as orm_server:
        orm_s, orm_cpu, n_orm = timed_cpu(lambda: orm_insert(engine, small))
    n_small = int(n_orm)  # type: ignore[call-overload]
    # Once more with the county polygons in the store (as after `territory
    # data load-us`): accounts with coordinates then get the county polygon
    # holding them, a point-in-polygon search for four fifths of the rows.
    polygons: dict[str, object] | None = None
    if counties is not None:
        with store() as engine:
            load_zip_units(engine, zips)
            load_county_units(engine, counties)
            p_s, p_cpu, p_server, p_report = _import(engine, big)
        polygons = {
            "s": p_s,
            "cpu_s": p_cpu,
            "server_s": p_server,
            "load": os.getloadavg()[0],
            "placement": dict(p_report.placement),  # type: ignore[attr-defined]
        }
        sys.stdout.write(
            f"  {name} with county polygons: {p_s:.2f} s wall, {p_cpu:.2f} s "
            f"client CPU (load {polygons['load']:.1f})\n"
        )
    median = statistics.median(times)
    cpu_s = statistics.median(cpu_times)
    server_s = _median_or_none(server_times)
    return {
        "store": name,
        "rows": n_big,
        "median_s": median,
        "runs": times,
        "cpu_s": cpu_s,
        "server_s": server_s,
        "rows_per_s": n_big / median,
        "rows_per_cpu_s": n_big / (cpu_s + (server_s or 0.0)),
        "loads": loads,
        "small_rows": n_small,
        "small_s": small_s,
        "small_cpu_s": small_cpu + (small_server or 0.0),
        "orm_s": orm_s,
        "orm_cpu_s": orm_cpu + (orm_server.seconds or 0.0),
        "ratio": orm_s / small_s,
        "placement": placement,
        "polygons": polygons,
        "upsert": (
            {
                "rows": n_up,
                "runs": up_times,
                "median_s": statistics.median(up_times),
                "cpu_s": statistics.median(up_cpu),
                "server_s": _median_or_none(up_server),
            }
            if up_times
            else None
        ),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions(pg_url: str | None) -> str:
    import sqlite3

    parts = [
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"polars {pl.__version__}",
    ]
    if pg_url is not None:
        engine = make_engine(pg_url)
        try:
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar()
            parts.append(f"PostgreSQL {str(version).split()[0]} on the same machine")
        finally:
            engine.dispose()
    return ", ".join(parts)


def _s(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def render(
    rows: list[dict[str, object]], repeat: int, start_load: float, versions: str
) -> str:
    load = os.getloadavg()
    n = rows[0]["rows"]
    n_small = rows[0]["small_rows"]
    lines = [
        "## Account import (`benchmarks/bench_import.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({_cpu_model()}, {os.cpu_count()} CPUs shared with other work, "
        f"{platform.system()} {platform.release()}; {versions}). Load average "
        f"{start_load:.1f} at the start, {load[0]:.1f} at the end "
        f"(5 min {load[1]:.1f}, 15 min {load[2]:.1f}).",
        "",
        f"Import of {n:,} synthetic accounts from CSV through "
        "`services.importing.import_file`, the function `territory import "
        "accounts FILE` calls, end to end: read as text, vectorised validation, "
        "placement (coordinates, ZIP centroid, county), one-transaction write, "
        f"commit. Median of {repeat} runs, each on a fresh store holding the "
        f"ZIP units; target {TARGET_ROWS_PER_S:,} rows/s.",
        "",
        "| store | rows | median s | rows/s | target met | runs (s) | load "
        "during runs | client CPU s | server CPU s | rows per CPU s |",
        "|---|---:|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        runs = ", ".join(f"{t:.2f}" for t in r["runs"])  # type: ignore[attr-defined]
        loads = ", ".join(f"{x:.1f}" for x in r["loads"])  # type: ignore[attr-defined]
        met = "yes" if float(r["rows_per_s"]) >= TARGET_ROWS_PER_S else "no"  # type: ignore[arg-type]
        lines.append(
            f"| {r['store']} | {r['rows']:,} | {r['median_s']:.2f} | "
            f"{r['rows_per_s']:,.0f} | {met} | {runs} | {loads} | "
            f"{r['cpu_s']:.2f} | {_s(r['server_s'])} | "
            f"{r['rows_per_cpu_s']:,.0f} |"
        )
    lines += [
        "",
        f"Side by side in the same run, the same import and a naive ORM insert "
        f"(`csv.DictReader`, one mapped object per row, `session.add`, one "
        f"commit; no validation or placement) of the first {n_small:,} rows:",
        "",
        "| store | rows | import s | import CPU s | naive ORM s | naive ORM "
        "CPU s | speed-up (wall) | speed-up (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu_ratio = float(r["orm_cpu_s"]) / float(r["small_cpu_s"])  # type: ignore[arg-type]
        lines.append(
            f"| {r['store']} | {r['small_rows']:,} | {r['small_s']:.2f} | "
            f"{r['small_cpu_s']:.2f} | {r['orm_s']:.2f} | {r['orm_cpu_s']:.2f} | "
            f"{r['ratio']:.1f}x | {cpu_ratio:.1f}x |"
        )
    placement = rows[0]["placement"]
    lines += [
        "",
        f"Placement of the {n:,} accounts: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(placement.items()))  # type: ignore[attr-defined]
        + "; without county polygons in the store an account with "
        "coordinates gets its ZIP's county.",
        "",
    ]
    with_polygons = [r for r in rows if r.get("polygons")]
    if with_polygons:
        lines += [
            f"One more run of the same {n:,} accounts per store, the 3,142 US "
            "county polygons loaded too (as after `territory data load-us`): "
            "each account with coordinates is placed in the polygon holding it.",
            "",
            "| store | rows | s | rows/s | load | client CPU s | server CPU s | "
            "rows per CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in with_polygons:
            q = r["polygons"]
            cpu_total = float(q["cpu_s"]) + float(q["server_s"] or 0.0)  # type: ignore[index]
            lines.append(
                f"| {r['store']} | {n:,} | {q['s']:.2f} | "  # type: ignore[index]
                f"{n / q['s']:,.0f} | {q['load']:.1f} | "  # type: ignore[index,operator]
                f"{q['cpu_s']:.2f} | {_s(q['server_s'])} | "  # type: ignore[index]
                f"{n / cpu_total:,.0f} |"  # type: ignore[operator]
            )
        q0 = with_polygons[0]["polygons"]
        lines += [
            "",
            "Placement with polygons: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(q0["placement"].items()))  # type: ignore[index,union-attr]
            + ".",
            "",
        ]
    with_upsert = [r for r in rows if r.get("upsert")]
    if with_upsert:
        u0 = with_upsert[0]["upsert"]
        lines += [
            f"After each run, {u0['rows']:,} of the {n:,} stored accounts "  # type: ignore[index]
            "imported again, changed (new names, revenues and segments): the "
            "upsert path finds them among the stored accounts and updates "
            "them. Median of the runs:",
            "",
            "| store | rows | stored | median s | rows/s | runs (s) | client CPU s "
            "| server CPU s |",
            "|---|---:|---:|---:|---:|---|---:|---:|",
        ]
        for r in with_upsert:
            u = r["upsert"]
            runs = ", ".join(f"{t:.2f}" for t in u["runs"])  # type: ignore[index]
            lines.append(
                f"| {r['store']} | {u['rows']:,} | {n:,} | {u['median_s']:.2f} | "  # type: ignore[index]
                f"{u['rows'] / u['median_s']:,.0f} | {runs} | {u['cpu_s']:.2f} | "  # type: ignore[index,operator]
                f"{_s(u['server_s'])} |"  # type: ignore[index]
            )
        lines.append("")
    lines += [
        "*client CPU s* is the median CPU time of the importing process (all "
        "its threads); *server CPU s* that of the PostgreSQL backend serving "
        "it, read from `/proc` (the server runs on the same machine). *rows per "
        "CPU s* divides the rows by both: the rate the import approaches on "
        "an idle machine, where the load average above does not slow it. The "
        "import and ORM CPU columns of the second table include the server's.",
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
    parser.add_argument(
        "--upsert-rows",
        type=int,
        default=100_000,
        help="changed accounts imported again into the full store (0: skip)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--seed", type=int, default=20270101)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--no-counties",
        action="store_true",
        help="skip the extra run with the county polygons in the store",
    )
    args = parser.parse_args(argv)
    start_load = os.getloadavg()[0]
    zips = zip_units()
    counties = None if args.no_counties else county_units()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "accounts.csv"
        small = Path(tmp) / "accounts_small.csv"
        write_accounts_csv(big, args.rows, zips, args.seed)
        pl.read_csv(big, infer_schema=False).head(args.orm_rows).write_csv(small)
        changed: Path | None = None
        if args.upsert_rows > 0:
            changed = Path(tmp) / "accounts_changed.csv"
            write_changed_accounts_csv(big, changed, args.upsert_rows, args.seed)
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
            rows.append(
                bench_store(
                    name, store, big, small, zips, args.repeat, counties, changed
                )
            )
    with_pg = any(r["store"] == "PostgreSQL" for r in rows)
    section = render(
        rows, args.repeat, start_load, _versions(args.pg if with_pg else None)
    )
    sys.stdout.write("\n" + section)
    if not args.no_write:
        write_section(section)
        sys.stdout.write(f"\nwritten to {DOC}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
