"""Where commands write and which store they open: checked before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from design_fixtures import seed_store
from territory.cli import app
from territory.services import models as svc
from territory.storage.engine import make_engine, migrate

pytestmark = pytest.mark.integration

DESIGN = [
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


def _run(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--db", url, "--actor", "tester", *args])


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def store(sqlite_url: str) -> str:
    """A migrated store holding one active model, FY27, with no territories."""
    eng = make_engine(sqlite_url)
    migrate(eng)
    svc.create_model(eng, "FY27", actor="tester")
    svc.activate_model(eng, "FY27", actor="tester")
    eng.dispose()
    return sqlite_url


@pytest.fixture
def afile(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("keep me\n")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--out", "{f}"], "--out {f} names a file; give a folder"),
        (
            ["compare", "FY27", "FY27", "--out", "{f}"],
            "--out {f} names a file; give a folder",
        ),
        (
            ["metrics", "--out", "{f}/x.csv"],
            "Cannot create the folder {f} for --out {f}/x.csv: {f} is a file",
        ),
        (
            ["rules", "export", "{f}", "--model", "FY27"],
            "PATH {f} names a file; give a folder",
        ),
        (
            ["rules", "export", "{f}/r.yaml", "--model", "FY27"],
            "Cannot create the folder {f} for PATH {f}/r.yaml: {f} is a file",
        ),
        (
            ["rules", "export-assignments", "{f}/a.csv"],
            "Cannot create the folder {f} for PATH {f}/a.csv: {f} is a file",
        ),
        (
            ["export", "accounts", "{f}/x.csv"],
            "Cannot create the folder {f} for FILE {f}/x.csv: {f} is a file",
        ),
        (
            ["design", "--model", "m", "--balance", "population=0.1", "--out", "{f}"],
            "--out {f} names a file; give a folder",
        ),
    ],
)
def test_output_inside_a_file_exits_2_naming_the_path(
    store: str, afile: Path, args: list[str], message: str
) -> None:
    result = _run(store, *[a.format(f=afile) for a in args])
    assert result.exit_code == 2, result.output
    assert f"error: {message.format(f=afile)}" in _flat(result.stderr)
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.output
    assert afile.read_text() == "keep me\n"
    assert sorted(p.name for p in afile.parent.iterdir()) == ["afile", "territory.db"]


def test_export_to_a_folder_asks_for_a_file_name(store: str, tmp_path: Path) -> None:
    result = _run(store, "export", "accounts", str(tmp_path))
    assert result.exit_code == 2
    assert (
        f"error: FILE {tmp_path} names a folder; give a file name, e.g. "
        f"{tmp_path / 'out.csv'}." in _flat(result.stderr)
    )


def test_metrics_checks_the_suffix_before_measuring(store: str, tmp_path: Path) -> None:
    result = _run(store, "metrics", "--out", str(tmp_path / "m.xlsx"))
    assert result.exit_code == 2
    assert "use a .csv or .parquet file name" in _flat(result.stderr)
    # refused before the model is read: FY27 has no territories to measure
    assert "Measur" not in result.stderr
    assert not (tmp_path / "m.xlsx").exists()


def test_export_names_the_os_error_of_an_unwritable_path(store: str) -> None:
    result = _run(store, "export", "accounts", "/proc/x.csv")
    assert result.exit_code == 2
    err = _flat(result.stderr)
    assert (
        "error: Cannot write into /proc for FILE /proc/x.csv: /proc does not "
        "accept new files (No such file or directory)" in err
    )
    assert "None" not in err


@pytest.fixture
def design_db(sqlite_url: str) -> str:
    eng = make_engine(sqlite_url)
    migrate(eng)
    seed_store(eng)
    eng.dispose()
    return sqlite_url


def _model_names(url: str) -> list[str]:
    eng = make_engine(url)
    try:
        return [s.model.name for s in svc.list_models(eng)]
    finally:
        eng.dispose()


def test_design_checks_out_before_the_search_and_saves_nothing(
    design_db: str, afile: Path, tmp_path: Path
) -> None:
    result = _run(design_db, *DESIGN, "--out", str(afile))
    assert result.exit_code == 2, result.output
    assert f"error: --out {afile} names a file" in _flat(result.stderr)
    assert "Model north-east" not in result.stdout
    assert _model_names(design_db) == []
    # the re-run with a folder is not stopped by a half-made model
    again = _run(design_db, *DESIGN, "--out", str(tmp_path / "out"))
    assert again.exit_code == 0, again.output
    assert (tmp_path / "out" / "assignments.csv").stat().st_size > 0
    assert _model_names(design_db) == ["north-east"]


def test_design_prints_the_infeasibility_diagnosis_once(design_db: str) -> None:
    result = _run(
        design_db,
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
    )
    assert result.exit_code == 3
    err = _flat(result.stderr)
    assert err.count("Provable lower bound on the population tolerance: 87.07%") == 1
    assert err.count("Middlesex") == 1
    assert "error: no plan meets every tolerance (why: above). Tolerance reached" in (
        err
    )
    assert "--oversize own-territory" in err
    assert err.index("Provable lower bound") < err.index("error:")
    assert _model_names(design_db) == []


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_design_time_limit_must_be_positive(store: str, limit: str) -> None:
    result = _run(
        store, "design", "--model", "m", "--balance", "population=0.1",
        "--time-limit", limit,
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"error: --time-limit must be > 0 seconds (got {limit})" in _flat(
        result.stderr
    )
    assert "time_limit_s" not in result.output


def test_activating_the_active_model_is_a_no_op(store: str) -> None:
    eng = make_engine(store)
    before = svc.show_model(eng, "FY27").model
    result = _run(store, "model", "activate", "FY27")
    assert result.exit_code == 0, result.output
    assert _flat(result.stdout) == (
        "Model 'FY27' is already the active model; nothing to change."
    )
    after = svc.show_model(eng, "FY27").model
    eng.dispose()
    assert after == before


def test_archiving_an_archived_model_is_a_no_op(store: str) -> None:
    assert _run(store, "model", "archive", "FY27").exit_code == 0
    result = _run(store, "model", "archive", "FY27")
    assert result.exit_code == 0, result.output
    assert "Model 'FY27' is already archived; nothing to change." in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["model", "list"],
        ["model", "show"],
        ["data", "summary"],
        ["metrics"],
        ["size"],
        ["rules", "lint"],
        ["explain", "A1"],
        ["export", "accounts", "{tmp}/a.csv"],
        ["report", "--out", "{tmp}/report"],
    ],
)
def test_read_only_commands_refuse_a_missing_sqlite_file(
    tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "typo" / "dir" / "x.db"
    result = _run(f"sqlite:///{path}", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert f"error: No store at {path}: the file does not exist" in _flat(result.stderr)
    assert not (tmp_path / "typo").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--out", "/proc/territory-r"],
        ["compare", "FY27", "FY27", "--out", "/proc/territory-c"],
        ["rules", "export", "/proc/territory-rr", "--model", "FY27"],
        ["metrics", "--out", "/proc/territory-m.csv"],
    ],
)
def test_output_where_no_folder_can_be_made_exits_2_before_any_work(
    store: str, args: list[str]
) -> None:
    result = _run(store, *args)
    assert result.exit_code == 2, result.output
    err = _flat(result.stderr)
    assert "/proc does not accept new files (No such file or directory)" in err
    assert "internal error" not in err and "Traceback" not in result.output
    assert "Measur" not in result.stderr


def test_design_into_a_folder_that_cannot_be_made_saves_nothing(design_db: str) -> None:
    result = _run(design_db, *DESIGN, "--out", "/proc/territory-design")
    assert result.exit_code == 2, result.output
    assert "Cannot create /proc/territory-design for --out" in _flat(result.stderr)
    assert _model_names(design_db) == []


def test_a_store_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("hello\n")
    folder = tmp_path / "folder.db"
    folder.mkdir()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    got = _run(f"sqlite:///{text}", "model", "list")
    assert got.exit_code == 2, got.output
    assert f"error: {text} is not a territory store: it is not a SQLite database" in (
        _flat(got.stderr)
    )
    assert text.read_text() == "hello\n"
    got = _run(f"sqlite:///{folder}", "model", "list")
    assert got.exit_code == 2, got.output
    assert f"error: --db names the folder {folder}; give the store's file" in (
        _flat(got.stderr)
    )
    # a read-only command leaves an empty file empty; a writing one makes a store
    got = _run(f"sqlite:///{empty}", "model", "list")
    assert got.exit_code == 2, got.output
    assert f"error: No store at {empty}: the file is empty." in _flat(got.stderr)
    assert empty.stat().st_size == 0
    made = _run(f"sqlite:///{empty}", "model", "create", "FY28")
    assert made.exit_code == 0, made.output
    assert _model_names(f"sqlite:///{empty}") == ["FY28"]
    for res in (got, made):
        assert "Traceback" not in res.output and "internal error" not in res.stderr
