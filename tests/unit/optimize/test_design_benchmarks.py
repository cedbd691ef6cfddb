"""The benchmark readers and evaluator reproduce the published reference values.

The instances live in ``../shared/benchmarks`` beside the checkout (their
licence forbids copying them into the repository); ``TERRITORY_BENCHMARKS``
names another folder holding them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from territory.optimize.bench import solve_instance
from territory.optimize.instances import (
    detect_format,
    evaluate_benchmark,
    read_instance,
)

BENCH = Path(
    os.environ.get("TERRITORY_BENCHMARKS")
    or Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks"
)
if not (BENCH / "README.md").is_file():
    pytest.fail(
        f"the shared benchmark instances are not at {BENCH}: check out the "
        "shared folder beside the repository or set TERRITORY_BENCHMARKS to it",
        pytrace=False,
    )
PLANAR500 = BENCH / "dtdp" / "planar" / "planar500_G0.graphml"
COMMDIS1000 = BENCH / "commdis-dl" / "del-n1000-k5-s2292.in"


def test_formats_are_detected() -> None:
    assert detect_format(PLANAR500) == "dtdp"
    assert detect_format(COMMDIS1000) == "commdis"


def test_dtdp_reference_solution_is_reproduced_exactly() -> None:
    instance = read_instance(PLANAR500)
    ref = json.loads(
        (BENCH / "dtdp/reference-solutions/planar500_G0.pr.json").read_text()
    )
    index = {nid: i for i, nid in enumerate(instance.node_ids)}
    labels = np.full(instance.n_units, -1)
    for k, units in ref["districts"].items():
        labels[[index[u] for u in units]] = int(k)
    got = evaluate_benchmark(instance, labels)
    assert (instance.n_units, instance.n_territories) == (500, 10)
    assert got.objective == 49.043435246323966
    assert got.imbalance == pytest.approx(0.010192005831602659, rel=1e-12, abs=0)
    assert not got.feasible
    assert sum(not c for c in got.territory_contiguous) == 9


def test_commdis_reference_solution_is_reproduced_exactly() -> None:
    instance = read_instance(COMMDIS1000)
    labels = np.loadtxt(
        BENCH / "commdis-dl/reference-solutions/del-n1000-k5-s2292.construction.sol",
        dtype=np.int64,
    )
    got = evaluate_benchmark(instance, labels)
    assert (instance.n_units, instance.n_territories) == (1000, 5)
    assert round(got.objective, 4) == 1002.9879
    assert round(got.imbalance, 4) == 0.2683
    assert got.contiguous
    assert not got.feasible


def test_p_override_and_manifest_p() -> None:
    assert read_instance(PLANAR500).n_territories == 10
    assert read_instance(PLANAR500, p=7).n_territories == 7
    assert read_instance(COMMDIS1000, p=3).n_territories == 3


def test_solve_instance_reports_a_feasible_contiguous_plan(tmp_path: Path) -> None:
    out = tmp_path / "labels.txt"
    record = solve_instance(
        PLANAR500, time_limit_s=300.0, seed=1, labels_out=out, max_iterations=20_000
    )
    assert set(record) == {
        "instance",
        "n",
        "p",
        "objective",
        "imbalance",
        "feasible",
        "contiguous",
        "status",
        "time_s",
        "seed",
    }
    assert record["instance"] == "planar500_G0"
    assert record["feasible"] and record["contiguous"]
    assert record["status"] == "feasible"
    labels = np.array(out.read_text().split(), dtype=np.int64)
    assert labels.shape == (500,)
    again = evaluate_benchmark(read_instance(PLANAR500), labels)
    assert again.objective == record["objective"]


def test_bench_solve_command_prints_one_json_object() -> None:
    from territory.cli import app

    result = CliRunner().invoke(
        app, ["bench", "solve", str(COMMDIS1000), "--time-limit", "2", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["n"] == 1000 and record["p"] == 5 and record["seed"] == 3
    assert record["contiguous"] is True


def test_bench_solve_missing_file_is_an_input_error(tmp_path: Path) -> None:
    from territory.cli import app

    result = CliRunner().invoke(app, ["bench", "solve", str(tmp_path / "nope.in")])
    assert result.exit_code == 2
    assert "no such instance file" in result.stderr
