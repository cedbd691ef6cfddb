"""Time `territory compare` of two large models on a synthetic store.

The store (SQLite) holds 1,000,000 accounts, 5,000,000 sales-history rows,
3,000 counties (square cells with geometry, population and labour force)
and a model ``base`` of 2,000 territories in three levels (10 regions, 90
districts, 1,900 leaves, one owner rep each). The model ``scenario`` is its
clone (the store's own ``clone_model``) in which a share of the counties
(default 5 %) moves to the next leaf territory, with every account in them.
It is built once under ``benchmarks/out/`` (fixed seed) and reused.

Run::

    .venv/bin/python benchmarks/bench_compare.py [--accounts 1000000] [--repeat 3]

and copy the printed table into docs/benchmarks.md. The comparison itself
(``compare_models``) and the change map (``draw_change_map``) are timed
separately, as the target (< 5 s) is for the comparison.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely

from territory.services.models import clone_model, create_model
from territory.storage.engine import make_engine, migrate

OUT = Path(__file__).parent / "out"
N_REGIONS, N_DISTRICTS, N_LEAVES = 10, 90, 1900
SIDE_R, SIDE_C = 50, 60
N_COUNTIES = SIDE_R * SIDE_C
SALES_PERIODS = ("2026", "2027-01", "2027-02", "2027-03", "2027-Q2")
INDUSTRIES = ("Technology", "Healthcare", "Retail", "Manufacturing", "Finance", None)


def _build(path: Path, n_accounts: int, move_share: float, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    model = create_model(engine, "base", actor="bench")
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).isoformat(sep=" ")
    row, col = np.divmod(np.arange(N_COUNTIES), SIDE_C)
    c_lat = 25 + row * 0.45
    c_lon = -124 + col * 0.95
    cids = [f"{i:05d}" for i in range(N_COUNTIES)]
    boxes = shapely.box(c_lon - 0.475, c_lat - 0.225, c_lon + 0.475, c_lat + 0.225)
    con.executemany(
        "INSERT INTO geo_unit (kind,id,name,state,centroid_lat,centroid_lon,geometry) "
        "VALUES ('county',?,?,'XX',?,?,?)",
        zip(
            cids,
            cids,
            c_lat.tolist(),
            c_lon.tolist(),
            [shapely.to_wkb(b) for b in boxes],
            strict=True,
        ),
    )
    pop = rng.integers(1_000, 1_000_000, N_COUNTIES).astype(float)
    lf = pop * rng.uniform(0.4, 0.6, N_COUNTIES)
    con.executemany(
        "INSERT INTO geo_unit_metric (kind,unit_id,metric,value) "
        "VALUES ('county',?,?,?)",
        [(c, "population", float(p)) for c, p in zip(cids, pop, strict=True)]
        + [(c, "labor_force", float(v)) for c, v in zip(cids, lf, strict=True)],
    )
    regions = [f"R{i:02d}" for i in range(N_REGIONS)]
    districts = [f"D{i:03d}" for i in range(N_DISTRICTS)]
    leaves = [f"T{i:04d}" for i in range(N_LEAVES)]
    rows = [(model.id, r, r, None) for r in regions]
    rows += [
        (model.id, d, d, regions[i * N_REGIONS // N_DISTRICTS])
        for i, d in enumerate(districts)
    ]
    rows += [
        (model.id, t, t, districts[i * N_DISTRICTS // N_LEAVES])
        for i, t in enumerate(leaves)
    ]
    con.executemany(
        "INSERT INTO territory (model_id,id,name,parent_id,description,is_catch_all,"
        "attributes) VALUES (?,?,?,?,'',0,'{}')",
        rows,
    )
    county_leaf = (np.arange(N_COUNTIES) * N_LEAVES) // N_COUNTIES
    con.executemany(
        "INSERT INTO unit_assignment (model_id,unit_kind,unit_id,territory_id,cause) "
        "VALUES (?,'county',?,?,'design')",
        [
            (model.id, c, leaves[k])
            for c, k in zip(cids, county_leaf.tolist(), strict=True)
        ],
    )
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
    con.executemany(
        "INSERT INTO account_assignment (model_id,account_id,territory_id,cause) "
        "VALUES (?,?,?,'design')",
        zip(
            [model.id] * n_accounts,
            aids,
            [leaves[k] for k in county_leaf[county].tolist()],
            strict=True,
        ),
    )
    amounts = np.round(rng.gamma(2.0, 5_000.0, (n_accounts, len(SALES_PERIODS))), 2)
    for j, period in enumerate(SALES_PERIODS):
        con.executemany(
            "INSERT INTO sales_history (account_id,period,amount,is_sample) "
            "VALUES (?,?,?,1)",
            zip(aids, [period] * n_accounts, amounts[:, j].tolist(), strict=True),
        )
    reps = [f"P{i:04d}" for i in range(N_LEAVES)]
    con.executemany(
        "INSERT INTO rep (id,name,home_lat,home_lon,capacity,active) "
        "VALUES (?,?,?,?,NULL,1)",
        [
            (
                r,
                f"Rep {r}",
                float(c_lat[i * N_COUNTIES // N_LEAVES]),
                float(c_lon[i * N_COUNTIES // N_LEAVES]),
            )
            for i, r in enumerate(reps)
        ],
    )
    con.executemany(
        "INSERT INTO territory_membership (model_id,territory_id,rep_id,role,"
        "start_date) VALUES (?,?,?,'owner','2020-01-01')",
        [(model.id, t, reps[i]) for i, t in enumerate(leaves)],
    )
    con.executemany(
        "INSERT INTO quota (model_id,territory_id,period,amount) VALUES (?,?,'2027',?)",
        [(model.id, t, 20_000_000.0) for t in leaves],
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()
    # The scenario: a clone in which a share of counties moves to the next leaf.
    clone = clone_model(engine, "base", "scenario", actor="bench").model
    engine.dispose()
    moved = np.sort(
        rng.choice(N_COUNTIES, size=int(round(move_share * N_COUNTIES)), replace=False)
    )
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    pairs = [(leaves[(county_leaf[c] + 1) % N_LEAVES], cids[c]) for c in moved.tolist()]
    con.executemany(
        "UPDATE unit_assignment SET territory_id=?, cause='manual' "
        f"WHERE model_id='{clone.id}' AND unit_kind='county' AND unit_id=?",
        pairs,
    )
    con.executemany(
        "UPDATE account_assignment SET territory_id=?, cause='manual' "
        f"WHERE model_id='{clone.id}' AND account_id IN "
        "(SELECT id FROM account WHERE county_id=?)",
        pairs,
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--move-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from territory.services.compare import compare_models, draw_change_map

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"compare_{args.accounts}.db"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".building")
        for p in OUT.glob(tmp.name + "*"):
            p.unlink()
        _build(tmp, args.accounts, args.move_share)
        tmp.rename(path)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    phases: dict[str, list[float]] = {}

    def timed_compare() -> object:
        marks: list[tuple[str, float]] = []
        out = compare_models(
            engine,
            "base",
            "scenario",
            period="2027",
            progress=lambda msg: marks.append((msg, time.perf_counter())),
        )
        marks.append(("end", time.perf_counter()))
        for (label, start), (_next, stop) in zip(marks, marks[1:], strict=False):
            phases.setdefault(label, []).append(stop - start)
        return out

    result = compare_models(engine, "base", "scenario", period="2027")
    with tempfile.TemporaryDirectory() as tmp_dir:
        png = Path(tmp_dir) / "changes.png"
        rows = [
            ("compare base scenario --period 2027", *_time(timed_compare, args.repeat)),
            (
                "change map (PNG)",
                *_time(lambda: draw_change_map(engine, result, png), args.repeat),
            ),
        ]
    load = os.getloadavg()[0]
    print(f"# territory compare benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"load average {load:.1f}; {args.accounts:,} accounts, "
        f"{len(SALES_PERIODS) * args.accounts:,} sales rows, "
        f"{N_REGIONS + N_DISTRICTS + N_LEAVES:,} territories; "
        f"{result.units_moved.height:,} units and {result.accounts_moved.height:,} "
        "accounts moved"
    )
    print("| step | best (s) | median (s) |")
    print("|---|---:|---:|")
    for label, best, median in rows:
        print(f"| `{label}` | {best:.2f} | {median:.2f} |")
    print()
    print("| compare phase | best (s) | median (s) |")
    print("|---|---:|---:|")
    for label, times in phases.items():
        print(f"| {label} | {min(times):.2f} | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
