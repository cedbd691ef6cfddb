"""The import contracts in pyproject.toml hold (STYLE.md section 3).

``lint-imports`` is run from the environment's own scripts folder, once on
the repository and once on a copy with one forbidden import added, so a
contract that can no longer fail does not pass unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(project: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(project / "pyproject.toml")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_import_contracts_hold_on_the_repository() -> None:
    done = _lint_imports(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        (
            "domain/account.py",
            "import territory.services.store",
            "Edges depend on the core, never the reverse",
        ),
        (
            "metrics/balance.py",
            "import territory.domain.ids",
            "Edges depend on the core, never the reverse",
        ),
        (
            "cli/bench.py",
            "import territory.optimize.bench",
            "cli reaches storage, io, rules, metrics and optimize only through "
            "services",
        ),
        (
            "rules/engine.py",
            "import territory.storage.tables",
            "Edges depend on the core, never the reverse",
        ),
        (
            "domain/ids.py",
            "import numpy",
            "errors and domain import only the standard library (and errors)",
        ),
    ],
)
def test_import_contracts_fail_on_a_forbidden_import(
    tmp_path: Path, module: str, statement: str, broken: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "territory",
        src / "territory",
        ignore=shutil.ignore_patterns("__pycache__", "migrations"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "territory" / module
    target.write_text(f"{target.read_text()}\n{statement}\n")

    done = _lint_imports(tmp_path, src)

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{broken} BROKEN" in done.stdout
