"""`territory design --balance workload=TOL --workload FILE` on real NE counties.

:func:`design_fixtures.seed_store` puts two accounts in every county, with
revenue 1 000 000 and 500 000 USD. The workload file below puts the first in
segment ``big`` (10 calls × 60 min = 10 h) and the second in ``rest``
(2 calls × 30 min = 1 h): every county holds 11 h. CT, RI and MA have
8 + 5 + 14 = 27 counties, 297 h; four territories aim at 297/4 = 74.25 h, and
±15 % allows 63.1 h to 85.4 h: 6 or 7 counties (66 h or 77 h) each.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from design_fixtures import seed_store
from territory.cli import app
from territory.storage.engine import make_engine, migrate
from territory.storage.tables import design_run, unit_assignment

pytestmark = pytest.mark.integration

WORKLOAD_YAML = """\
segments:
  - {name: big, calls_per_year: 10, minutes_per_call: 60,
     when: {min_revenue: 1000000}}
  - {name: rest, calls_per_year: 2, minutes_per_call: 30}
"""


def _args(workload: Path) -> list[str]:
    return [
        "design",
        "--model",
        "by-calls",
        "--territories",
        "4",
        "--balance",
        "workload=0.15",
        "--workload",
        str(workload),
        "--states",
        "CT,RI,MA",
        "--time-limit",
        "30",
        "--max-iterations",
        "3000",
        "--seed",
        "7",
    ]


def test_design_balances_call_workload_from_a_workload_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    eng = make_engine(sqlite_url)
    migrate(eng)
    seed_store(eng)
    workload = tmp_path / "workload.yaml"
    workload.write_text(WORKLOAD_YAML, encoding="utf-8")

    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "--actor", "tester", *_args(workload)]
    )

    assert result.exit_code == 0, result.output
    assert "Model by-calls: 4 territories (feasible" in result.output
    assert "Worst deviation: workload ±" in result.output
    with eng.connect() as conn:
        run = conn.execute(select(design_run.c.parameters, design_run.c.result)).one()
        per_territory = Counter(
            conn.execute(select(unit_assignment.c.territory_id)).scalars()
        )
    eng.dispose()
    assert run.parameters["workload_file"] == str(workload)
    assert run.parameters["balance"] == {"workload": 0.15}
    assert run.result["max_abs_deviation"]["workload"] <= 0.15 + 1e-9
    assert sum(per_territory.values()) == 27
    assert sorted(per_territory.values()) == [6, 7, 7, 7]  # 66 h, 77 h × 3


def test_design_names_a_missing_workload_file(sqlite_url: str, tmp_path: Path) -> None:
    eng = make_engine(sqlite_url)
    migrate(eng)
    seed_store(eng)
    eng.dispose()
    missing = tmp_path / "nope.yaml"

    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "--actor", "tester", *_args(missing)]
    )

    assert result.exit_code == 2
    assert "nope.yaml does not exist" in result.output
