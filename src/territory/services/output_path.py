"""Where a command writes: check an output folder or file before any work starts.

A command that searches for a plan for a minute, or saves a model, and only
then finds that its ``--out`` names a file would waste the run or leave a
saved model behind. These checks leave nothing behind: a folder's
writability is probed by making and removing an empty folder in it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from territory.errors import InputError

__all__ = ["check_output_file", "check_output_folder"]


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """Return ``path`` if files can be written into it (made if missing).

    ``option`` names the argument in messages (``--out``, ``PATH``).

    Raises
    ------
    InputError
        When ``path`` is a file, lies inside a file, or its nearest existing
        folder cannot be written (code ``bad_output``).

    Examples
    --------
    >>> check_output_folder("no/such/folder").as_posix()
    'no/such/folder'
    """
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise InputError(
                f"{option} {folder} names a file; give a folder (the files are "
                "written inside it).",
                code="bad_output",
                details={"path": str(folder)},
            )
        _check_writable(folder, folder, option, f"write into {folder}")
        return folder
    _check_parents(folder, folder, option)
    return folder


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """Return ``path`` if a file can be written there (its folders made if missing).

    Raises
    ------
    InputError
        When ``path`` is a folder, lies inside a file, or cannot be written
        (code ``bad_output``).

    Examples
    --------
    >>> check_output_file("no/such/folder/metrics.csv").as_posix()
    'no/such/folder/metrics.csv'
    """
    file = Path(path)
    if file.is_dir():
        raise InputError(
            f"{option} {file} names a folder; give a file name, e.g. "
            f"{file / 'out.csv'}.",
            code="bad_output",
            details={"path": str(file)},
        )
    if file.exists():
        if not os.access(file, os.W_OK):
            raise InputError(
                f"Cannot overwrite {file}: permission denied; give another {option}.",
                code="bad_output",
                details={"path": str(file)},
            )
        return file
    _check_parents(file.parent, file, option)
    return file


def _check_parents(folder: Path, target: Path, option: str) -> None:
    """Check that ``folder`` (missing) can be made: its nearest ancestor is a folder."""
    for ancestor in (folder, *folder.parents):
        if ancestor.is_dir():
            action = (
                f"write into {folder}" if ancestor == folder else f"create {folder}"
            )
            _check_writable(ancestor, target, option, action)
            return
        if ancestor.exists() or ancestor.is_symlink():
            raise InputError(
                f"Cannot create the folder {folder} for {option} {target}: "
                f"{ancestor} is a file; give another {option}.",
                code="bad_output",
                details={"path": str(target), "file": str(ancestor)},
            )


def _check_writable(folder: Path, target: Path, option: str, action: str) -> None:
    """Probe ``folder`` by making and removing a folder in it.

    A permission test alone passes for an administrator and on file systems
    that refuse every new entry (``/proc``), so the probe asks the system.
    """
    try:
        probe = tempfile.mkdtemp(prefix=".territory-probe-", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f"({option})" if target == folder else f"for {option} {target}"
        raise InputError(
            f"Cannot {action} {where}: {folder} does not accept new files "
            f"({reason}); give another {option}.",
            code="bad_output",
            details={"path": str(target), "folder": str(folder), "reason": reason},
        ) from None
    os.rmdir(probe)
