"""Time `territory metrics` on a synthetic store of a large sales organisation.

The store (SQLite) holds 1,000,000 accounts, 5,000,000 sales-history rows,
2,000 territories in three levels (10 regions, 90 districts, 1,900
territories), 3,000 counties with population and labour force, unit
assignments and a grid adjacency, 200,000 open opportunities (half of them
split between two reps), 1,990 reps and a quota row per territory. It is
built once under ``benchmarks/out/`` (fixed seed) and reused.

Run::

    .venv/bin/python benchmarks/bench_metrics.py [--accounts 1000000] [--repeat 3]

and copy the printed table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from territory.services.models import create_model
from territory.services.performance import compute_metrics
from territory.services.sizing import size_model
from territory.storage.engine import make_engine, migrate

OUT = Path(__file__).parent / "out"
N_REGIONS, N_DISTRICTS, N_LEAVES = 10, 90, 1900
N_COUNTIES = 3000
SALES_PERIODS = ("2026", "2027-01", "2027-02", "2027-03", "2027-Q2")
INDUSTRIES = ("Technology", "Healthcare", "Retail", "Manufacturing", "Finance", None)


def _build(path: Path, n_accounts: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    model = create_model(engine, "bench", actor="bench")
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).isoformat(sep=" ")
    # counties on a 50 × 60 grid over the lower 48
    side_r, side_c = 50, 60
    c_lat = 25 + (np.arange(N_COUNTIES) // side_c) * 0.45
    c_lon = -124 + (np.arange(N_COUNTIES) % side_c) * 0.95
    cids = [f"{i:05d}" for i in range(N_COUNTIES)]
    con.executemany(
        "INSERT INTO geo_unit (kind,id,name,state,centroid_lat,centroid_lon) "
        "VALUES ('county',?,?,'XX',?,?)",
        zip(cids, cids, c_lat.tolist(), c_lon.tolist(), strict=True),
    )
    pop = rng.integers(1_000, 1_000_000, N_COUNTIES).astype(float)
    lf = pop * rng.uniform(0.4, 0.6, N_COUNTIES)
    con.executemany(
        "INSERT INTO geo_unit_metric (kind,unit_id,metric,value) VALUES ('county',?,?,?)",
        [(c, "population", float(p)) for c, p in zip(cids, pop, strict=True)]
        + [(c, "labor_force", float(v)) for c, v in zip(cids, lf, strict=True)],
    )
    edges = []
    for i in range(N_COUNTIES):
        r, c = divmod(i, side_c)
        if c + 1 < side_c:
            edges.append((cids[i], cids[i + 1]))
        if r + 1 < side_r:
            edges.append((cids[i], cids[i + side_c]))
    con.executemany(
        "INSERT INTO geo_adjacency (kind,contiguity,a,b) VALUES ('county','queen',?,?)",
        edges + [(b, a) for a, b in edges],
    )
    # territories: regions R00.., districts D000.., leaves T0000..
    regions = [f"R{i:02d}" for i in range(N_REGIONS)]
    districts = [f"D{i:03d}" for i in range(N_DISTRICTS)]
    leaves = [f"T{i:04d}" for i in range(N_LEAVES)]
    rows = [(model.id, r, r, None) for r in regions]
    rows += [(model.id, d, d, regions[i * N_REGIONS // N_DISTRICTS]) for i, d in enumerate(districts)]
    rows += [(model.id, t, t, districts[i * N_DISTRICTS // N_LEAVES]) for i, t in enumerate(leaves)]
    con.executemany(
        "INSERT INTO territory (model_id,id,name,parent_id,description,is_catch_all,"
        "attributes) VALUES (?,?,?,?,'',0,'{}')",
        rows,
    )
    # counties to leaves in contiguous runs
    county_leaf = (np.arange(N_COUNTIES) * N_LEAVES) // N_COUNTIES
    con.executemany(
        "INSERT INTO unit_assignment (model_id,unit_kind,unit_id,territory_id,cause) "
        "VALUES (?,'county',?,?,'design')",
        [(model.id, c, leaves[k]) for c, k in zip(cids, county_leaf.tolist(), strict=True)],
    )
    # accounts
    county = rng.integers(0, N_COUNTIES, n_accounts)
    lat = c_lat[county] + rng.uniform(-0.2, 0.2, n_accounts)
    lon = c_lon[county] + rng.uniform(-0.4, 0.4, n_accounts)
    revenue = np.round(np.exp(rng.normal(15, 2, n_accounts)), 0)
    employees = np.maximum(1, (revenue / 200_000).astype(np.int64))
    industry = rng.integers(0, len(INDUSTRIES), n_accounts)
    aids = [f"A{i:07d}" for i in range(n_accounts)]
    con.executemany(
        "INSERT INTO account (id,name,industry,annual_revenue,employees,latitude,"
        "longitude,county_id,placed_by,excluded_from_realign,is_sample,created_at,"
        "updated_at) VALUES (?,?,?,?,?,?,?,?,'coordinates',0,1,?,?)",
        zip(
            aids,
            aids,
            [INDUSTRIES[k] for k in industry.tolist()],
            revenue.tolist(),
            employees.tolist(),
            lat.tolist(),
            lon.tolist(),
            [cids[k] for k in county.tolist()],
            [now] * n_accounts,
            [now] * n_accounts,
            strict=True,
        ),
    )
    leaf_of_account = county_leaf[county]
    con.executemany(
        "INSERT INTO account_assignment (model_id,account_id,territory_id,cause) "
        "VALUES (?,?,?,'design')",
        zip([model.id] * n_accounts, aids, [leaves[k] for k in leaf_of_account.tolist()], strict=True),
    )
    # 5 sales rows per account
    amounts = np.round(rng.gamma(2.0, 5_000.0, (n_accounts, len(SALES_PERIODS))), 2)
    for j, period in enumerate(SALES_PERIODS):
        con.executemany(
            "INSERT INTO sales_history (account_id,period,amount,is_sample) VALUES (?,?,?,1)",
            zip(aids, [period] * n_accounts, amounts[:, j].tolist(), strict=True),
        )
    # reps: one owner per leaf, one manager per district
    reps = [f"P{i:04d}" for i in range(N_LEAVES)] + [f"M{i:03d}" for i in range(N_DISTRICTS)]
    con.executemany(
        "INSERT INTO rep (id,name,home_lat,home_lon,capacity,active) VALUES (?,?,?,?,NULL,1)",
        [
            (r, r, float(c_lat[i % N_COUNTIES]), float(c_lon[i % N_COUNTIES]))
            for i, r in enumerate(reps)
        ],
    )
    con.executemany(
        "INSERT INTO territory_membership (model_id,territory_id,rep_id,role,start_date) "
        "VALUES (?,?,?,?,'2020-01-01')",
        [(model.id, t, f"P{i:04d}", "owner") for i, t in enumerate(leaves)]
        + [(model.id, d, f"M{i:03d}", "manager") for i, d in enumerate(districts)],
    )
    con.executemany(
        "INSERT INTO quota (model_id,territory_id,period,amount) VALUES (?,?,'2027',?)",
        [(model.id, t, 20_000_000.0) for t in leaves],
    )
    # open opportunities, half split 70/30 between two owners
    n_opp = 200_000
    opp_acc = rng.integers(0, n_accounts, n_opp)
    con.executemany(
        "INSERT INTO opportunity (id,account_id,name,amount,stage,is_closed,is_won,"
        "excluded_from_territory_assignment,is_sample) VALUES (?,?,'',?,'Qualify',0,0,0,1)",
        zip(
            [f"O{i:06d}" for i in range(n_opp)],
            [aids[k] for k in opp_acc.tolist()],
            np.round(rng.gamma(2.0, 20_000.0, n_opp), 2).tolist(),
            strict=True,
        ),
    )
    split_rows = []
    for i in range(0, n_opp, 2):
        a, b = rng.integers(0, N_LEAVES, 2)
        if a == b:
            b = (a + 1) % N_LEAVES
        split_rows += [(f"O{i:06d}", f"P{a:04d}", 70.0), (f"O{i:06d}", f"P{b:04d}", 30.0)]
    con.executemany(
        "INSERT INTO opportunity_split (opportunity_id,rep_id,percent) VALUES (?,?,?)",
        split_rows,
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()


def _time(fn, repeat: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Return best and median wall time and the CPU time of the best run."""
    times = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    best = min(times)
    return best[0], statistics.median(t for t, _ in times), best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", default=None, help="Run only commands whose label contains this."
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"metrics_{args.accounts}.db"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".building")
        for p in OUT.glob(tmp.name + "*"):
            p.unlink()
        _build(tmp, args.accounts)
        tmp.rename(path)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    n_sales = len(SALES_PERIODS) * args.accounts
    rows = []
    for label, fn in (
        ("metrics --level territory --period 2027", lambda: compute_metrics(engine, "bench", period="2027")),
        ("metrics --level rep --period 2027", lambda: compute_metrics(engine, "bench", level="rep", period="2027")),
        ("metrics --level region --period 2027-Q1", lambda: compute_metrics(engine, "bench", level="region", period="2027-Q1")),
        ("size", lambda: size_model(engine, "bench")),
    ):
        if args.only and args.only not in label:
            continue
        best, median, cpu = _time(fn, args.repeat)
        rows.append((label, best, median, cpu))
    print(f"# territory metrics benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# {platform.processor() or platform.machine()}, {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; {args.accounts:,} accounts, {n_sales:,} sales "
        f"rows, {N_REGIONS + N_DISTRICTS + N_LEAVES:,} territories"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print("| command | best wall (s) | median wall (s) | CPU of best (s) |")
    print("|---|---:|---:|---:|")
    for label, best, median, cpu in rows:
        print(f"| `{label}` | {best:.2f} | {median:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
