"""`territory design` through the command line, on real CT, RI and MA counties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from design_fixtures import seed_store
from territory.cli import app
from territory.storage.engine import make_engine, migrate

pytestmark = pytest.mark.integration

ARGS = [
    "design",
    "--model",
    "north-east",
    "--territories",
    "4",
    "--balance",
    "population=0.10",
    "--states",
    "CT,RI,MA",
    "--time-limit",
    "30",
    "--max-iterations",
    "3000",
    "--seed",
    "7",
]


@pytest.fixture
def db(sqlite_url: str) -> list[str]:
    eng = make_engine(sqlite_url)
    migrate(eng)
    seed_store(eng)
    eng.dispose()
    return ["--db", sqlite_url, "--actor", "tester"]


def test_design_prints_the_table_and_writes_the_files(
    db: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*db, *ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Model north-east: 4 territories (feasible" in result.output
    assert "Bridged separate pieces:" in result.output
    assert "Accounts: 54 assigned by design" in result.output
    for name in ("assignments.csv", "summary.csv", "territories.geojson", "map.png"):
        assert (out / name).stat().st_size > 0
    doc = json.loads((out / "territories.geojson").read_text())
    assert len(doc["features"]) == 4


def test_design_refuses_an_existing_model_without_replace(db: list[str]) -> None:
    runner = CliRunner()
    assert runner.invoke(app, [*db, *ARGS]).exit_code == 0
    again = runner.invoke(app, [*db, *ARGS])
    assert again.exit_code == 2
    assert "already exists" in again.output and "--replace" in again.output
    assert runner.invoke(app, [*db, *ARGS, "--replace"]).exit_code == 0


def test_design_explains_an_infeasible_tolerance_with_exit_code_3(
    db: list[str],
) -> None:
    result = CliRunner().invoke(
        app,
        [
            *db,
            "design",
            "--model",
            "ma",
            "--territories",
            "8",
            "--balance",
            "population=0.05",
            "--states",
            "MA",
            "--time-limit",
            "1",
        ],
    )
    assert result.exit_code == 3
    assert "Middlesex" in result.output
    assert "Provable lower bound on the population tolerance: 87.07%" in result.output
    assert "--oversize own-territory" in result.output


def test_design_rejects_a_malformed_balance(db: list[str]) -> None:
    result = CliRunner().invoke(
        app, [*db, "design", "--model", "x", "--territories", "2", "--balance", "pop"]
    )
    assert result.exit_code == 2
    assert "NAME=NUMBER" in result.output


def _ma_ri(p: str, tol: str, *extra: str) -> list[str]:
    return [
        "design",
        "--model",
        "ma-ri",
        "--territories",
        p,
        "--balance",
        f"population={tol}",
        "--states",
        "MA,RI",
        "--time-limit",
        "20",
        *extra,
    ]


def test_design_proves_a_small_infeasible_request_instead_of_asking_for_time(
    db: list[str],
) -> None:
    """MA and RI (19 counties) in 3 territories at ±10 %: no contiguous plan.

    The 14 MA counties and 5 RI counties hold 7,951,864 people: a target of
    2,650,621. The auto method proves by the MIP that no plan exists, so the
    message says so instead of asking for more --time-limit.
    """
    result = CliRunner().invoke(app, [*db, *_ma_ri("3", "0.10")])
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "No plan can meet every constraint" in text
    assert "proved it on these 19 units" in text
    assert "--time-limit" not in text
    heuristic = CliRunner().invoke(
        app,
        [*db, *_ma_ri("3", "0.10", "--method", "heuristic", "--time-limit", "3")],
    )
    assert heuristic.exit_code == 3
    assert "Give more --time-limit" in " ".join(heuristic.output.split())


def test_design_method_exact_is_optimal_on_a_small_case(db: list[str]) -> None:
    result = CliRunner().invoke(app, [*db, *_ma_ri("2", "0.10", "--method", "exact")])
    assert result.exit_code == 0, result.output
    assert "Model ma-ri: 2 territories (optimal" in result.output


def test_design_method_is_checked(db: list[str]) -> None:
    result = CliRunner().invoke(app, [*db, *_ma_ri("2", "0.10", "--method", "best")])
    assert result.exit_code == 2
    assert "--method 'best' is not known" in result.output
