"""`territory import` / `territory export` through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from territory.cli import app

pytestmark = pytest.mark.integration


def _run(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--db", url, "--actor", "cli-test", *args])


def test_import_then_export_accounts(sqlite_url: str, tmp_path: Path) -> None:
    src = tmp_path / "accounts.csv"
    src.write_bytes(
        b"\xef\xbb\xbfid,name,billing_postal_code,latitude,longitude\n"
        b"A1,Acme,02134,42.35,-71.06\nA2,Beta,01001,41.1,-72.5\n"
    )
    result = _run(sqlite_url, "import", "accounts", str(src))
    assert result.exit_code == 0, result.output
    assert "accounts from accounts.csv: 2 rows read, 2 imported (2 new, 0 updated)" in (
        result.stdout
    )
    assert "placed by: coordinates 2" in result.stdout
    out = tmp_path / "out.csv"
    result = _run(sqlite_url, "export", "accounts", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 accounts written to out.csv"
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,name,billing_street,")
    assert lines[1].startswith("A1,Acme,,,,02134,")


def test_import_invalid_file_exits_2_with_every_issue(
    sqlite_url: str, tmp_path: Path
) -> None:
    src = tmp_path / "accounts.csv"
    src.write_text("id,name,billing_postal_code\nA1,Acme,2134\nA1,Beta,02134\n")
    result = _run(sqlite_url, "import", "accounts", str(src))
    assert result.exit_code == 2
    assert result.stdout == ""
    err = result.stderr
    assert (
        "error: accounts.csv: 3 problem(s) in 2 of 2 rows; nothing was imported" in err
    )
    assert (
        "accounts.csv, row 2, field 'billing_postal_code': ZIP code '2134' has lost "
        "its leading zero(s)" in err
    )
    assert "account 'A1' appears 2 times in accounts.csv (rows 2 and 3)" in err
    result = _run(sqlite_url, "export", "accounts", str(tmp_path / "o.csv"))
    assert result.stdout.strip() == "0 accounts written to o.csv"


def test_import_skip_invalid_reports_skipped_rows(
    sqlite_url: str, tmp_path: Path
) -> None:
    src = tmp_path / "reps.csv"
    src.write_text("id,name,active\nR1,Ann,true\nR2,Bo,maybe\n")
    result = _run(sqlite_url, "import", "reps", str(src), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "2 rows read, 1 imported (1 new, 0 updated), 1 skipped" in result.stdout
    assert "skipped rows (1):" in result.stderr
    assert (
        "reps.csv, row 3, field 'active': 'maybe' is not true or false" in result.stderr
    )


def test_import_latin1_needs_encoding(sqlite_url: str, tmp_path: Path) -> None:
    src = tmp_path / "reps.csv"
    src.write_bytes("id,name\nR1,José\n".encode("latin-1"))
    result = _run(sqlite_url, "import", "reps", str(src))
    assert result.exit_code == 2
    assert "error: reps.csv is not valid UTF-8: row 2" in result.stderr
    assert "--encoding latin-1" in result.stderr
    result = _run(sqlite_url, "import", "reps", str(src), "--encoding", "latin-1")
    assert result.exit_code == 0, result.output


def test_model_entities_say_when_no_model_is_active(
    sqlite_url: str, tmp_path: Path
) -> None:
    src = tmp_path / "t.csv"
    src.write_text("id,name\nT1,East\n")
    result = _run(sqlite_url, "import", "territories", str(src))
    assert result.exit_code == 2
    assert "error: No territory model is active; name one with --model NAME" in (
        result.stderr
    )
    result = _run(sqlite_url, "export", "quotas", str(tmp_path / "q.csv"))
    assert result.exit_code == 2
    assert "No territory model is active" in result.stderr


def test_unknown_entity_and_extension(sqlite_url: str, tmp_path: Path) -> None:
    result = _run(sqlite_url, "import", "widgets", str(tmp_path / "w.csv"))
    assert result.exit_code == 2
    assert "error: Cannot import or export 'widgets'; choose one of accounts, reps" in (
        result.stderr
    )
    # export only reads: it refuses a store that does not exist (the failed
    # import above made none)
    result = _run(sqlite_url, "export", "reps", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2
    assert "error: No store at" in result.stderr
    assert _run(sqlite_url, "model", "create", "FY27").exit_code == 0
    result = _run(sqlite_url, "export", "reps", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2
    assert "Cannot tell the format of 'r.xlsx'" in result.stderr


def test_sample_accounts_export_and_import_back_the_same(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Sample accounts sit at their ZIP centroid: they come back placed by ZIP."""
    assert _run(sqlite_url, "data", "load-us", "--states", "DC").exit_code == 0
    made = _run(
        sqlite_url,
        "data",
        "sample-accounts",
        "--n",
        "12",
        "--seed",
        "3",
        "--states",
        "DC",
    )
    assert made.exit_code == 0, made.output
    first = tmp_path / "first.csv"
    assert _run(sqlite_url, "export", "accounts", str(first)).exit_code == 0
    other = f"sqlite:///{tmp_path / 'other.db'}"
    result = _run(other, "import", "accounts", str(first))
    assert result.exit_code == 0, result.output
    assert "placed by: zip 12" in result.stdout
    second = tmp_path / "second.csv"
    assert _run(other, "export", "accounts", str(second)).exit_code == 0
    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")


def test_geojson_point_with_its_coordinates_imports_without_a_crash(
    sqlite_url: str, tmp_path: Path
) -> None:
    feature = (
        '{"type": "Feature", "properties": {"id": "C7", "name": "QGIS", '
        '"latitude": %s, "longitude": -84.39}, "geometry": {"type": "Point", '
        '"coordinates": [-84.39, 33.75]}}'
    )
    src = tmp_path / "c7.geojson"
    src.write_text(
        '{"type": "FeatureCollection", "features": [%s]}' % (feature % 33.75)
    )
    result = _run(sqlite_url, "import", "accounts", str(src))
    assert result.exit_code == 0, result.output
    assert "placed by: coordinates 1" in result.stdout
    src.write_text('{"type": "FeatureCollection", "features": [%s]}' % (feature % 30.1))
    result = _run(sqlite_url, "import", "accounts", str(src))
    assert result.exit_code == 2
    assert (
        "c7.geojson, row 2, field 'latitude': the Point geometry (latitude 33.75, "
        "longitude -84.39) and the columns latitude 30.1, longitude -84.39 are "
        "different places" in result.stderr
    )
    assert "Traceback" not in result.output and "Panic" not in result.output


def test_export_accounts_in_the_salesforce_format(
    sqlite_url: str, tmp_path: Path
) -> None:
    src = tmp_path / "Account.csv"
    src.write_text(
        "Id,Name,BillingPostalCode,AnnualRevenue,Tier__c\n001A,Acme,02134,10,Gold\n"
    )
    result = _run(sqlite_url, "import", "accounts", str(src))
    assert result.exit_code == 0, result.output
    assert "custom fields: Tier__c" in result.stdout
    out = tmp_path / "out.csv"
    result = _run(sqlite_url, "export", "accounts", str(out), "--format", "salesforce")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines() == [
        "Id,Name,BillingStreet,BillingCity,BillingState,BillingPostalCode,"
        "BillingCountry,Industry,AnnualRevenue,NumberOfEmployees,BillingLatitude,"
        "BillingLongitude,IsExcludedFromRealign,Tier__c",
        "001A,Acme,,,,02134,,,10.0,,,,false,Gold",
    ]
    result = _run(sqlite_url, "export", "reps", str(out), "--format", "salesforce")
    assert result.exit_code == 2
    assert "Only accounts export in the Salesforce format, not reps" in result.stderr


def test_header_typo_exits_2_with_the_field_meant(
    sqlite_url: str, tmp_path: Path
) -> None:
    src = tmp_path / "typo.csv"
    src.write_text("id,name,billing_postl_code\nT1,Typo,30303\n")
    result = _run(sqlite_url, "import", "accounts", str(src))
    assert result.exit_code == 2
    assert (
        "typo.csv, row 1, field 'billing_postl_code': unknown column "
        "'billing_postl_code' — did you mean billing_postal_code?" in result.stderr
    )


def test_a_native_library_panic_is_reported_not_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """polars panics derive from BaseException; the command still answers."""
    import typer
    from polars.exceptions import PanicException

    from territory.cli._common import run_command

    def panic() -> None:
        raise PanicException("not yet implemented: Writing BinaryView to JSON")

    with pytest.raises(typer.Exit) as exc:
        run_command(panic)
    assert exc.value.exit_code == 1
    assert (
        "error: internal error (PanicException: not yet implemented: Writing "
        "BinaryView to JSON); please report it"
        in " ".join(capsys.readouterr().err.split())
    )
