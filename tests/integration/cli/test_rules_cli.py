"""`territory rules ...`, `territory assign` and `territory explain` end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from territory.cli import app
from territory.storage import tables as t
from territory.storage.engine import make_engine, migrate

pytestmark = pytest.mark.integration
SETUP = Path(__file__).resolve().parents[3] / "examples" / "salesforce-setup"
T0 = datetime(2027, 1, 1, tzinfo=UTC)


def _run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["--db", url, "--actor", "ops", *args], env={"COLUMNS": "200"}
    )
    return result.exit_code, " ".join(result.stdout.split()), result.stderr


def _accounts(url: str) -> None:
    eng = make_engine(url)
    migrate(eng)
    with eng.begin() as conn:
        conn.execute(
            insert(t.account),
            [
                {"id": "A1", "name": "Acme, Inc.", "billing_state": "NY",
                 "billing_postal_code": "10001", "annual_revenue": 2e8,
                 "created_at": T0, "updated_at": T0},
                {"id": "A2", "name": "Initech", "billing_state": "CA",
                 "billing_postal_code": "94105", "annual_revenue": None,
                 "created_at": T0, "updated_at": T0},
            ],
        )  # fmt: skip
    eng.dispose()


def test_import_assign_explain_lint_export(sqlite_url: str, tmp_path: Path) -> None:
    _accounts(sqlite_url)
    code, out, err = _run(
        sqlite_url, "rules", "import", str(SETUP), "--model", "fy27", "--create-model"
    )
    assert code == 0, err
    assert (
        "Imported" in out and "(new model): 14 territories" in out and "12 rules" in out
    )
    code, out, err = _run(sqlite_url, "assign", "--model", "fy27", "--dry-run")
    assert code == 0, err
    assert (
        "Would change 3 associations" in out and "Dry run: nothing was written." in out
    )
    assert "Northeast Enterprise" in out and "200,000,000" in out
    header = next(line for line in out.splitlines() if "gained" in line)
    assert header.split("┃")[1].strip() == "territory"  # the key column's header
    code, out, err = _run(sqlite_url, "assign", "--model", "fy27")
    assert code == 0, err
    assert "Changed 3 associations" in out
    code, out, err = _run(sqlite_url, "explain", "A2", "--model", "fy27")
    assert code == 0, err
    assert "Account A2 sits in: Bay Area (0MIHs0000004C1LKAU) — rule" in out
    assert "The rules put it in: Bay Area (0MIHs0000004C1LKAU)" in out
    assert "inherited from Pacific (0MIHs0000004C1FKAU)" in out
    code, out, err = _run(sqlite_url, "rules", "lint", "--model", "fy27")
    assert code == 0, err
    assert "blank_decided" in out and "A2" in out
    code, out, err = _run(
        sqlite_url, "rules", "export", str(tmp_path / "r.yaml"), "--model", "fy27"
    )
    assert code == 0, err
    assert (tmp_path / "r.yaml").read_text().startswith("territory_types:")
    target = tmp_path / "assoc.csv"
    code, out, err = _run(
        sqlite_url,
        "rules",
        "export-assignments",
        str(target),
        "--model",
        "fy27",
        "--for-load",
    )
    assert code == 0, err
    assert "Wrote 3 associations" in out
    assert target.read_text().count("Territory2Manual") == 3


def test_errors_exit_with_code_two_and_a_message(
    sqlite_url: str, tmp_path: Path
) -> None:
    eng = make_engine(sqlite_url)
    migrate(eng)  # explain only reads: it refuses a store that does not exist
    eng.dispose()
    code, out, err = _run(sqlite_url, "explain", "nope", "--model", "missing")
    assert code == 2
    assert "error: No territory model named 'missing'" in err
    code, out, err = _run(
        sqlite_url, "rules", "import", str(tmp_path / "none.yaml"), "--model", "m"
    )
    assert code == 2
    assert "does not exist" in err
    code, out, err = _run(sqlite_url, "assign", "--only-changed-since", "yesterday")
    assert code == 2
    assert "is not a timestamp" in " ".join(err.split())


def test_import_into_an_unknown_model_is_refused_closest_name_first(
    sqlite_url: str,
) -> None:
    """A misspelt --model names the models (closest first) and creates nothing."""
    for name in ("Other plan", "SE 2027", "SE 2026"):
        code, _, err = _run(sqlite_url, "model", "create", name)
        assert code == 0, err
    eng = make_engine(sqlite_url)
    with eng.connect() as conn:
        before = conn.execute(t.territory_model.select()).all()
    code, out, err = _run(
        sqlite_url, "rules", "import", str(SETUP), "--model", "SE 2072"
    )
    message = " ".join(err.split())
    assert code == 2, out
    assert "error: No territory model named 'SE 2072' (models: 'SE 2027'," in message
    assert "'SE 2026', 'Other plan')" in message
    assert "Did you mean 'SE 2027'?" in message
    assert "territory model create NAME" in message and "--create-model" in message
    assert "Imported" not in out
    with eng.connect() as conn:
        assert conn.execute(t.territory_model.select()).all() == before
        assert conn.execute(t.territory.select()).all() == []
    eng.dispose()
