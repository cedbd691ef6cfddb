"""Imports of files as spreadsheets leave them: blank rows, other separators.

Every case runs against both stores; the ZIP directory is not needed (the
accounts have no postal codes), so placement reports them unplaced.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from territory.errors import ValidationFailed
from territory.services.importing import import_file
from territory.storage.tables import account, rep

pytestmark = pytest.mark.integration


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ids(engine: Engine, table) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(table.c.id)).all())


def test_trailing_blank_rows_are_skipped_and_reported_once(
    engine: Engine, tmp_path: Path
) -> None:
    # Rows 2-11 are reps, 12-14 what a spreadsheet leaves after the data.
    body = "".join(f"R{i},Rep {i},10\n" for i in range(1, 11))
    path = _csv(tmp_path, "reps.csv", "id,name,capacity\n" + body + ",,\n,,\n\n")
    report = import_file(engine, "reps", path, actor="tester")
    assert (report.rows_read, report.rows_inserted, report.rows_skipped) == (10, 10, 0)
    assert report.blank_rows == (12, 13, 14)
    assert report.skipped == ()
    lines = report.summary_lines()
    assert lines[1] == "3 blank rows skipped: rows 12-14"
    assert sum("blank row" in line for line in lines) == 1
    assert _ids(engine, rep) == sorted(f"R{i}" for i in range(1, 11))


def test_blank_rows_between_records_keep_the_rows_numbered(
    engine: Engine, tmp_path: Path
) -> None:
    path = _csv(tmp_path, "accounts.csv", "id,name\nA1,Acme\n\nA2,\n,\n")
    with pytest.raises(ValidationFailed, match="1 problem") as exc:
        import_file(engine, "accounts", path, actor="tester")
    issues = exc.value.issues
    assert [(i.row, i.field, i.problem) for i in issues] == [
        (4, "name", "name is blank")
    ]
    report = import_file(engine, "accounts", path, actor="tester", skip_invalid=True)
    assert report.blank_rows == (3, 5)
    assert "2 blank rows skipped: rows 3, 5" in report.summary_lines()
    assert (report.rows_read, report.rows_imported, report.rows_skipped) == (2, 1, 1)
    assert _ids(engine, account) == ["A1"]
