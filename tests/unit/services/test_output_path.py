"""Output folders and files are checked without creating anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from territory.errors import InputError
from territory.services.output_path import check_output_file, check_output_folder


def test_a_missing_folder_under_a_folder_passes_and_is_not_made(
    tmp_path: Path,
) -> None:
    target = tmp_path / "a" / "b"
    assert check_output_folder(target) == target
    assert check_output_file(target / "x.csv") == target / "x.csv"
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_passes_as_a_folder(tmp_path: Path) -> None:
    assert check_output_folder(tmp_path) == tmp_path


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(InputError, match="names a file; give a folder") as ei:
        check_output_folder(afile)
    assert ei.value.code == "bad_output"
    assert ei.value.details == {"path": str(afile)}
    assert ei.value.exit_code == 2


@pytest.mark.parametrize("check", [check_output_folder, check_output_file])
def test_a_path_inside_a_file_names_the_file(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    afile = tmp_path / "afile"
    afile.write_text("x")
    target = afile / "deeper" / "x.csv"
    with pytest.raises(InputError) as ei:
        check(target, "PATH")
    assert ei.value.code == "bad_output"
    assert f"{afile} is a file; give another PATH." in ei.value.message
    assert ei.value.details["file"] == str(afile)
    assert afile.read_text() == "x"


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="names a folder; give a file name") as ei:
        check_output_file(tmp_path, "FILE")
    assert ei.value.message.startswith(f"FILE {tmp_path} names a folder")


def test_a_folder_that_takes_no_new_entries_is_refused() -> None:
    """``/proc`` refuses every new entry, for an administrator too."""
    with pytest.raises(InputError) as ei:
        check_output_folder("/proc/territory-out")
    assert ei.value.code == "bad_output"
    assert ei.value.message == (
        "Cannot create /proc/territory-out for --out /proc/territory-out: /proc "
        "does not accept new files (No such file or directory); give another --out."
    )
    with pytest.raises(
        InputError, match="Cannot write into /proc for FILE /proc/x.csv"
    ):
        check_output_file("/proc/x.csv", "FILE")
    with pytest.raises(InputError, match="Cannot write into /proc .--out.: /proc does"):
        check_output_folder("/proc")


def test_the_probe_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("x")
    assert check_output_folder(tmp_path) == tmp_path
    assert check_output_file(tmp_path / "new" / "m.csv") == tmp_path / "new" / "m.csv"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]
