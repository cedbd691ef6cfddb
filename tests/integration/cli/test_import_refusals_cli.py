"""`territory import` refusals a spreadsheet user meets, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from territory.cli import app

pytestmark = pytest.mark.integration


def _run(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--db", url, "--actor", "cli-test", *args])


def test_skip_invalid_exits_2_when_every_row_is_skipped(
    sqlite_url: str, tmp_path: Path
) -> None:
    ok = tmp_path / "first.csv"
    ok.write_text("id,name,capacity\nR1,Ann,10\n")
    assert _run(sqlite_url, "import", "reps", str(ok)).exit_code == 0
    src = tmp_path / "reps.csv"
    src.write_text("id,name,capacity\nR1,Renamed,lots\nR2,,5\n")
    result = _run(sqlite_url, "import", "reps", str(src), "--skip-invalid")
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert (
        "error: reps.csv: every row has a problem (2 problem(s) in 2 of 2 rows), so "
        "--skip-invalid would skip them all; nothing was imported" in err
    )
    assert "reps.csv, row 2, field 'capacity': 'lots' is not a number" in err
    assert "reps.csv, row 3, field 'name': name is blank" in err
    out = tmp_path / "out.csv"
    assert _run(sqlite_url, "export", "reps", str(out)).exit_code == 0
    assert out.read_text().splitlines()[1].startswith("R1,Ann,")


def test_skip_invalid_with_one_good_row_still_exits_0(
    sqlite_url: str, tmp_path: Path
) -> None:
    src = tmp_path / "reps.csv"
    src.write_text("id,name,capacity\nR1,Ann,10\nR2,,5\n")
    result = _run(sqlite_url, "import", "reps", str(src), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "2 rows read, 1 imported (1 new, 0 updated), 1 skipped" in result.stdout
    assert "reps.csv, row 3, field 'name': name is blank" in result.stderr
