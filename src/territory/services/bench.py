"""Solving a published benchmark instance (``territory bench solve``).

The instance is read from its file and solved by the design engine alone; no
store is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["solve_benchmark"]


def solve_benchmark(
    path: Path,
    *,
    time_limit_s: float,
    seed: int,
    p: int | None,
    labels_out: Path | None,
) -> dict[str, Any]:
    """Solve the dtdp GraphML or commdis instance at ``path`` and score it.

    Parameters
    ----------
    time_limit_s
        Seconds of solving, counted after the file is parsed.
    p
        Number of territories; ``None`` takes the instance's own.
    labels_out
        Where to write the labels (one line, in unit order), if anywhere.

    Returns
    -------
    dict
        The one JSON object ``territory bench solve`` prints.

    Raises
    ------
    InputError
        When the file cannot be read as an instance.
    """
    from territory.optimize.bench import solve_instance

    return solve_instance(
        path, time_limit_s=time_limit_s, seed=seed, p=p, labels_out=labels_out
    )
