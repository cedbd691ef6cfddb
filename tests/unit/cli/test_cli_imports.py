"""Starting the command line imports no heavy library until a command needs it.

Every command pays for what ``import territory.cli`` loads, because Typer
needs every command registered before it can dispatch one; command modules
therefore import their services (and polars, SciPy, Numba, shapely...)
inside the command functions. Checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "matplotlib",
    "numba",
    "numpy",
    "polars",
    "pyarrow",
    "scipy",
    "shapely",
    "sqlalchemy",
)

#: The only service modules starting may load: the entity names the import
#: and export commands list in their help (io.schema, standard library only).
LIGHT_SERVICES = ["territory.services", "territory.services.entity_files"]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import json, sys; import territory.cli; "
        f"print(json.dumps([[m for m in {list(HEAVY)!r} if m in sys.modules], "
        "sorted(m for m in sys.modules if m.startswith('territory.services'))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    heavy, services = json.loads(done.stdout)
    assert heavy == []
    assert services == LIGHT_SERVICES


def test_every_command_is_still_registered() -> None:
    from typer.main import get_command

    from territory.cli import app

    root = get_command(app)
    names = set(root.commands)  # type: ignore[attr-defined]
    assert {"metrics", "size", "staff", "quota", "compare", "report", "design",
            "data", "rules", "model", "assign", "explain", "import",
            "export"} <= names  # fmt: skip
