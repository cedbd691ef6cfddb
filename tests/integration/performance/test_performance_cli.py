"""`territory size|staff|quota|metrics` through the command-line runner (SQLite)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from performance_plan import build_plan
from territory.cli import app
from territory.storage.engine import make_engine, migrate

WORKLOAD = """
capacity_hours: 16
segments:
  - {name: big, calls_per_year: 10, minutes_per_call: 60, when: {min_revenue: 1000000}}
  - {name: small, calls_per_year: 2, minutes_per_call: 30}
"""


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path) -> tuple[CliRunner, list[str]]:
    engine = make_engine(sqlite_url)
    migrate(engine)
    build_plan(engine)
    engine.dispose()
    (tmp_path / "w.yaml").write_text(WORKLOAD, encoding="utf-8")
    return CliRunner(), ["--db", sqlite_url, "--actor", "tester"]


def test_size_prints_reps_needed(
    cli: tuple[CliRunner, list[str]], tmp_path: Path
) -> None:
    runner, base = cli
    res = runner.invoke(
        app, [*base, "size", "--model", "plan", "--workload", str(tmp_path / "w.yaml")]
    )
    assert res.exit_code == 0, res.output
    assert "52 h of yearly workload at 16 h per rep needs 4 reps" in res.stdout
    assert "2 territories over capacity" in res.stdout


def test_metrics_table_and_file(
    cli: tuple[CliRunner, list[str]], tmp_path: Path
) -> None:
    runner, base = cli
    out = tmp_path / "m.parquet"
    res = runner.invoke(
        app,
        [
            *base,
            "metrics",
            "--model",
            "plan",
            "--period",
            "2027",
            "--out",
            str(out),
            "--workload",
            str(tmp_path / "w.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Balance across leaf territories" in res.stdout
    assert "met" in res.stdout  # T3 has met its quota
    assert "—" in res.stdout  # max/min of quota is undefined (T2 has 0)
    df = pl.read_parquet(out)
    assert df.height == 8 and df["period"][0] == "2027"


def test_metrics_rejects_unknown_level(cli: tuple[CliRunner, list[str]]) -> None:
    runner, base = cli
    res = runner.invoke(app, [*base, "metrics", "--model", "plan", "--level", "team"])
    assert res.exit_code == 2
    assert "use territory, rep or region" in res.stderr


def test_quota_and_staff_write(
    cli: tuple[CliRunner, list[str]], tmp_path: Path
) -> None:
    runner, base = cli
    res = runner.invoke(
        app,
        [
            *base,
            "quota",
            "--model",
            "plan",
            "--total",
            "1000",
            "--period",
            "2028",
            "--blend",
            "0.5",
            "--max-share",
            "0.2",
            "--workload",
            str(tmp_path / "w.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "2 territories have a quota above 20 % of their potential" in res.stdout
    assert "Wrote 8 quota rows (0 replaced, audited)." in res.stdout
    res = runner.invoke(
        app,
        [
            *base,
            "staff",
            "--model",
            "plan",
            "--start",
            "2027-01-01",
            "--workload",
            str(tmp_path / "w.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "2 vacancies" in res.stdout and "2 surplus reps" in res.stdout
    res = runner.invoke(app, [*base, "staff", "--model", "plan", "--start", "1/1/27"])
    assert res.exit_code == 2
    assert "YYYY-MM-DD" in res.stderr
