"""`territory data load-us` and `territory data sample-accounts` end to end."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from territory.cli import app

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_load_us_prints_a_summary_per_state(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "data", "load-us", "--states", "RI,MA"]
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "US counties loaded (queen adjacency)" in out
    assert "1,059,361" in out  # Rhode Island, 2019
    assert "25007, 25019" in out  # Dukes and Nantucket have no neighbour
    # only what concerns RI and MA: no South Dakota recode, no Alaska or
    # Hawaii fills, no records outside the states
    assert "46113" not in out and "02105" not in out and "15005" not in out
    assert "Dropped outside" not in out and "Labour force:" not in out
    assert result.stderr.count("error") == 0


@pytest.mark.slow
def test_load_us_notes_the_fills_of_the_loaded_states(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "data", "load-us", "--states", "AK,SD"]
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "Labour force: code 46113 mapped to 46102." in out
    assert (
        "Labour force: 6 counties filled (population x state ratio): "
        "02105, 02158, 02195, 02198, 02230, 02275." in out
    )
    assert "15005" not in out  # Kalawao, Hawaii: not loaded
    assert "Dropped outside" not in out


@pytest.mark.slow
def test_load_us_zip_level_reports_zip_figures(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["--db", sqlite_url, "data", "load-us", "--states", "RI", "--level", "zip",
         "--contiguity", "rook"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "US ZIP units loaded (rook adjacency)" in out
    # the ZIP figures of Rhode Island, not of the whole country (29,672 ZIP
    # units, 162 sharing a centroid)
    assert (
        "ZIP codes in RI: 72 ZIP units; 0 active ZIPs without a county; "
        "0 ZIPs share a centroid with another; 0 counties have no ZIP unit." in out
    )
    assert "29,672" not in out and "162 ZIPs" not in out
    summary = CliRunner().invoke(app, ["--db", sqlite_url, "data", "summary"])
    assert summary.exit_code == 0, summary.output
    lines = summary.stdout.splitlines()
    assert any("Store: zip units (queen adjacency)" in line for line in lines)
    (ri,) = [line for line in lines if line.startswith("│ RI")]
    assert ri.split("│")[2].strip() == "72"
    assert not any("county units" in line for line in lines)  # none stored


@pytest.mark.slow
def test_sample_accounts_prints_counts(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["--db", sqlite_url, "data", "sample-accounts", "--n", "300", "--seed", "4",
         "--states", "RI"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "Sample accounts (seed 4)" in out
    assert "300 sample accounts" in out
    assert "labelled sample data" in out


def test_load_us_unknown_state_exits_2(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "data", "load-us", "--states", "GA,XX"]
    )
    assert result.exit_code == 2
    assert "error: Unknown state code(s) XX" in " ".join(result.stderr.split())


def test_load_us_unknown_level_exits_2(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "data", "load-us", "--level", "tract"]
    )
    assert result.exit_code == 2
    assert "error: Level 'tract' is not known" in " ".join(result.stderr.split())


def test_a_missing_sqlite_file_is_announced_before_it_is_created(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "typo.db"
    db = ["--db", f"sqlite:///{path}"]
    result = CliRunner().invoke(app, [*db, "model", "create", "FY27"])
    assert result.exit_code == 0, result.output
    assert f"no store at {path}" in " ".join(result.stderr.split())
    assert "Created model FY27" in result.stdout
    # the second time the store exists and nothing is announced
    again = CliRunner().invoke(app, [*db, "model", "list"])
    assert again.exit_code == 0 and "no store at" not in again.stderr
    assert "FY27" in again.stdout
