"""Tables of `territory metrics|quota|size|staff` read at 80 and 132 columns.

The store holds one model, ``plan``, drawn so that every amount is in the
millions and every id is long::

    REGION-NORTHEAST-01
    ├── TERR-NE-BOSTON-0001    ACC-0001  owner REP-ANNA-MARIA-0001
    └── TERR-NE-HARTFORD-0002  ACC-0002  owner REP-BARTHOLOMEW-0002

========  ==========  ============  ===========  ==========  ==========
account   revenue     potential     sales 2027   quota 2027  open pipe
========  ==========  ============  ===========  ==========  ==========
ACC-0001  20 000 000  28 729 612.4  12 345 678   15 000 000  30 000 000
ACC-0002     500 000     906 210       450 000      600 000     300 000
========  ==========  ============  ===========  ==========  ==========

With :data:`WORKLOAD` (10 h for revenue ≥ 1M, else 1 h; 16 h per rep) the
Boston territory has 10 h of work (62.5 % of 16 h) and attains
12 345 678 / 15 000 000 = 82.3 %; Hartford attains 450 000 / 600 000 = 75.0 %.
Boston's pipeline coverage is 30 000 000 / (15 000 000 − 12 345 678) = 11.30.
The region sums its leaves: potential 29 635 822.4 (29.6M), sales 12 795 678
(12.8M), quota 15 600 000 (15.6M), pipeline 30 300 000 (30.3M).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result
from sqlalchemy import insert
from typer.testing import CliRunner

from territory.cli import app
from territory.cli._table import money, percent, ratio
from territory.services.models import create_model
from territory.storage import tables as t
from territory.storage.engine import make_engine, migrate

pytestmark = pytest.mark.integration

WORKLOAD = """
capacity_hours: 16
segments:
  - {name: big, calls_per_year: 10, minutes_per_call: 60, when: {min_revenue: 1000000}}
  - {name: small, calls_per_year: 2, minutes_per_call: 30}
"""
REGION = "REGION-NORTHEAST-01"
BOSTON = "TERR-NE-BOSTON-0001"
HARTFORD = "TERR-NE-HARTFORD-0002"
ANNA = "REP-ANNA-MARIA-0001"
BART = "REP-BARTHOLOMEW-0002"


def _build_store(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    model = create_model(engine, "plan", actor="test")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                {
                    "id": aid,
                    "name": aid,
                    "annual_revenue": rev,
                    "latitude": lat,
                    "longitude": lon,
                    "custom_fields": {"potential": pot},
                    "created_at": now,
                    "updated_at": now,
                }
                for aid, rev, pot, lat, lon in [
                    ("ACC-0001", 2e7, 28_729_612.4, 0.0, 0.0),
                    ("ACC-0002", 5e5, 906_210.0, 1.0, 0.0),
                ]
            ],
        )
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model.id,
                    "id": tid,
                    "name": tid.title(),
                    "parent_id": parent,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                }
                for tid, parent in [
                    (REGION, None),
                    (BOSTON, REGION),
                    (HARTFORD, REGION),
                ]
            ],
        )
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": model.id,
                    "account_id": aid,
                    "territory_id": tid,
                    "cause": "manual",
                }
                for aid, tid in [("ACC-0001", BOSTON), ("ACC-0002", HARTFORD)]
            ],
        )
        conn.execute(
            insert(t.rep),
            [
                {
                    "id": rid,
                    "name": rid.title(),
                    "home_lat": lat,
                    "home_lon": 0.0,
                    "capacity": None,
                    "active": True,
                }
                for rid, lat in [(ANNA, 0.0), (BART, 1.0)]
            ],
        )
        conn.execute(
            insert(t.territory_membership),
            [
                {
                    "model_id": model.id,
                    "territory_id": tid,
                    "rep_id": rid,
                    "role": "owner",
                    "start_date": date(2020, 1, 1),
                }
                for tid, rid in [(BOSTON, ANNA), (HARTFORD, BART)]
            ],
        )
        conn.execute(
            insert(t.sales_history),
            [
                {"account_id": "ACC-0001", "period": "2027", "amount": 12_345_678.0},
                {"account_id": "ACC-0002", "period": "2027", "amount": 450_000.0},
            ],
        )
        conn.execute(
            insert(t.quota),
            [
                {
                    "model_id": model.id,
                    "territory_id": tid,
                    "period": "2027",
                    "amount": amount,
                }
                for tid, amount in [(BOSTON, 15_000_000.0), (HARTFORD, 600_000.0)]
            ],
        )
        conn.execute(
            insert(t.opportunity),
            [
                {
                    "id": oid,
                    "account_id": aid,
                    "amount": amount,
                    "stage": "Proposal",
                    "is_closed": False,
                    "is_won": False,
                }
                for oid, aid, amount in [
                    ("OPP-1", "ACC-0001", 30_000_000.0),
                    ("OPP-2", "ACC-0002", 300_000.0),
                ]
            ],
        )
    engine.dispose()


@pytest.fixture
def run(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Return ``run(columns, *args)``: the CLI on the plan at a console width."""
    _build_store(sqlite_url)
    workload = tmp_path / "w.yaml"
    workload.write_text(WORKLOAD, encoding="utf-8")

    def invoke(columns: int, *args: str) -> Result:
        res = CliRunner().invoke(
            app,
            ["--db", sqlite_url, "--actor", "tester", *args,
             "--model", "plan", "--workload", str(workload)],
            env={"COLUMNS": str(columns)},
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        return res

    return invoke


def _table_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line[:1] in "┏┃┡│└"]


def _cells(line: str) -> list[str]:
    bar = "┃" if line.startswith("┃") else "│"
    return [c.strip() for c in line.strip(bar).split(bar)]


def _row(stdout: str, first: str) -> dict[str, str]:
    """Return the table row whose first cell is ``first``, keyed by its headers."""
    header: list[str] = []
    for line in _table_lines(stdout):
        if line.startswith("┃"):
            header = _cells(line)
        elif _cells(line)[0] == first:
            return dict(zip(header, _cells(line), strict=True))
    raise AssertionError(f"no row {first!r} in:\n{stdout}")


def _assert_fits(stdout: str, columns: int) -> None:
    lines = _table_lines(stdout)
    assert lines
    assert all(len(line) <= columns for line in lines), stdout
    assert "…" not in "".join(lines), stdout


def test_metrics_at_80_columns_keeps_key_columns_compact(run) -> None:  # type: ignore[no-untyped-def]
    res = run(80, "metrics", "--period", "2027")
    _assert_fits(res.stdout, 80)
    cols = ("territory", "accts", "potential", "sales", "quota", "attain.")
    for tid, cells in [
        (REGION, ("2", "29.6M", "12.8M", "15.6M", "82.0%")),
        (BOSTON, ("1", "28.7M", "12.3M", "15.0M", "82.3%")),
        (HARTFORD, ("1", "906k", "450k", "600k", "75.0%")),
    ]:
        assert _row(res.stdout, tid) == dict(zip(cols, (tid, *cells), strict=True))
    # Leaves are indented under their region.
    assert f"│ {REGION} " in res.stdout
    assert f"│   {BOSTON} " in res.stdout
    assert (
        "Not shown at 80 columns: penetr., pipeline, coverage, workload h, util., "
        "acct diam km, contig. (--out FILE.csv has all of them)." in res.stdout
    )
    assert "28,729,612" not in res.stdout


def test_metrics_at_132_columns_shows_ratios_and_pipeline(run) -> None:  # type: ignore[no-untyped-def]
    res = run(132, "metrics", "--period", "2027")
    _assert_fits(res.stdout, 132)
    assert _row(res.stdout, BOSTON) == {
        "territory": BOSTON,
        "accts": "1",
        "potential": "28.7M",
        "sales": "12.3M",
        "quota": "15.0M",
        "attain.": "82.3%",
        "penetr.": "43.0%",
        "pipeline": "30.0M",
        "coverage": "11.30",
        "workload h": "10",
        "util.": "62.5%",
    }
    assert _row(res.stdout, REGION)["pipeline"] == "30.3M"
    assert _row(res.stdout, REGION)["util."] == "34.4%"  # 11 h of 32 h
    assert "Not shown at 132 columns: acct diam km, contig." in res.stdout
    # Balance across the two leaves: money compact, ratios with two decimals.
    assert _row(res.stdout, "potential") == {
        "measure": "potential",
        "n": "2",
        "mean": "14.8M",
        "min": "906k",
        "max": "28.7M",
        "CV": "0.94",
        "max/min": "31.70",
        "Gini": "0.47",
    }


def test_metrics_progress_ends_full_with_what_was_measured(run) -> None:  # type: ignore[no-untyped-def]
    res = run(80, "metrics", "--period", "2027")
    assert "Measured 3 territories" in res.stderr
    assert "5/5" in res.stderr
    assert "5/6" not in res.stderr and "done" not in res.stderr


def test_metrics_rep_level_keeps_rep_ids_whole(run) -> None:  # type: ignore[no-untyped-def]
    res = run(80, "metrics", "--period", "2027", "--level", "rep")
    _assert_fits(res.stdout, 80)
    anna, bart = _row(res.stdout, ANNA), _row(res.stdout, BART)
    assert (anna["rep"], anna["potential"], anna["sales"]) == (ANNA, "28.7M", "12.3M")
    assert (bart["rep"], bart["potential"], bart["sales"]) == (BART, "906k", "450k")


def test_metrics_out_file_keeps_full_precision(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "m.csv"
    res = run(80, "metrics", "--period", "2027", "--out", str(out))
    assert "Wrote 3 rows to" in " ".join(res.stdout.split())
    df = pl.read_csv(out)
    boston = df.filter(pl.col("territory_id") == BOSTON).row(0, named=True)
    assert boston["potential"] == pytest.approx(28_729_612.4)
    assert boston["sales"] == pytest.approx(12_345_678.0)


@pytest.mark.parametrize("columns", [80, 132])
def test_quota_table_is_compact_and_flags_stay_on_one_line(run, columns: int) -> None:  # type: ignore[no-untyped-def]
    res = run(
        columns, "quota", "--total", "30000000", "--period", "2028",
        "--history-period", "2027", "--dry-run",
    )  # fmt: skip
    _assert_fits(res.stdout, columns)
    region = _row(res.stdout, REGION)
    assert region["potential"] == "29.6M"
    assert region["quota"] == "30.0M"
    assert region["of potential"] == "101%"  # 30 000 000 / 29 635 822.4
    assert region["flag"] == "over share"
    assert _row(res.stdout, BOSTON)["potential"] == "28.7M"
    assert _row(res.stdout, HARTFORD)["potential"] == "906k"
    if columns == 80:
        assert "level" not in region
        assert "Not shown at 80 columns: level, sales 2027 (a wider terminal " in (
            res.stdout
        )
    else:
        assert (region["level"], region["sales 2027"]) == ("0", "12.8M")
        assert _row(res.stdout, HARTFORD)["sales 2027"] == "450k"
        assert "Not shown" not in res.stdout


def test_staff_at_80_columns_keeps_territory_and_rep_ids(run) -> None:  # type: ignore[no-untyped-def]
    res = run(80, "staff", "--start", "2027-01-01", "--dry-run")
    _assert_fits(res.stdout, 80)
    assert _row(res.stdout, BOSTON)["owner"] == ANNA
    assert _row(res.stdout, HARTFORD)["owner"] == BART


def test_size_prints_utilisation_as_one_cell(run) -> None:  # type: ignore[no-untyped-def]
    res = run(80, "size")
    _assert_fits(res.stdout, 80)
    # 10 h of work against 16 h of capacity.
    assert _row(res.stdout, BOSTON) == {
        "territory": BOSTON,
        "workload h": "10",
        "gap h": "-6",
        "utilisation": "62.5%",
    }
    assert "Not shown at 80 columns: region (a wider terminal shows them)." in (
        res.stdout
    )


def test_narrow_console_still_shows_whole_ids(run) -> None:  # type: ignore[no-untyped-def]
    res = run(40, "metrics", "--period", "2027", "--level", "rep")
    assert _row(res.stdout, ANNA)["rep"] == ANNA
    assert _row(res.stdout, BART)["rep"] == BART


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (28_729_612.4, "28.7M"),
        (906_210.0, "906k"),
        (1_234_000_000.0, "1.2B"),
        (999_960.0, "1.0M"),
        (999.6, "1.0k"),
        (950.0, "950"),
        (-12_345.0, "-12.3k"),
        (None, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_money_is_compact(value: float | None, expected: str) -> None:
    assert money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.381, "38.1%"), (3.774, "377%"), (0.99996, "100%"), (0.0, "0.0%")],
)
def test_percent_has_no_space_and_at_most_one_decimal(
    value: float, expected: str
) -> None:
    assert percent(value) == expected


def test_ratio_has_the_digits_asked_for() -> None:
    assert (ratio(2.6234), ratio(1910.8, 0), ratio(None)) == ("2.62", "1,911", "—")
